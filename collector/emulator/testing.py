"""Run the emulator inside a test: in the test's event loop, or in a thread for sync clients.

Async tests::

    async with running_emulator(scenario, clock=FixedClock(NOW)) as emu:
        ...  # emu.base_url, emu.calls, emu.state

Sync tests (pyfacebook and facebook-business use ``requests``)::

    with emulator_in_thread(scenario, clock=FixedClock(NOW)) as emu:
        ...

Both serve on 127.0.0.1 on a free port and stop (cancelling stalled answers)
when the block ends. In the thread variant, ``emu.state.faults.inject`` and the
:class:`~collector.emulator.clock.FixedClock` are safe to use from the test's
thread, and the call log may be read at any time; anything else on
``emu.state`` belongs to the emulator's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

from collector.emulator.calllog import CallLog
from collector.emulator.clock import EmulatorClock
from collector.emulator.scenario import Scenario
from collector.emulator.server import EmulatorState, start_server

START_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RunningEmulator:
    """A serving emulator: where it listens and the state it serves."""

    base_url: str
    state: EmulatorState

    @property
    def calls(self) -> CallLog:
        return self.state.calls

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])


@asynccontextmanager
async def running_emulator(
    scenario: Scenario | None = None,
    *,
    clock: EmulatorClock | None = None,
    seed: int | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> AsyncIterator[RunningEmulator]:
    """Serve ``scenario`` (default: the built-in one) in the running loop until the block ends."""
    state = EmulatorState.create(scenario, clock=clock, seed=seed)
    runner, base_url = await start_server(state, host, port)
    try:
        yield RunningEmulator(base_url=base_url, state=state)
    finally:
        await runner.cleanup()


@contextmanager
def emulator_in_thread(
    scenario: Scenario | None = None,
    *,
    clock: EmulatorClock | None = None,
    seed: int | None = None,
) -> Iterator[RunningEmulator]:
    """Serve ``scenario`` from a background thread with its own event loop (for sync clients).

    Raises whatever starting the server raised, or ``TimeoutError`` if it did not
    start within ``START_TIMEOUT_S``.
    """
    ready = threading.Event()
    started: list[RunningEmulator] = []
    failed: list[BaseException] = []
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        try:
            async with running_emulator(scenario, clock=clock, seed=seed) as emu:
                started.append(emu)
                ready.set()
                await stop.wait()
        except BaseException as exc:  # handed to the test's thread below
            failed.append(exc)
            ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve())
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="ig-emulator", daemon=True)
    thread.start()
    try:
        if not ready.wait(START_TIMEOUT_S):
            raise TimeoutError("the emulator did not start in time")
        if failed:
            raise failed[0]
        yield started[0]
    finally:
        with contextlib.suppress(RuntimeError):  # the loop already ended (start failed)
            loop.call_soon_threadsafe(stop.set)
        thread.join(START_TIMEOUT_S)
