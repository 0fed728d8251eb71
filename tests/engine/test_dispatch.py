"""Unit tests for collector.engine.dispatch: one app's Lane, driven by hand with a ManualClock."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator

import pytest

from collector.clock import ManualClock
from collector.engine.dispatch import AccountRun, Job, Lane, failed_outcome
from collector.graph.pacific import window_of
from collector.model.outcome import Outcome
from collector.planning.planner import PlannedRequest

START = dt.datetime(2024, 2, 1, 20, 0, tzinfo=dt.UTC)
FIRST_DAY = dt.date(2024, 1, 1)


def planned(account: str, n: int, app: str = "main") -> list[PlannedRequest]:
    """``n`` daily reach requests for ``account``, keys ``<account>|<i>``."""
    return [
        PlannedRequest(
            key=f"{account}|{i}",
            account_id=account,
            app=app,
            metrics=("reach",),
            period="day",
            window=window_of(FIRST_DAY + dt.timedelta(days=i), FIRST_DAY + dt.timedelta(days=i)),
            params=(),
        )
        for i in range(n)
    ]


class Source:
    """An AccountSource that hands each account its prepared plan and records activations."""

    def __init__(self, plans: dict[str, list[PlannedRequest]]) -> None:
        self.plans = plans
        self.activated: list[str] = []

    async def activate(self, account: AccountRun) -> None:
        self.activated.append(account.id)
        account.requests = iter(self.plans[account.id])


class Harness:
    """A Lane over prepared plans, with its emitted outcomes and finished accounts."""

    def __init__(
        self,
        plans: dict[str, list[PlannedRequest]],
        *,
        tokens: dict[str, str] | None = None,
        dead_tokens: dict[str, str] | None = None,
        token_pauses: dict[str, float] | None = None,
        sink_gate: asyncio.Event | None = None,
        **lane_options: int,
    ) -> None:
        self.clock = ManualClock(START)
        self.sink_gate = sink_gate
        self.source = Source(plans)
        self.emitted: list[Outcome] = []
        self.done: list[tuple[str, str | None]] = []
        self.runs = {
            account: AccountRun(account, "main", (tokens or {}).get(account, "token-1"))
            for account in plans
        }
        self.pulled = 0
        dead = dead_tokens if dead_tokens is not None else {}
        pauses = token_pauses if token_pauses is not None else {}
        self.lane = Lane(
            "main",
            self._accounts(),
            self.source,
            self._emit,
            self.clock,
            token_stopped=dead.get,
            paused_until=lambda run: pauses.get(run.token, 0.0),
            on_account_done=lambda run: self.done.append((run.id, run.stopped)),
            **lane_options,
        )

    def _accounts(self) -> Iterator[AccountRun]:
        for run in self.runs.values():
            self.pulled += 1
            yield run

    async def _emit(self, outcome: Outcome) -> None:
        if self.sink_gate is not None:
            await self.sink_gate.wait()  # a sink applying backpressure
        self.emitted.append(outcome)

    async def take(self) -> Job:
        """The next job, which must be available without moving the clock."""
        job = await asyncio.wait_for(self.lane.next_job(), timeout=1)
        assert job is not None
        return job

    async def drain_keys(self) -> list[str]:
        """Take and finish jobs until the lane is done; their keys in hand-out order."""
        keys: list[str] = []
        while (job := await asyncio.wait_for(self.lane.next_job(), timeout=1)) is not None:
            keys.append(job.request.key)
            self.lane.finished(job)
        return keys


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def pending(lane: Lane) -> asyncio.Task[Job | None]:
    """A next_job call that is still waiting after the loop settles."""
    task = asyncio.ensure_future(lane.next_job())
    await settle()
    assert not task.done()
    return task


async def finish(task: asyncio.Task[Job | None]) -> Job | None:
    await settle()
    assert task.done()
    return task.result()


# -- fairness and isolation ----------------------------------------------------------------


async def test_accounts_are_served_round_robin() -> None:
    """Active accounts take turns: a, b, c, a, b, c, ..."""
    h = Harness({"a": planned("a", 3), "b": planned("b", 3), "c": planned("c", 3)})
    order = [k.split("|")[0] for k in await h.drain_keys()]
    assert order == ["a", "b", "c"] * 3


async def test_every_planned_request_is_handed_out_once() -> None:
    """Draining the lane hands out each planned key exactly once."""
    plans = {"a": planned("a", 4), "b": planned("b", 1), "c": planned("c", 2)}
    h = Harness(plans)
    keys = await h.drain_keys()
    assert sorted(keys) == sorted(r.key for rs in plans.values() for r in rs)


async def test_at_most_per_account_in_flight() -> None:
    """An account never has more than ``per_account`` jobs out; the next waits for one to end."""
    h = Harness({"a": planned("a", 5)}, per_account=2)
    first = await h.take()
    await h.take()
    waiting = await pending(h.lane)
    h.lane.finished(first)
    job = await finish(waiting)
    assert job is not None and job.request.key == "a|2"


async def test_a_busy_account_does_not_hold_back_the_others() -> None:
    """While one account sits at its in-flight cap, the others keep getting work."""
    h = Harness({"slow": planned("slow", 3), "b": planned("b", 4)}, per_account=1)
    stuck = await h.take()
    assert stuck.account.id == "slow"
    served: list[str] = []
    for _ in range(4):
        job = await h.take()
        served.append(job.request.key)
        h.lane.finished(job)
    assert served == ["b|0", "b|1", "b|2", "b|3"]


async def test_accounts_are_activated_lazily_up_to_max_active() -> None:
    """Only ``max_active`` accounts are pulled and planned before any is finished."""
    h = Harness({name: planned(name, 1) for name in "abcde"}, max_active=2)
    job = await h.take()
    assert h.source.activated == ["a", "b"]
    assert h.pulled == 2
    h.lane.finished(job)
    await h.drain_keys()
    assert h.source.activated == list("abcde")


async def test_a_finished_account_makes_room_for_the_next() -> None:
    """Once an account's last job ends, the next account from the registry is activated."""
    h = Harness({"a": planned("a", 1), "b": planned("b", 1)}, max_active=1)
    job = await h.take()
    assert h.source.activated == ["a"]
    h.lane.finished(job)
    nxt = await h.take()
    assert nxt.account.id == "b"


