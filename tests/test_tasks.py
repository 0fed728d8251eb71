"""Unit tests for collector.tasks: every task started is awaited, failures come out as themselves."""

from __future__ import annotations

import asyncio

import pytest

from collector.tasks import all_or_nothing, beside, first_failure, wait_out


async def settle() -> None:
    """Let every ready task run."""
    for _ in range(5):
        await asyncio.sleep(0)


def running(prefix: str) -> list[str]:
    """Names of the unfinished tasks whose name starts with ``prefix``."""
    return [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith(prefix)]


async def value(n: int, delay: int = 0) -> int:
    for _ in range(delay):
        await asyncio.sleep(0)
    return n


async def forever(log: list[str], name: str) -> None:
    try:
        await asyncio.Event().wait()
    finally:
        log.append(f"{name} ended")


async def test_all_or_nothing_returns_every_result_in_call_order() -> None:
    """The results come back in the order of the calls, not of their ends."""
    assert await all_or_nothing([value(1, 3), value(2, 0), value(3, 1)], name="t") == [1, 2, 3]


async def test_all_or_nothing_raises_the_first_failure_itself_and_cancels_the_rest() -> None:
    """The first failure is raised as itself (no ExceptionGroup) after the others have ended."""
    ended: list[str] = []

    async def fail() -> int:
        await asyncio.sleep(0)
        raise LookupError("window 1")

    async def slow() -> int:
        await forever(ended, "slow")
        return 0

    with pytest.raises(LookupError, match="window 1"):
        await all_or_nothing([slow(), fail()], name="calls")
    assert ended == ["slow ended"] and running("calls-") == []


async def test_all_or_nothing_cancelled_leaves_no_call_running() -> None:
    """Cancelling the caller cancels every call and waits for them before the cancel goes on."""
    ended: list[str] = []
    caller = asyncio.create_task(
        all_or_nothing([forever(ended, "a"), forever(ended, "b")], name="calls")
    )
    await settle()
    assert sorted(running("calls-")) == ["calls-0", "calls-1"]
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert sorted(ended) == ["a ended", "b ended"] and running("calls-") == []


async def test_beside_stops_the_helper_when_main_returns() -> None:
    """main's result comes back once the helper has been cancelled and has ended."""
    ended: list[str] = []
    assert await beside(value(7, 2), forever(ended, "helper"), name="side") == 7
    assert ended == ["helper ended"] and running("side") == []


async def test_beside_raises_mains_error_itself() -> None:
    """An error of main propagates as itself, after the helper has ended."""
    ended: list[str] = []

    async def main() -> None:
        await asyncio.sleep(0)
        raise KeyError("main")

    with pytest.raises(KeyError, match="main"):
        await beside(main(), forever(ended, "helper"), name="side")
    assert ended == ["helper ended"] and running("side") == []


async def test_a_failing_helper_cancels_main_and_is_raised_itself() -> None:
    """A helper's failure cancels main (which cleans up) and propagates as itself."""
    ended: list[str] = []

    async def helper() -> None:
        await asyncio.sleep(0)
        raise OSError("helper broke")

    with pytest.raises(OSError, match="helper broke"):
        await beside(forever(ended, "main"), helper(), name="side")
    assert ended == ["main ended"]


async def test_beside_runs_main_in_the_calling_task() -> None:
    """main sees the caller's task as its current task (a second stop may cancel that task)."""
    caller = asyncio.current_task()

    async def main() -> bool:
        return asyncio.current_task() is caller

    assert await beside(main(), value(0), name="side")


async def test_wait_out_holds_a_cancel_until_its_tasks_have_ended() -> None:
    """A cancelled owner calls on_cancel once, still waits for its tasks, then is cancelled."""
    release = asyncio.Event()
    stubborn = asyncio.create_task(release.wait(), name="owned")
    calls: list[str] = []
    owner = asyncio.create_task(wait_out([stubborn], on_cancel=lambda: calls.append("stop")))
    await settle()
    owner.cancel()
    await settle()
    owner.cancel()  # a second cancel neither calls on_cancel again nor cuts the wait
    await settle()
    assert not owner.done() and calls == ["stop"]
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await owner
    assert stubborn.done() and not stubborn.cancelled()


async def test_wait_out_leaves_results_and_errors_in_the_tasks() -> None:
    """wait_out returns normally whatever its tasks ended with."""

    async def broken() -> None:
        raise ValueError("kept")

    tasks = [asyncio.create_task(value(1)), asyncio.create_task(broken())]
    await wait_out(tasks)
    assert tasks[0].result() == 1
    assert isinstance(tasks[1].exception(), ValueError)


def test_first_failure_reaches_through_nested_groups() -> None:
    """first_failure gives the first leaf error of a group nested in a group, as itself."""
    inner = ValueError("the worker's error")
    nested = BaseExceptionGroup("run", [BaseExceptionGroup("pool", [inner, KeyError("later")])])
    assert first_failure(nested) is inner
