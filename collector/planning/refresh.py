"""The daemon's two kinds of bounded run, as :class:`~collector.engine.run.RunWork` for ``run_once``.

Both take the config's per-app plan specs (what ``[collect]`` selects for each
app's API version) and swap in the dates :mod:`collector.planning.schedule` chooses:

- :class:`RefreshWork`: the fresh dates of the accounts due for a refresh,
  then the lifetime snapshots of those due for one. Everything is sent
  whatever the ledger says. Fresh keys end in ``|refresh`` (the store's
  :data:`~collector.storage.sqlite.REFRESH_SUFFIX`), so they never share a ledger row
  with a history request for the same dates: a history row is finished only
  by a fetch made once its days were final.
- :class:`HistoryWork`: the history blocks, newest first; finished keys are
  skipped, so a history run stopped halfway resumes where it was.

Each work tallies its outcomes per account, for the daemon's bookkeeping.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from collector.model.outcome import Outcome
from collector.planning.planner import AccountRef, PlannedRequest, PlanSpec, plan_account
from collector.planning.schedule import fresh_dates
from collector.storage.sqlite import REFRESH_SUFFIX


@dataclass
class Tally:
    """One account's outcomes in a run: finished (done or no_data) and failed, by kind."""

    finished: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)


def _kind(request_key: str) -> str:
    return "fresh" if request_key.endswith(REFRESH_SUFFIX) else "other"


@dataclass
class RefreshWork:
    """Fresh dates for ``refresh`` accounts and lifetime snapshots for ``lifetime`` ones.

    ``today`` is the Pacific date of the run; ``apps`` maps each account of
    the run to its app, for :attr:`planned`.
    """

    specs: Mapping[str, PlanSpec]
    today: dt.date
    lookback: int
    refresh: Collection[str]
    lifetime: Collection[str]
    apps: Mapping[str, str]
    tallies: dict[str, Tally] = field(default_factory=dict)
    kind: str = "refresh"

    def _fresh_spec(self, app: str) -> PlanSpec:
        first, last = fresh_dates(self.today, self.lookback)
        # ``today + 1`` as the planner's today: today's partial value has end_time
        # date today + 1, and the planner never plans past its today.
        return dataclasses.replace(self.specs[app], first=first, last=last, today=last)

    def fresh(self, account: AccountRef) -> Iterator[PlannedRequest]:
        """The account's fresh requests (windowed), keys ending in ``|refresh``."""
        for request in plan_account(account, self._fresh_spec(account.app)):
            if request.window is not None:
                yield dataclasses.replace(request, key=request.key + REFRESH_SUFFIX)

    def snapshots(self, account: AccountRef) -> Iterator[PlannedRequest]:
        """The account's lifetime snapshots (requests without a date range)."""
        spec = dataclasses.replace(self.specs[account.app], today=self.today)
        return (r for r in plan_account(account, spec) if r.window is None)

    def requests(self, account: AccountRef) -> Iterator[PlannedRequest]:
        if account.id in self.refresh:
            yield from self.fresh(account)
        if account.id in self.lifetime:
            yield from self.snapshots(account)

    @property
    def planned(self) -> int:
        fresh: Counter[str] = Counter(self.apps[a] for a in self.refresh if a in self.apps)
        snapshots: Counter[str] = Counter(self.apps[a] for a in self.lifetime if a in self.apps)
        return sum(
            n * sum(1 for _ in self.fresh(AccountRef("0", app))) for app, n in fresh.items()
        ) + sum(
            n * sum(1 for _ in self.snapshots(AccountRef("0", app))) for app, n in snapshots.items()
        )

    def always_send(self, request: PlannedRequest) -> bool:
        return True

    def observe(self, outcome: Outcome) -> None:
        tally = self.tallies.setdefault(outcome.account_id, Tally())
        kind = _kind(outcome.key)
        if outcome.state == "failed":
            tally.failed[kind] += 1
        else:
            tally.finished[kind] += 1

    def refreshed(self) -> list[str]:
        """Accounts of ``refresh`` whose fresh requests all finished (none failed)."""
        return [
            account
            for account in self.refresh
            if (t := self.tallies.get(account)) is not None
            and t.finished["fresh"] > 0
            and t.failed["fresh"] == 0
        ]


@dataclass
class HistoryWork:
    """The history blocks (``(first, last)`` end_time dates, newest first) of every account."""

    specs: Mapping[str, PlanSpec]
    today: dt.date
    blocks: Sequence[tuple[dt.date, dt.date]]
    accounts_per_app: Mapping[str, int]
    failed: int = 0
    kind: str = "history"

    def requests(self, account: AccountRef) -> Iterator[PlannedRequest]:
        base = self.specs[account.app]
        for first, last in self.blocks:
            spec = dataclasses.replace(base, first=first, last=last, today=self.today)
            yield from (r for r in plan_account(account, spec) if r.window is not None)

    @property
    def planned(self) -> int:
        return sum(
            n * sum(1 for _ in self.requests(AccountRef("0", app)))
            for app, n in self.accounts_per_app.items()
        )

    def always_send(self, request: PlannedRequest) -> bool:
        return False

    def observe(self, outcome: Outcome) -> None:
        if outcome.state == "failed":
            self.failed += 1
