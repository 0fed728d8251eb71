"""The engine's window for a watcher: what each attempt on the wire came to.

:class:`CallObserver` is the seam. The caller and the pool tell it what happens
to every Graph request (its outcome, how long the answer took, how long the app's
budget held it, the usage headers read); a watcher in a higher layer (the
daemon's Prometheus metrics, :mod:`collector.daemon.metrics`) implements it, so
nothing below the daemon knows of Prometheus. The default, :data:`NO_OBSERVER`,
does nothing.

Each attempt that went on the wire is counted once, by what came of it:

- ``ok``: an answer with a body;
- ``throttled``: a throttle (app, account or token), after which the request
  waits and goes again;
- ``retried``: any other error after which the request goes again (a rejected
  metric splits its request: the halves go again);
- ``failed``: an error that ended the request.
"""

from __future__ import annotations

from typing import Literal, Protocol

from collector.errors import Scope
from collector.graph.usage import AppUsage
from collector.pacing.retry import Action, Decision

Outcome = Literal["ok", "retried", "throttled", "failed"]


class CallObserver(Protocol):
    """Told of every attempt; each method returns nothing and must not raise or block."""

    def answered(self, app: str, outcome: Outcome) -> None:
        """One attempt of ``app`` ended as ``outcome`` (see the module docstring)."""

    def timed(self, app: str, seconds: float) -> None:
        """One attempt of ``app`` was on the wire for ``seconds`` (answered or not)."""

    def budget_waited(self, app: str, seconds: float) -> None:
        """A request of ``app`` waited ``seconds`` for its budget before it could go."""

    def usage_read(self, app: str, usage: AppUsage) -> None:
        """An answer of ``app`` carried this ``X-App-Usage`` reading."""


class _Nobody:
    """The observer when nobody watches."""

    def answered(self, app: str, outcome: Outcome) -> None:
        pass

    def timed(self, app: str, seconds: float) -> None:
        pass

    def budget_waited(self, app: str, seconds: float) -> None:
        pass

    def usage_read(self, app: str, usage: AppUsage) -> None:
        pass


NO_OBSERVER: CallObserver = _Nobody()


def outcome_of(decision: Decision) -> Outcome:
    """The outcome of an attempt whose error led to ``decision``."""
    if decision.action is not Action.RETRY:
        return "failed"
    return "retried" if decision.scope is Scope.REQUEST else "throttled"
