"""The floor client: the peers' requests from a bare aiohttp loop, parsed, nothing written.

The floor of any asyncio client that understands the answer (issue 17): the same
requests and concurrency as the peers, one aiohttp session with a keep-alive pool
of ``concurrency`` connections, ``orjson.loads`` of each body, no retry, no sink.
Run through ``clients.py floor``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from collector.planning.planner import PlannedRequest


def values_in(body: dict[str, Any]) -> int:
    """The values of an insights answer, counted as :func:`write_lines` counts lines."""
    count = 0
    for entry in body.get("data", []):
        for item in entry.get("values", []):
            value = item["value"]
            count += len(value) if isinstance(value, dict) else 1
    return count


def run_floor(
    base_url: str,
    requests: list[PlannedRequest],
    concurrency: int,
    params_of: Callable[[PlannedRequest], dict[str, str]],
) -> int:
    """The peers' requests from ``concurrency`` asyncio tasks on one aiohttp session
    (a keep-alive pool of ``concurrency`` connections); each answer parsed with
    ``orjson.loads`` and its values counted (``params_of``: the query of a request), nothing written, no retry. Returns the
    values seen. An error answer stops the run: a floor that skips work is no floor."""
    import aiohttp
    import orjson

    async def job() -> int:
        todo = iter(requests)  # shared: each task takes the next request when it is free
        seen = [0]
        connector = aiohttp.TCPConnector(limit=concurrency)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def worker() -> None:
                for request in todo:
                    url = f"{base_url}/v17.0/{request.account_id}/insights"
                    params = params_of(request)
                    async with session.get(url, params=params) as response:
                        body = orjson.loads(await response.read())
                    if response.status != 200:
                        raise RuntimeError(f"HTTP {response.status} for {request.account_id}")
                    seen[0] += values_in(body)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return seen[0]

    return asyncio.run(job())
