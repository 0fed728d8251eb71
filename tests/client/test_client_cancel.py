"""The library call's windows run in a TaskGroup: a cancel or a failure leaves none running."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from collector import InsightsClient
from collector.client.client import WINDOW_TASK
from collector.errors import InvalidRequest
from collector.graph.transport import GraphRequest, GraphResponse

LA = ZoneInfo("America/Los_Angeles")
ACCOUNT = "17841400000000001"
# 120 days: five windows of at most 30 days
SINCE = int(dt.datetime(2025, 8, 1, tzinfo=LA).timestamp())
UNTIL = int(dt.datetime(2025, 11, 29, tzinfo=LA).timestamp())
WINDOWS = 5


class HeldWindows:
    """A Transport that answers the oldest window with ``first`` and holds the others until
    they are cancelled; it records every window sent and every one cancelled."""

    def __init__(self, first: GraphResponse) -> None:
        self.first = first
        self.sent: list[str] = []
        self.cancelled: list[str] = []

    async def send(self, request: GraphRequest) -> GraphResponse:
        since = dict(request.params)["since"]
        self.sent.append(since)
        if since == str(SINCE):
            await asyncio.sleep(0)
            return self.first
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.append(since)
            raise
        raise AssertionError("unreachable")


def window_tasks() -> list[str]:
    return [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith(WINDOW_TASK)]


async def all_sent(transport: HeldWindows) -> None:
    """Let the call run until every window has been sent (the budget spaces them in real time)."""
    for _ in range(500):
        if len(transport.sent) == WINDOWS and len(window_tasks()) == WINDOWS - 1:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"sent {transport.sent}")


def client(transport: HeldWindows) -> InsightsClient:
    return InsightsClient(
        access_token="EAAtoken",
        api_version="v17.0",
        calls_per_hour=3_600_000,
        concurrency=8,
        transport=transport,
    )


async def test_a_cancelled_call_leaves_no_window_running_and_sends_each_once() -> None:
    """Cancelling a split call mid-way cancels and awaits every held window: no window task is
    left, each window went out once, and nothing is sent after the cancel."""
    transport = HeldWindows(GraphResponse(200, {"data": []}))
    call = asyncio.create_task(
        client(transport).get_user_insights(ACCOUNT, "day", "reach", since=SINCE, until=UNTIL)
    )
    await all_sent(transport)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    assert window_tasks() == []
    assert set(Counter(transport.sent).values()) == {1}
    assert sorted(transport.cancelled) == sorted(transport.sent)[1:]  # all but the answered one
    await asyncio.sleep(0.05)
    assert len(transport.sent) == WINDOWS


async def test_a_failing_window_cancels_the_others_and_raises_its_own_error() -> None:
    """The first window's refusal is raised as itself (no ExceptionGroup) once the other
    windows have been cancelled and have ended."""
    refusal = {"error": {"code": 100, "message": "(#100) bad metric", "fbtrace_id": "T"}}
    transport = HeldWindows(GraphResponse(400, refusal))
    call = asyncio.create_task(
        client(transport).get_user_insights(ACCOUNT, "day", "reach", since=SINCE, until=UNTIL)
    )
    with pytest.raises(InvalidRequest, match="bad metric"):
        await call
    assert window_tasks() == []
    assert sorted(transport.cancelled) == sorted(transport.sent)[1:]
