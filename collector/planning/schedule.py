"""The daemon's scheduling policy: which dates each kind of work asks for, and what runs next.

Pure functions of dates, times and per-account bookkeeping; no I/O, no clock
(``now`` is unix seconds handed in), so Hypothesis can check them
(``tests/collector/test_schedule*.py``). The daemon applies them.

Dates are *end_time dates* (SPEC 3; :mod:`collector.graph.pacific`): the value of
Pacific day D carries end_time date D + 1, so on Pacific date ``today`` the
value of today itself (partial, growing) has end_time date ``today + 1``.

Three kinds of work:

- **fresh**: end_time dates ``today - lookback + 1 .. today + 1``: today's
  partial value and the ``lookback`` complete days before it, the ones the API
  may still revise (SPEC 3: data may lag up to 48 hours). Fetched again every
  ``refresh_interval``, whatever the ledger says.
- **history**: end_time dates from ``backfill`` to ``today - lookback``, all of
  them final. Planned in blocks of :data:`BLOCK_DAYS` dates aligned on a fixed
  epoch, so a block's ledger keys do not move as days pass and finished
  blocks are never fetched again; only the newest, still growing block gets a
  new key each day. The oldest block starts on or before ``backfill``.
- **lifetime**: requests without a date range (demographics, ``audience_*``),
  every ``lifetime_interval``.

Priority: fresh and lifetime work first; history only when nothing is due,
and a history run is stopped when the next refresh comes due.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

# 30 end_time dates always fit in one request window (collector.graph.pacific: the
# edges leave room for the 25-hour November day), so one block = one request.
BLOCK_DAYS = 30
EPOCH = dt.date(2000, 1, 1)
_ONE_DAY = dt.timedelta(days=1)


def fresh_dates(today: dt.date, lookback: int) -> tuple[dt.date, dt.date]:
    """First and last end_time date a refresh asks for: ``lookback`` days and today's partial."""
    if lookback < 1:
        raise ValueError(f"lookback must be at least 1 day, got {lookback}")
    return today - dt.timedelta(days=lookback - 1), today + _ONE_DAY


def history_last(today: dt.date, lookback: int) -> dt.date:
    """The newest end_time date that is history (the day before the fresh dates)."""
    return fresh_dates(today, lookback)[0] - _ONE_DAY


def block_start(day: dt.date) -> dt.date:
    """The first date of the epoch-aligned block holding ``day``."""
    return day - dt.timedelta(days=(day - EPOCH).days % BLOCK_DAYS)


def history_blocks(first: dt.date, today: dt.date, lookback: int) -> list[tuple[dt.date, dt.date]]:
    """The history blocks, newest first: ``(first, last)`` end_time dates of each.

    They cover ``block_start(first) .. history_last(today, lookback)`` exactly,
    without overlap; each holds at most :data:`BLOCK_DAYS` dates and every one but
    the newest is a whole aligned block. Empty when ``first`` is past the last
    history date.
    """
    last = history_last(today, lookback)
    if first > last:
        return []
    blocks: list[tuple[dt.date, dt.date]] = []
    start = block_start(last)
    end = last
    while end >= first:
        blocks.append((start, end))
        end = start - _ONE_DAY
        start = end - dt.timedelta(days=BLOCK_DAYS - 1)
    return blocks


def is_due(last: float | None, interval_s: float, now: float) -> bool:
    """Whether work last done at ``last`` (``None``: never) is due again at ``now``."""
    return last is None or last + interval_s <= now


def due_at(last: float | None, interval_s: float, now: float) -> float:
    """When work last done at ``last`` is due (``now`` when it never ran)."""
    return now if last is None else last + interval_s


@dataclass(frozen=True, slots=True)
class Cycle:
    """What the daemon does next.

    ``refresh`` and ``lifetime`` list the accounts due for fresh data and for
    lifetime metrics (one run collects both). ``history`` says whether a
    history run goes now instead (only when nothing is due). ``preempt_at`` is
    when the next refresh or lifetime work comes due (a history run stops
    taking work then); ``wake_at`` is when to look again if nothing runs now.
    Both are ``None`` when no account is active.
    """

    refresh: tuple[str, ...]
    lifetime: tuple[str, ...]
    history: bool
    preempt_at: float | None
    wake_at: float | None

    @property
    def idle(self) -> bool:
        """Nothing to run now."""
        return not self.refresh and not self.lifetime and not self.history


def plan_cycle(
    accounts: Sequence[str],
    *,
    now: float,
    refreshed: Mapping[str, float],
    lifetime_done: Mapping[str, float],
    paused: Collection[str],
    refresh_interval_s: float,
    lifetime_interval_s: float,
    history_pending: bool,
    history_not_before: float = 0.0,
) -> Cycle:
    """Decide the next step from when each account was last refreshed.

    ``refreshed`` and ``lifetime_done`` hold the unix time each account's last
    attempt of that kind started (absent: never); ``paused`` accounts get no
    work (their token is dead). History runs only when some account is active,
    nothing is due, it is ``history_pending`` and ``now >= history_not_before``.
    """
    active = [a for a in accounts if a not in paused]
    refresh = tuple(a for a in active if is_due(refreshed.get(a), refresh_interval_s, now))
    lifetime = tuple(a for a in active if is_due(lifetime_done.get(a), lifetime_interval_s, now))
    upcoming = [due_at(refreshed.get(a), refresh_interval_s, now) for a in active]
    upcoming += [due_at(lifetime_done.get(a), lifetime_interval_s, now) for a in active]
    next_due = min(upcoming, default=None)
    history = (
        history_pending
        and bool(active)
        and not refresh
        and not lifetime
        and now >= history_not_before
    )
    wake_at = next_due
    if history_pending and not history and history_not_before > now:
        wake_at = history_not_before if wake_at is None else min(wake_at, history_not_before)
    return Cycle(refresh, lifetime, history, next_due, wake_at)


def lags(
    accounts: Iterable[str], refreshed: Mapping[str, float], now: float, since: float
) -> list[float]:
    """Per account, seconds since its data was last refreshed (``since`` when never), >= 0."""
    return [max(0.0, now - refreshed.get(a, since)) for a in accounts]


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` percentile (0 < q <= 100) of ``values``; 0.0 for none."""
    if not 0 < q <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {q}")
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100)
    return ordered[int(rank) - 1]
