"""The emulator's clock: what "now" is for the data it serves and the limits it keeps.

The emulator reads time in one place, ``clock.now()`` (unix seconds), so a test
that pins the clock pins which days exist, how far "today" has grown and how
much of every rate-limit window has slid by. Waits (latency, the ``slow``
fault) are real ``asyncio.sleep`` calls: they are about the wire, not the data.

:class:`FixedClock` is safe to move from another thread (a sync test driving the
emulator that runs in a background thread): every read and write holds a lock.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class EmulatorClock(Protocol):
    """Wall time as the emulator sees it."""

    def now(self) -> float:
        """Unix seconds (UTC); never raises."""
        ...


class SystemClock:
    """Real wall time (``time.time()``)."""

    def now(self) -> float:
        return time.time()


class FixedClock:
    """A clock pinned to ``at``; with ``advancing=True`` it runs on from there in real time.

    ``set(at)`` jumps to ``at`` (an advancing clock keeps running from the new
    point); ``advance(seconds)`` moves it forward by hand (backward for a
    negative value, which a test may want to replay a day).
    """

    def __init__(self, at: float, advancing: bool = False) -> None:
        self._lock = threading.Lock()
        self._at = float(at)
        self._advancing = advancing
        self._started = time.monotonic()

    @property
    def advancing(self) -> bool:
        return self._advancing

    def now(self) -> float:
        with self._lock:
            if self._advancing:
                return self._at + (time.monotonic() - self._started)
            return self._at

    def set(self, at: float) -> None:
        """Jump to ``at`` unix seconds."""
        with self._lock:
            self._at = float(at)
            self._started = time.monotonic()

    def advance(self, seconds: float) -> None:
        """Move the clock by ``seconds`` (added to whatever it reads now)."""
        with self._lock:
            self._at += float(seconds)
