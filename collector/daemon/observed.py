"""What a running daemon shows its watchers: the ``stats`` event, ``/metrics`` and ``/readyz``.

:class:`Observed` is a base of :class:`collector.daemon.service.Daemon` (as
:class:`~collector.daemon.controls.Controls` is): it reads the daemon's state,
never changes it, and serves the endpoint (:mod:`collector.daemon.endpoint`) as
one more task of the daemon's background TaskGroup.
"""

from __future__ import annotations

from collections.abc import Mapping

from collector.clock import Clock
from collector.config.load import Config
from collector.daemon.account_book import AccountBook
from collector.daemon.endpoint import Served, serve_endpoint
from collector.daemon.metrics import ProcessMetrics
from collector.daemon.runtime_slot import RuntimeSlot
from collector.daemon.stats import DaemonCounters, stats_fields
from collector.engine.jobs import store_address
from collector.engine.run import LiveRun
from collector.logs import token_fingerprint

__all__ = ["Observed", "points_by_sink"]


def points_by_sink(config: Config, points: int, *, ndjson: bool) -> dict[str, int]:
    """``points`` written under each sink's name: the store's kind, and ``ndjson``
    when the process also appends them to NDJSON files."""
    store = "postgresql" if store_address(config).shared else "sqlite"
    return {store: points, "ndjson": points} if ndjson else {store: points}


class Observed:
    """The daemon as :class:`~collector.daemon.metrics.Watched`, and its ``stats``."""

    _config: Config
    _clock: Clock
    _counters: DaemonCounters
    _live: LiveRun | None
    _book: AccountBook
    _runtime: RuntimeSlot
    _started: float
    metrics: ProcessMetrics
    last_cycle_at: float | None  # unix time the last scheduling step ended

    def stats(self) -> dict[str, object]:
        """The fields of the ``stats`` event, now (see :mod:`collector.daemon.stats`)."""
        paused = set(self._book.paused(self._config.accounts))
        active = [a.id for a in self._config.accounts if a.id not in paused]
        now = self._clock.now().timestamp()
        return stats_fields(
            self._counters,
            self._live,
            lags_s=self._book.lags(active, now, self._started),
            paused=len(paused),
            accounts=len(self._config.accounts),
            usage_pct=self._runtime.usage_pct(),
        )

    def points_written(self) -> Mapping[str, int]:
        points = self._counters.points
        if self._live is not None:
            points += self._live.writer.stats.points_written
        writes_ndjson = self._config.output.ndjson is not None
        return points_by_sink(self._config, points, ndjson=writes_ndjson and not self._shared())

    def token_expiries(self) -> Mapping[str, float]:
        return dict(self._book.expiries)

    def tokens_dead(self) -> tuple[int, int]:
        tokens = {token_fingerprint(a.token) for a in self._config.accounts}
        return len(tokens & self._book.dead_tokens), len(tokens)

    def last_cycle(self) -> float | None:
        return self.last_cycle_at

    def _shared(self) -> bool:
        return store_address(self._config).shared

    async def _serve_endpoint(self) -> None:
        """``/metrics``, ``/healthz`` and ``/readyz`` until the daemon's background ends."""
        served = Served(
            self.metrics,
            self,
            lambda: self._config,
            self._clock,
            self._started,
            lambda: self._config.daemon.refresh_interval_s,
        )
        await serve_endpoint(served, self._config.daemon.metrics_address)


class WorkerWatch:
    """A ``worker`` as :class:`~collector.daemon.metrics.Watched`: its one run's points.

    A worker schedules nothing and checks no token, so ``/readyz`` judges its store alone.
    """

    def __init__(self, config: Config) -> None:
        self._config = config
        self.live: LiveRun | None = None  # set by run_once's ``watch``

    def watch(self, live: LiveRun) -> None:
        self.live = live

    def points_written(self) -> Mapping[str, int]:
        points = 0 if self.live is None else self.live.writer.stats.points_written
        return points_by_sink(self._config, points, ndjson=False)  # workers write the store only

    def token_expiries(self) -> Mapping[str, float]:
        return {}

    def tokens_dead(self) -> tuple[int, int]:
        return 0, 0

    def last_cycle(self) -> float | None:
        return None


def worker_served(config: Config, clock: Clock, watch: WorkerWatch) -> Served:
    """What a worker's endpoint serves (its metrics observe the caller it is given)."""
    metrics = ProcessMetrics(lag_series_max=config.daemon.lag_series_max)
    return Served(metrics, watch, lambda: config, clock, clock.now().timestamp(), lambda: None)
