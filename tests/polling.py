"""Waiting, in tests, for what also runs in another thread (SQLite's): poll a condition briefly."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

_STEP_S = 0.005


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Let the loop (and SQLite's thread) run until ``condition`` holds, for at most ``seconds``."""
    for _ in range(int(seconds / _STEP_S)):
        if condition():
            return
        await asyncio.sleep(_STEP_S)
    raise AssertionError("condition never held")
