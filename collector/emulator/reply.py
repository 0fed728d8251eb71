"""Sending an answer: orjson bodies as ``application/json``, latency and transport faults.

Step 6 of the server's pipeline (:mod:`collector.emulator.server`), kept apart so the
route table stays readable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from collector.emulator import faults

if TYPE_CHECKING:
    from collector.emulator.server import EmulatorState


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON answer encoded with orjson, ``Content-Type: application/json``."""
    response = web.Response(status=status, body=orjson.dumps(body), headers=dict(headers or {}))
    response.content_type = "application/json"
    return response


async def send(
    request: web.Request,
    state: EmulatorState,
    status: int,
    body: Any,
    headers: Mapping[str, str],
    transport_fault: str | None,
) -> web.StreamResponse:
    """Step 6: latency, then the answer as the transport fault (if any) bends it."""
    state.in_flight += 1
    try:
        wait = state.latency_s()
        if wait > 0:
            await asyncio.sleep(wait)
        if transport_fault == "slow":
            await faults.stall(state.scenario.faults.slow_s)
        if transport_fault == "html_502":
            return faults.html_502()
        payload = orjson.dumps(body)
        if transport_fault == "truncated_json":
            return faults.truncated_json(dict(headers), payload)
        if transport_fault == "drop_mid_body":
            return await faults.drop_mid_body(request, status, dict(headers), payload)
        return json_response(status, body, headers)
    finally:
        state.in_flight -= 1
