"""BatchingTransport.close(): the transport's POSTs and linger timer never outlive it."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping

import orjson
import pytest

from collector.clock import ManualClock
from collector.graph.batch import BatchingTransport
from collector.graph.transport import GraphRequest, GraphResponse

START = dt.datetime(2025, 11, 20, 20, 0, tzinfo=dt.UTC)
BATCH_TASKS = ("batch-post", "batch-linger")


def request(n: int) -> GraphRequest:
    return GraphRequest(f"{n}/insights", (("metric", "reach"),), f"EAAtoken{n}")


def batch_tasks() -> list[str]:
    return [t.get_name() for t in asyncio.all_tasks() if t.get_name() in BATCH_TASKS]


async def settle() -> None:
    """Let every ready task run (the injected clock does not move)."""
    for _ in range(10):
        await asyncio.sleep(0)


class Poster:
    """Answers every item of a POST with 200, or (``hang``) holds each POST until cancelled."""

    def __init__(self, *, hang: bool) -> None:
        self.hang = hang
        self.posts = 0
        self.cancelled = 0

    async def post_form(self, path: str, form: Mapping[str, str]) -> GraphResponse:
        self.posts += 1
        items = orjson.loads(form["batch"])
        if self.hang:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        body = orjson.dumps({"data": []}).decode()
        return GraphResponse(200, [{"code": 200, "headers": [], "body": body} for _ in items])


async def test_close_ends_the_linger_timer_before_it_returns() -> None:
    """close() sends what lingers, answers its sender, and returns with no batch task left."""
    transport = BatchingTransport(Poster(hang=False), batch_size=10, clock=ManualClock(START))
    sender = asyncio.create_task(transport.send(request(1)))
    await settle()
    assert batch_tasks() == ["batch-linger"]  # one request waits on the injected clock
    await transport.close()
    assert batch_tasks() == []
    assert (await sender).status == 200


async def test_close_cancelled_cancels_every_post_and_ends_them_first() -> None:
    """A cancel of close() while POSTs hang cancels them (their senders see the cancel) and
    propagates only once every POST and the linger timer have ended."""
    poster = Poster(hang=True)
    transport = BatchingTransport(poster, batch_size=2, clock=ManualClock(START))
    senders = [asyncio.create_task(transport.send(request(n))) for n in range(3)]
    await settle()  # two went out in a full POST; the third lingers
    closing = asyncio.create_task(transport.close())
    await settle()  # close() sent the third in a POST of its own
    assert poster.posts == 2
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert batch_tasks() == [] and poster.cancelled == 2
    results = await asyncio.gather(*senders, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
