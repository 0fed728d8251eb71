"""How a running daemon is told to stop, reload or look again: its signals, as events.

:class:`Controls` is the daemon's switchboard: SIGTERM/SIGINT call
:meth:`request_stop` (a second one cancels the main task at once), SIGHUP
:meth:`request_reload`; both also stop a history run in progress
(``_run_stop``) and wake a napping loop (``_wakeup``). The daemon's loop reads
the flags between its steps.
"""

from __future__ import annotations

import asyncio
import signal

import structlog

log = structlog.get_logger("collector.daemon.service")

__all__ = ["Controls"]


class Controls:
    """Stop, reload and wake requests; the base of :class:`collector.daemon.service.Daemon`."""

    def __init__(self, grace_s: float) -> None:
        self._grace_s = grace_s
        self._stopping = False
        self._reload_requested = False
        self._stop = asyncio.Event()
        self._wakeup = asyncio.Event()
        self._run_stop: asyncio.Event | None = None
        self._main: asyncio.Task[object] | None = None

    def request_stop(self) -> None:
        """Stop taking work and return after committing (a second call cancels at once)."""
        if self._stopping and self._main is not None:
            log.warning("daemon_cancelled", reason="second stop request")
            self._main.cancel()
            return
        self._stopping = True
        log.info("daemon_stopping", grace_s=self._grace_s)
        self._stop.set()
        if self._run_stop is not None:
            self._run_stop.set()
        self._wakeup.set()

    def request_reload(self) -> None:
        """Reload the config before the next run (a history run in progress stops early)."""
        self._reload_requested = True
        if self._run_stop is not None:
            self._run_stop.set()
        self._wakeup.set()

    def wake(self) -> None:
        """Look at the clock again now (tests that move it by hand; a leadership change)."""
        self._wakeup.set()

    def install_signals(self) -> None:
        """SIGTERM and SIGINT stop, SIGHUP reloads (call from inside the running loop)."""
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.request_stop)
        loop.add_signal_handler(signal.SIGINT, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
