"""The process settings of a long job: the event loop picked and the GC's thresholds."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
from collections.abc import Iterator

import pytest

from collector.engine import speed


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_the_environment_can_turn_uvloop_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """IG_COLLECTOR_LOOP=asyncio means asyncio's own loop, whatever is installed."""
    monkeypatch.setenv("IG_COLLECTOR_LOOP", "asyncio")
    assert speed.loop_factory() is None


def test_run_uses_uvloop_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """speed.run runs the coroutine on uvloop if the [fast] extra is there, else on asyncio."""
    monkeypatch.delenv("IG_COLLECTOR_LOOP", raising=False)

    async def which() -> str:
        return speed.loop_name()

    expected = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    assert speed.run(which()) == expected


def test_loop_name_of_asyncio_s_loop() -> None:
    loop = asyncio.new_event_loop()
    try:
        assert speed.loop_name(loop) == "asyncio"
    finally:
        loop.close()


@pytest.mark.usefixtures("restored_gc")
def test_a_job_that_ends_freezes_and_raises_the_first_threshold() -> None:
    speed.tune_gc()
    assert gc.get_freeze_count() > 0 and gc.get_threshold() == speed.GC_THRESHOLDS


@pytest.mark.usefixtures("restored_gc")
def test_a_long_lived_process_freezes_but_keeps_the_thresholds() -> None:
    before = gc.get_threshold()
    speed.tune_gc(long_lived=True)
    assert gc.get_freeze_count() > 0 and gc.get_threshold() == before
