"""The Prometheus figures of a ``daemon`` or ``worker`` process (``/metrics``).

:class:`ProcessMetrics` keeps one :class:`prometheus_client.CollectorRegistry` per
process (not the library's global one, so tests do not share counters). It is
the engine's :class:`~collector.engine.observe.CallObserver`: the caller tells
it of every attempt as it happens. The figures that are a state rather than a
count (lags, queue depth, token expiry, the last cycle, points written) are read
at scrape time from a :class:`Watched` process and the store's
:class:`~collector.planning.vitals.StoreVitals`.

Names follow Prometheus' rules (https://prometheus.io/docs/practices/naming/):
the ``ig_collector_`` prefix, base units (seconds, ratios 0-1), ``_total`` on
counters. Labels carry no token: a token is named by its fingerprint only
(:func:`collector.logs.token_fingerprint`). Above ``lag_series_max`` accounts
the account lag is one histogram instead of a series per account.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from collector.engine.observe import Outcome
from collector.graph.usage import AppUsage
from collector.planning.vitals import StoreVitals

PREFIX = "ig_collector_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# request latencies: from a fast local answer to Meta's slowest insights pages
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# account lag: a day's data is at least a few hours old; days late is the alarm
LAG_BUCKETS = tuple(h * 3600.0 for h in (6, 12, 24, 36, 48, 72, 96, 168, 336))


class Watched(Protocol):
    """What a process tells its ``/metrics`` and ``/readyz`` at each scrape."""

    def points_written(self) -> Mapping[str, int]:
        """Points written since start (new or changed), per sink (``sqlite``, ``ndjson``...)."""

    def token_expiries(self) -> Mapping[str, float]:
        """Per token fingerprint, its expiry in unix seconds (``inf``: never); unknown ones absent."""

    def tokens_dead(self) -> tuple[int, int]:
        """How many of the process's tokens are known dead, out of how many."""

    def last_cycle(self) -> float | None:
        """Unix time the last scheduling cycle ended; ``None``: this process schedules none."""


class ProcessMetrics:
    """The registry and the metrics of one process; see the module docstring."""

    def __init__(self, *, lag_series_max: int = 100) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._requests = Counter(
            f"{PREFIX}requests", "Graph API attempts by what came of them", ["app", "outcome"],
            registry=r,
        )  # fmt: skip
        self._duration = Histogram(
            f"{PREFIX}request_duration_seconds", "Time each attempt was on the wire",
            ["app"], buckets=DURATION_BUCKETS, registry=r,
        )  # fmt: skip
        self._waited = Counter(
            f"{PREFIX}budget_wait_seconds", "Time requests waited for their app's budget",
            ["app"], registry=r,
        )  # fmt: skip
        self._usage = Gauge(
            f"{PREFIX}app_usage_ratio", "Last X-App-Usage reading (1 = Meta's limit)",
            ["app", "kind"], registry=r,
        )  # fmt: skip
        self._points = Counter(
            f"{PREFIX}points_written", "Points written (new or changed) by sink", ["sink"],
            registry=r,
        )  # fmt: skip
        self._points_seen: dict[str, int] = {}
        self._state = _State(lag_series_max)
        r.register(self._state)

    # -- CallObserver --------------------------------------------------------------
    def answered(self, app: str, outcome: Outcome) -> None:
        self._requests.labels(app, outcome).inc()

    def timed(self, app: str, seconds: float) -> None:
        self._duration.labels(app).observe(max(0.0, seconds))

    def budget_waited(self, app: str, seconds: float) -> None:
        if seconds > 0:
            self._waited.labels(app).inc(seconds)

    def usage_read(self, app: str, usage: AppUsage) -> None:
        for kind in ("call_count", "total_time", "total_cputime"):
            self._usage.labels(app, kind).set(getattr(usage, kind) / 100.0)

    # -- scrape time ----------------------------------------------------------------
    def update(self, watched: Watched, vitals: StoreVitals | None, now: float) -> None:
        """Take the figures of ``watched`` and the store's ``vitals`` (``None``: unread)."""
        for sink, total in watched.points_written().items():
            delta = total - self._points_seen.get(sink, 0)
            self._points.labels(sink).inc(max(0, delta))  # a counter never goes back
            self._points_seen[sink] = max(total, self._points_seen.get(sink, 0))
        self._state.take(watched, vitals, now)

    def render(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)


class _State(Collector):
    """The state figures, as they were at the last :meth:`take`."""

    def __init__(self, lag_series_max: int) -> None:
        self._lag_series_max = lag_series_max
        self._vitals: StoreVitals | None = None
        self._expiry: dict[str, float] = {}
        self._cycle: float | None = None
        self._dead = (0, 0)

    def take(self, watched: Watched, vitals: StoreVitals | None, now: float) -> None:
        if vitals is not None:
            self._vitals = vitals
        self._expiry = {fp: at - now for fp, at in watched.token_expiries().items()}
        self._cycle = watched.last_cycle()
        self._dead = watched.tokens_dead()

    def collect(self) -> Iterator[Metric]:
        yield from self._tokens()
        if self._cycle is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}last_cycle_timestamp_seconds",
                "Unix time the last scheduling cycle ended",
                value=self._cycle,
            )
        if self._vitals is None:
            return
        depth = GaugeMetricFamily(
            f"{PREFIX}queue_depth", "Requests in the store's queue", labels=["kind"]
        )
        for kind, value in sorted(self._vitals.queue.items()):
            depth.add_metric([kind], value)
        yield depth
        yield self._lag(self._vitals.lags)

    def _tokens(self) -> Iterator[Metric]:
        expiry = GaugeMetricFamily(
            f"{PREFIX}token_expiry_seconds",
            "Seconds until each token expires (+Inf: never; negative: expired)",
            labels=["token_fingerprint"],
        )
        for fingerprint, left in sorted(self._expiry.items()):
            expiry.add_metric([fingerprint], left)
        yield expiry
        dead, total = self._dead
        yield GaugeMetricFamily(f"{PREFIX}tokens_dead", "Tokens known dead", value=dead)
        yield GaugeMetricFamily(f"{PREFIX}tokens", "Tokens the process sends with", value=total)

    def _lag(self, lags: Mapping[str, float | None]) -> Metric:
        name = f"{PREFIX}account_lag_seconds"
        doc = "Age of each account's newest complete day"
        known = {a: lag for a, lag in lags.items() if lag is not None}
        if len(lags) <= self._lag_series_max:
            gauge = GaugeMetricFamily(name, doc, labels=["account"])
            for account, lag in sorted(known.items()):
                gauge.add_metric([account], lag)
            return gauge
        buckets = [
            (_bound(b), sum(1 for lag in known.values() if lag <= b))
            for b in (*LAG_BUCKETS, math.inf)
        ]
        return HistogramMetricFamily(
            name, doc + " (over all accounts)", buckets=buckets, sum_value=sum(known.values())
        )


def _bound(value: float) -> str:
    return "+Inf" if math.isinf(value) else repr(value)