# -- retries and pauses ------------------------------------------------------------------------


async def test_a_retry_comes_back_only_after_its_delay() -> None:
    """retry_later(job, 10) hands the same job out again once 10 s have passed, not before."""
    h = Harness({"a": planned("a", 1)})
    job = await h.take()
    job.attempts = 1
    h.lane.retry_later(job, 10)
    waiting = await pending(h.lane)
    h.clock.advance(9.9)
    await settle()
    assert not waiting.done()
    h.clock.advance(0.1)
    again = await finish(waiting)
    assert again is job and again.attempts == 1


async def test_a_waiting_retry_does_not_hold_an_in_flight_slot() -> None:
    """While a retry waits, its account can send its next request (per_account=1)."""
    h = Harness({"a": planned("a", 2)}, per_account=1)
    job = await h.take()
    h.lane.retry_later(job, 60)
    nxt = await h.take()
    assert nxt.request.key == "a|1"


async def test_retries_due_first_are_served_first() -> None:
    """Of two waiting retries, the one due earlier comes back first."""
    h = Harness({"a": planned("a", 2)})
    late, early = await h.take(), await h.take()
    h.lane.retry_later(late, 20)
    h.lane.retry_later(early, 5)
    h.clock.advance(30)
    first, second = await h.take(), await h.take()
    assert (first, second) == (early, late)


async def test_a_paused_account_is_skipped_while_others_are_served() -> None:
    """An account whose pause has not ended gets nothing; the others carry on."""
    h = Harness({"a": planned("a", 2), "b": planned("b", 2)})
    h.runs["a"].paused_until = 50.0
    first, second = await h.take(), await h.take()
    assert {first.account.id, second.account.id} == {"b"}
    h.lane.finished(first)
    h.lane.finished(second)
    waiting = await pending(h.lane)
    h.clock.advance(50)
    job = await finish(waiting)
    assert job is not None and job.account.id == "a"


async def test_a_retry_of_a_paused_account_waits_for_the_pause() -> None:
    """A due retry is held back while its account is paused."""
    h = Harness({"a": planned("a", 1)})
    job = await h.take()
    h.lane.retry_later(job, 1)
    h.runs["a"].paused_until = 40.0
    h.clock.advance(1)
    waiting = await pending(h.lane)
    h.clock.advance(38)
    await settle()
    assert not waiting.done()
    h.clock.advance(1)
    assert await finish(waiting) is job


async def test_a_paused_token_skips_its_accounts_only() -> None:
    """Accounts on a paused token wait; accounts on another token are served."""
    pauses = {"t1": 100.0}
    h = Harness(
        {"a": planned("a", 1), "b": planned("b", 1)},
        tokens={"a": "t1", "b": "t2"},
        token_pauses=pauses,
    )
    job = await h.take()
    assert job.account.id == "b"
    h.lane.finished(job)
    waiting = await pending(h.lane)
    h.clock.advance(100)
    later = await finish(waiting)
    assert later is not None and later.account.id == "a"


# -- stopped accounts --------------------------------------------------------------------------


async def test_a_dead_token_drains_its_accounts_as_failed() -> None:
    """Accounts on a stopped token get their unsent requests failed with the reason, unsent."""
    dead: dict[str, str] = {}
    h = Harness(
        {"a": planned("a", 3), "b": planned("b", 2)},
        tokens={"a": "t1", "b": "t2"},
        dead_tokens=dead,
    )
    dead["t1"] = "token_invalid"
    keys = await h.drain_keys()
    assert keys == ["b|0", "b|1"]
    assert sorted(o.key for o in h.emitted) == ["a|0", "a|1", "a|2"]
    assert {(o.state, o.reason, o.attempts) for o in h.emitted} == {("failed", "token_invalid", 0)}


