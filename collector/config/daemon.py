"""The ``[daemon]`` table: how ``ig-collector daemon`` schedules its bounded runs.

Declared as :class:`DaemonTable` (part of :mod:`collector.config.schema`) and read by
:func:`collector.config.load.load_config` into a frozen :class:`DaemonSettings`; every
mistake is reported, located at its key. Keys (all optional)::

    [daemon]
    refresh_interval = "1h"   # each account's recent days are fetched again this often
    lookback = 3              # complete days re-fetched before today's partial one (2..28)
    backfill = "365d"         # history: end_time dates from here ("Nd" or YYYY-MM-DD)
    lifetime_interval = "1d"  # cadence of lifetime metrics (demographics, audience_*)
    stats_interval = "5m"     # period of the ``stats`` log event
    grace_s = 30              # SIGTERM: how long in-flight requests may take to finish
    token_warn_days = 7       # warn this many days before a token expires
    rotate = "day"            # NDJSON files: one per UTC day, or "size:100M"
    metrics_address = "127.0.0.1:9464"  # /metrics, /healthz, /readyz ("": none)
    lag_series_max = 100      # above this many accounts, account lag is a histogram

Durations are a number of seconds or text ``<N>s|m|h|d``; sizes are bytes or
``<N>K|M|G`` (powers of 1024).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import AfterValidator, Field

from collector.config.checks import DateSpec, parse_date_spec
from collector.config.fields import Positive, Strict, bad, parsed
from collector.storage.rotation import Rotation

# SPEC 3: data may lag up to 48 hours, so at least the two complete days before
# today can still change; the 30-day metrics are refused for a since older than
# today - 30 days, so the refresh window stays well inside that.
MIN_LOOKBACK, MAX_LOOKBACK = 2, 28

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)b?\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DaemonSettings:
    """The daemon's schedule; see the module docstring for each key's meaning."""

    refresh_interval_s: float = 3600.0
    lookback_days: int = 3
    backfill: DateSpec = field(default_factory=lambda: DateSpec(days_ago=30))
    lifetime_interval_s: float = 86400.0
    stats_interval_s: float = 300.0
    grace_s: float = 30.0
    token_warn_days: int = 7
    rotate: Rotation = field(default_factory=Rotation)
    metrics_address: str = "127.0.0.1:9464"  # loopback: not on the network unless asked
    lag_series_max: int = 100


def parse_duration(value: object) -> float:
    """``90``, ``2.5``, ``"90s"``, ``"15m"``, ``"1h"``, ``"1d"`` as seconds (> 0).

    Raises ``ValueError`` (message without the fix) for anything else.
    """
    if isinstance(value, bool):
        raise ValueError("expected a duration, got a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.match(value.lower())
        if match is None:
            raise ValueError(f'"{value}" is not a duration like "90s", "15m", "1h" or "1d"')
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ValueError('expected a duration (seconds, or text like "15m")')
    if not seconds > 0:  # also rejects nan
        raise ValueError(f"a duration must be greater than 0, got {value}")
    return seconds


def parse_rotation(value: object) -> Rotation:
    """``"day"`` or ``"size:N"`` (N bytes, or with a K/M/G suffix) as a :class:`Rotation`."""
    if not isinstance(value, str):
        raise ValueError('expected "day" or "size:N"')
    text = value.strip().lower()
    if text == "day":
        return Rotation("day")
    kind, _, size = text.partition(":")
    match = _SIZE.match(size) if kind == "size" else None
    if match is None:
        raise ValueError(f'"{value}" is neither "day" nor "size:N" (e.g. "size:100M")')
    max_bytes = int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]
    if max_bytes < 1024:
        raise ValueError(f"a rotation size must be at least 1K, got {max_bytes} bytes")
    return Rotation("size", max_bytes)


def parse_address(value: object) -> str:
    """``"HOST:PORT"`` (``"[::1]:9464"`` for IPv6; port 0: any free one) or ``""``, as given.

    Raises ``ValueError`` for anything else.
    """
    if not isinstance(value, str):
        raise ValueError('expected "HOST:PORT" or ""')
    if value == "":
        return value
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f'"{value}" is not "HOST:PORT" (e.g. "127.0.0.1:9464")')
    return value


def split_address(address: str) -> tuple[str, int]:
    """``"127.0.0.1:9464"`` as ``("127.0.0.1", 9464)``; brackets of IPv6 dropped."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def _lookback(days: int) -> int:
    if days < MIN_LOOKBACK:
        raise bad(
            f"must be at least {MIN_LOOKBACK} days, got {days}",
            "the API revises the last 48 hours: re-fetch at least the 2 days before today",
        )
    if days > MAX_LOOKBACK:
        raise bad(
            f"must be at most {MAX_LOOKBACK} days, got {days}",
            "the API serves follower_count only for the last 30 days; older days are backfill",
        )
    return days


Duration = Annotated[float, parsed(parse_duration, 'write e.g. "30s", "15m", "1h" or "1d"')]
_DEFAULT = DaemonSettings()


class DaemonTable(Strict):
    """``[daemon]`` as written; :meth:`settings` gives what the daemon reads."""

    refresh_interval: Duration = _DEFAULT.refresh_interval_s
    lookback: Annotated[int, AfterValidator(_lookback)] = _DEFAULT.lookback_days
    backfill: Annotated[
        DateSpec, parsed(parse_date_spec, 'write "Nd" (N days of history) or YYYY-MM-DD')
    ] = _DEFAULT.backfill
    lifetime_interval: Duration = _DEFAULT.lifetime_interval_s
    stats_interval: Duration = _DEFAULT.stats_interval_s
    grace_s: Positive = _DEFAULT.grace_s
    token_warn_days: Annotated[int, Field(ge=0)] = _DEFAULT.token_warn_days
    rotate: Annotated[Rotation, parsed(parse_rotation, 'use "day" or "size:100M"')] = (
        _DEFAULT.rotate
    )
    metrics_address: Annotated[
        str, parsed(parse_address, 'write "127.0.0.1:9464", or "" for no endpoint')
    ] = _DEFAULT.metrics_address
    lag_series_max: Annotated[int, Field(ge=0)] = _DEFAULT.lag_series_max

    def settings(self) -> DaemonSettings:
        return DaemonSettings(
            refresh_interval_s=self.refresh_interval,
            lookback_days=self.lookback,
            backfill=self.backfill,
            lifetime_interval_s=self.lifetime_interval,
            stats_interval_s=self.stats_interval,
            grace_s=self.grace_s,
            token_warn_days=self.token_warn_days,
            rotate=self.rotate,
            metrics_address=self.metrics_address,
            lag_series_max=self.lag_series_max,
        )