async def test_stopping_an_account_fails_its_waiting_retries_too() -> None:
    """A stopped account's retries are failed, keeping the attempts they had made."""
    h = Harness({"a": planned("a", 2)})
    job = await h.take()
    job.attempts = 2
    h.lane.retry_later(job, 300)
    h.runs["a"].stopped = "permission_denied"
    assert await asyncio.wait_for(h.lane.next_job(), timeout=1) is None
    by_key = {o.key: o for o in h.emitted}
    assert set(by_key) == {"a|0", "a|1"}
    assert by_key["a|0"].attempts == 2 and by_key["a|1"].attempts == 0
    assert {o.reason for o in h.emitted} == {"permission_denied"}


async def test_stopping_one_account_leaves_the_others_running() -> None:
    """An account stopped mid-run fails its rest; the other account completes."""
    h = Harness({"a": planned("a", 3), "b": planned("b", 3)})
    job = await h.take()
    assert job.account.id == "a"
    job.account.stopped = "permission_denied"
    h.lane.finished(job)
    keys = await h.drain_keys()
    assert keys == ["b|0", "b|1", "b|2"]
    assert sorted(o.key for o in h.emitted) == ["a|1", "a|2"]


# -- the end -------------------------------------------------------------------------------------


async def test_next_job_returns_none_when_all_work_is_done() -> None:
    """With every job finished, next_job returns None at once."""
    h = Harness({"a": planned("a", 1)})
    h.lane.finished(await h.take())
    assert await asyncio.wait_for(h.lane.next_job(), timeout=1) is None


async def test_no_accounts_means_done_at_once() -> None:
    """A lane with no accounts is done on the first call."""
    h = Harness({})
    assert await asyncio.wait_for(h.lane.next_job(), timeout=1) is None


async def test_the_lane_is_not_done_while_a_job_is_in_flight() -> None:
    """Workers wait, not leave, while a job may still come back for a retry."""
    h = Harness({"a": planned("a", 1)})
    job = await h.take()
    waiting = await pending(h.lane)
    h.lane.retry_later(job, 0)
    assert await finish(waiting) is job


async def test_every_waiting_worker_is_released_at_the_end() -> None:
    """When the last job finishes, all workers waiting on the lane get None."""
    h = Harness({"a": planned("a", 1)})
    job = await h.take()
    waiters = [await pending(h.lane) for _ in range(3)]
    h.lane.finished(job)
    assert [await finish(w) for w in waiters] == [None, None, None]


async def test_each_account_is_reported_done_once_with_its_stop_reason() -> None:
    """on_account_done fires once per account, carrying why it stopped (None when it did not)."""
    dead = {"t1": "token_invalid"}
    h = Harness(
        {"a": planned("a", 2), "b": planned("b", 2)},
        tokens={"a": "t1", "b": "t2"},
        dead_tokens=dead,
    )
    await h.drain_keys()
    assert sorted(h.done) == [("a", "token_invalid"), ("b", None)]


async def test_an_account_with_an_empty_plan_is_done() -> None:
    """An account with nothing to send is reported done and the lane ends."""
    h = Harness({"a": [], "b": planned("b", 1)})
    assert await h.drain_keys() == ["b|0"]
    assert sorted(h.done) == [("a", None), ("b", None)]


@pytest.mark.parametrize("with_window", [True, False])
def test_failed_outcome_describes_the_request(with_window: bool) -> None:
    """failed_outcome copies key, account, app, metrics, period and Unix edges (None without)."""
    request = planned("a", 1)[0]
    if not with_window:
        request = PlannedRequest(request.key, "a", "main", ("audience_city",), "lifetime", None, ())
    outcome = failed_outcome(request, "timeout", attempts=6)
    window = request.window
    assert outcome == Outcome(
        key=request.key,
        account_id="a",
        app="main",
        metrics=request.metrics,
        period=request.period,
        since=window.since if window else None,
        until=window.until if window else None,
        state="failed",
        rows=(),
        attempts=6,
        reason="timeout",
    )


async def test_retries_stay_intact_while_a_drain_waits_on_the_sink() -> None:
    """Retries taken by another worker while a stopped account's drain waits are not lost or doubled."""
    gate = asyncio.Event()
    dead: dict[str, str] = {}
    h = Harness(
        {"a": planned("a", 1), "b": planned("b", 3)},
        tokens={"a": "t1", "b": "t2"},
        dead_tokens=dead,
        sink_gate=gate,
    )
    jobs = {}
    for _ in range(4):
        job = await h.take()
        jobs[job.request.key] = job
    h.lane.retry_later(jobs["a|0"], 100)
    for i, key in enumerate(["b|0", "b|1", "b|2"], start=1):
        h.lane.retry_later(jobs[key], i)
    dead["t1"] = "token_invalid"
    draining = await pending(h.lane)  # blocked in the sink while failing a|0
    h.clock.advance(5)
    handed: list[str] = []
    for _ in range(3):
        job = await h.take()
        handed.append(job.request.key)
        h.lane.finished(job)
    gate.set()
    assert await finish(draining) is None
    assert sorted(handed) == ["b|0", "b|1", "b|2"]
    assert [o.key for o in h.emitted] == ["a|0"]
