"""The WorkQueue contract (collector/storage/queue.py), the same tests on SQLite and PostgreSQL.

Concurrency is real: two store instances on one file or schema, each with its own
connection(s), stand for two processes. Time is one manual clock they share.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from collector.clock import ManualClock
from collector.model.outcome import Outcome
from collector.model.records import rfc3339
from collector.storage.queue import (
    ON_DEMAND_PRIORITY,
    ROUTINE_PRIORITY,
    RUN_PRIORITY,
    Claim,
    Fence,
    JobSpec,
    WorkerInfo,
)
from tests.storage.backends import Backend
from tests.storage.helpers import outcome, point, queued

ROUTINE = JobSpec("refresh", ROUTINE_PRIORITY)
RUN = JobSpec("run", RUN_PRIORITY, {"since": "2024-01-01"})
PULL = JobSpec("pull", ON_DEMAND_PRIORITY)


# Each test once on a SQLite file and once on a PostgreSQL schema (conftest's backend).
pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
async def queue_store(backend: Backend) -> Any:
    """One store instance of the backend under test."""
    return await backend.open()


def _fence(owner: str, *claims: Claim) -> Fence:
    return Fence(owner, {c.key: c.token for c in claims})


def _done(claim: Claim, value: int = 1) -> Outcome:
    return outcome(claim.key, (point(value, metric=claim.key),))


async def _record(store: Any, fence: Fence | None, *outcomes: Outcome) -> tuple[str, ...]:
    async with store.transaction() as tx:
        changes = await tx.record_outcomes(list(outcomes), fence)
    fenced: tuple[str, ...] = changes.fenced
    return fenced


# -- enqueue and claim ---------------------------------------------------------------------


async def test_enqueue_is_idempotent_per_key(queue_store: Any) -> None:
    """Enqueuing a key twice, even by two jobs, leaves one row, claimed once."""
    await queue_store.enqueue(RUN, [queued("k1"), queued("k1")])
    await queue_store.enqueue(RUN, [queued("k1")])
    assert [c.key for c in await queue_store.claim("w1", ["app-a"], 10, 30)] == ["k1"]
    assert await queue_store.claim("w2", ["app-a"], 10, 30) == []


async def test_an_enqueued_request_is_a_pending_ledger_row(queue_store: Any) -> None:
    """Enqueuing makes a pending ledger row with the request's metrics, window edges and no
    attempts."""
    await queue_store.enqueue(RUN, [queued("p1", account="222")])
    entry = await queue_store.ledger_entry("p1")
    assert (entry.state, entry.account_id, entry.metrics, entry.since, entry.until) == (
        "pending", "222", ("reach",), 1_700_000_000, 1_702_000_000,
    )  # fmt: skip
    assert (entry.attempts, entry.points, entry.reason) == (0, 0, None)


async def test_enqueue_takes_a_generator_of_many_chunks(queue_store: Any) -> None:
    """A generator of more requests than one chunk of statements is enqueued completely."""
    await queue_store.enqueue(RUN, (queued(f"k{i}") for i in range(12_345)))
    assert await queue_store.claimable(["app-a"]) == 12_345


async def test_claims_go_by_priority_then_rank_then_registration(queue_store: Any) -> None:
    """Claims take the lowest priority first, then the lowest rank, then the oldest row."""
    await queue_store.enqueue(ROUTINE, [queued("r1", rank=0), queued("r2", rank=1)])
    await queue_store.enqueue(RUN, [queued("b", rank=1), queued("a", rank=1), queued("c", rank=0)])
    taken = [(await queue_store.claim("w1", ["app-a"], 1, 30))[0].key for _ in range(5)]
    assert taken == ["c", "b", "a", "r1", "r2"]


async def test_a_job_lowers_the_priority_of_the_rows_it_names(queue_store: Any) -> None:
    """A pull naming a routine row moves it first; a later routine job does not move it back."""
    await queue_store.enqueue(ROUTINE, [queued("r1"), queued("r2")])
    await queue_store.enqueue(PULL, [queued("r2")])
    await queue_store.enqueue(ROUTINE, [queued("r2")])
    assert [c.key for c in await queue_store.claim("w1", ["app-a"], 1, 30)] == ["r2"]


async def test_claim_takes_only_the_apps_asked_and_at_most_limit(queue_store: Any) -> None:
    """A claim hands out rows of its apps only, no more than ``limit``."""
    await queue_store.enqueue(RUN, [queued(f"a{i}") for i in range(5)])
    await queue_store.enqueue(RUN, [queued("b0", app="app-b")])
    assert len(await queue_store.claim("w1", ["app-a"], 3, 30)) == 3
    assert [c.key for c in await queue_store.claim("w1", ["app-b"], 9, 30)] == ["b0"]
    assert await queue_store.claimable(["app-a", "app-b"]) == 2


async def test_a_claim_carries_the_request_and_a_new_token(queue_store: Any) -> None:
    """The claim returns the queued request's fields and a token that grows per claim."""
    await queue_store.enqueue(RUN, [queued("k1", account="222")])
    [claim] = await queue_store.claim("w1", ["app-a"], 1, 30)
    assert (claim.account_id, claim.metrics, claim.since, claim.params) == (
        "222", ("reach",), 1_700_000_000, "",
    )  # fmt: skip
    await queue_store.release("w1", ["k1"])
    [again] = await queue_store.claim("w2", ["app-a"], 1, 30)
    assert again.token == claim.token + 1


async def test_concurrent_claimers_never_share_a_row(backend: Backend) -> None:
    """Two store instances claiming at once from 300 rows take every row exactly once."""
    first, second = await backend.open(), await backend.open()
    await first.enqueue(RUN, [queued(f"k{i:03d}", rank=i % 7) for i in range(300)])

    async def drain(store: Any, owner: str) -> list[str]:
        taken: list[str] = []
        while claims := await store.claim(owner, ["app-a"], 16, 60):
            taken += [c.key for c in claims]
            await asyncio.sleep(0)
        return taken

    a, b = await asyncio.gather(drain(first, "w1"), drain(second, "w2"))
    assert sorted(a + b) == sorted(f"k{i:03d}" for i in range(300))
    assert len(set(a) & set(b)) == 0


async def test_an_expired_lease_is_claimed_again_with_a_new_token(
    queue_store: Any, manual_clock: ManualClock
) -> None:
    """A row whose lease ran out goes to the next claimer under a higher token."""
    await queue_store.enqueue(RUN, [queued("k1")])
    [first] = await queue_store.claim("w1", ["app-a"], 1, 30)
    manual_clock.advance(29)
    assert await queue_store.claim("w2", ["app-a"], 1, 30) == []
    manual_clock.advance(2)
    [second] = await queue_store.claim("w2", ["app-a"], 1, 30)
    assert (second.key, second.token > first.token) == ("k1", True)


async def test_a_stale_token_is_fenced(queue_store: Any, manual_clock: ManualClock) -> None:
    """A worker whose lease was taken cannot commit: its points are dropped and its key
    reported fenced; the new holder commits."""
    await queue_store.enqueue(RUN, [queued("k1"), queued("k2")])
    [late, other] = await queue_store.claim("w1", ["app-a"], 2, 30)
    manual_clock.advance(31)
    taken = await queue_store.claim("w2", ["app-a"], 2, 30)
    fenced = await _record(queue_store, _fence("w1", late, other), _done(late), _done(other))
    assert sorted(fenced) == ["k1", "k2"]
    assert await queue_store.points() == []
    assert await _record(queue_store, _fence("w2", *taken), *map(_done, taken)) == ()
    assert sorted(p.metric for p in await queue_store.points()) == ["k1", "k2"]


async def test_the_fence_drops_only_the_outcomes_it_does_not_cover(queue_store: Any) -> None:
    """In one batch, an outcome under a live lease is recorded and a foreign one dropped."""
    await queue_store.enqueue(RUN, [queued("mine"), queued("theirs")])
    [mine] = await queue_store.claim("w1", ["app-a"], 1, 30)
    [theirs] = await queue_store.claim("w2", ["app-a"], 1, 30)
    fenced = await _record(queue_store, _fence("w1", mine, theirs), _done(mine), _done(theirs))
    assert fenced == ("theirs",)
    mine_row, theirs_row = [await queue_store.ledger_entry(k) for k in ("mine", "theirs")]
    assert (mine_row.state, theirs_row.state) == ("done", "pending")


async def test_recording_clears_the_lease(queue_store: Any) -> None:
    """A recorded failure leaves no lease: enqueued again, the row is claimable at once."""
    await queue_store.enqueue(RUN, [queued("k1")])
    [claim] = await queue_store.claim("w1", ["app-a"], 1, 30)
    failed = outcome("k1", state="failed", reason="code 2")
    assert await _record(queue_store, _fence("w1", claim), failed) == ()
    await queue_store.enqueue(RUN, [queued("k1")])
    assert [c.key for c in await queue_store.claim("w2", ["app-a"], 1, 30)] == ["k1"]


async def test_lease_owners_and_release_all(queue_store: Any, manual_clock: ManualClock) -> None:
    """lease_owners names the owners of leases still running; release_all frees every
    claim of one owner (a worker known dead) for others at once."""
    await queue_store.enqueue(RUN, [queued(k) for k in ("a", "b", "c")])
    await queue_store.claim("w1", ["app-a"], 2, 30)
    await queue_store.claim("w2", ["app-a"], 1, 60)
    assert sorted(await queue_store.lease_owners()) == ["w1", "w2"]
    assert await queue_store.release_all("w1") == 2
    assert sorted(c.key for c in await queue_store.claim("w3", ["app-a"], 9, 30)) == ["a", "b"]
    manual_clock.advance(45)
    assert await queue_store.lease_owners() == ["w2"]


# -- jobs ----------------------------------------------------------------------------------


async def test_re_enqueue_pends_failed_and_forced_rows_only(queue_store: Any) -> None:
    """A new job re-pends a failed row and a forced finished one, keeping attempts; an
    unforced finished row stays finished and counts as finished for the job."""
    await queue_store.enqueue(RUN, [queued("f"), queued("d"), queued("forced")])
    claims = await queue_store.claim("w1", ["app-a"], 3, 30)
    await _record(
        queue_store, _fence("w1", *claims),
        outcome("f", state="failed", attempts=2, reason="code 2"), _done(claims[1]),
        outcome("forced", state="no_data"),
    )  # fmt: skip
    job = await queue_store.enqueue(RUN, [queued("f"), queued("d"), queued("forced", force=True)])
    assert sorted(c.key for c in await queue_store.claim("w1", ["app-a"], 9, 30)) == [
        "f", "forced",
    ]  # fmt: skip
    info = await queue_store.job(job)
    assert (info.total, info.pending, info.done, info.state) == (3, 2, 1, "running")
    assert (await queue_store.ledger_entry("f")).attempts == 2


async def test_a_re_pended_row_takes_the_new_jobs_priority(queue_store: Any) -> None:
    """A failed on-demand row asked again by the routine goes at the routine's priority."""
    await queue_store.enqueue(PULL, [queued("k1")])
    claims = await queue_store.claim("w1", ["app-a"], 1, 30)
    await _record(queue_store, _fence("w1", *claims), outcome("k1", state="failed"))
    await queue_store.enqueue(ROUTINE, [queued("k1")])
    await queue_store.enqueue(RUN, [queued("k2")])
    taken = [(await queue_store.claim("w1", ["app-a"], 1, 30))[0].key for _ in range(2)]
    assert taken == ["k2", "k1"]


async def test_job_progress_counts_its_rows(queue_store: Any) -> None:
    """A job is queued, then running, then done, with its rows counted by state."""
    job = await queue_store.enqueue(RUN, [queued(k) for k in ("a", "b", "c", "d")])
    info = await queue_store.job(job)
    assert (info.kind, info.state, info.total, info.pending) == ("run", "queued", 4, 4)
    assert dict(info.description) == {"since": "2024-01-01"}
    claims = await queue_store.claim("w1", ["app-a"], 4, 30)
    assert (await queue_store.job(job)).state == "running"
    a, b = claims[:2]
    await _record(
        queue_store, _fence("w1", *claims), _done(a), _done(b),
        outcome("c", state="no_data"), outcome("d", state="failed", reason="code 100"),
    )  # fmt: skip
    info = await queue_store.job(job)
    assert (info.state, info.done, info.no_data, info.failed, info.finished) == (
        "done", 2, 1, 1, 4,
    )  # fmt: skip


async def test_prune_forgets_old_finished_and_cancelled_jobs_only(
    queue_store: Any, manual_clock: ManualClock
) -> None:
    """prune_jobs drops old jobs that are done or cancelled, keeps one with work left and
    every newer one, and leaves the ledger rows (what was fetched) alone."""
    done = await queue_store.enqueue(RUN, [queued("a")])
    left = await queue_store.enqueue(RUN, [queued("b")])
    gone = await queue_store.enqueue(PULL, [queued("c")])
    await queue_store.cancel(gone)
    claims = await queue_store.claim("w1", ["app-a"], 1, 30)
    assert [c.key for c in claims] == ["a"]
    await _record(queue_store, _fence("w1", *claims), _done(claims[0]))  # "a" is done
    manual_clock.advance(3600)
    newer = await queue_store.enqueue(ROUTINE, [queued("d")])
    cutoff = rfc3339(manual_clock.now() - dt.timedelta(minutes=30))
    assert await queue_store.prune_jobs(cutoff) == 2
    assert await queue_store.job(done) is None and await queue_store.job(gone) is None
    assert (await queue_store.job(left)).pending == 1
    assert (await queue_store.job(newer)).total == 1
    assert await queue_store.prune_jobs(cutoff) == 0
    assert await queue_store.claimable(["app-a"]) == 2  # "b" of the kept job, "d" of the new
    assert (await queue_store.ledger_entry("a")).state == "done"  # what was fetched stays


async def test_jobs_lists_newest_first_and_unknown_is_none(queue_store: Any) -> None:
    """jobs() is newest first within its limit; job() of an id never issued is None."""
    ids = [await queue_store.enqueue(spec, [queued("k")]) for spec in (ROUTINE, RUN, PULL)]
    assert [j.id for j in await queue_store.jobs(limit=2)] == [ids[2], ids[1]]
    assert [j.kind for j in await queue_store.jobs()] == ["pull", "run", "refresh"]
    assert await queue_store.job(max(ids) + 100) is None


async def test_cancel_stops_claims_unless_another_live_job_asks(queue_store: Any) -> None:
    """A cancelled job's rows are no longer claimable, except those another live job names;
    a second cancel, or one of an unknown job, is False."""
    job = await queue_store.enqueue(RUN, [queued("only"), queued("shared")])
    await queue_store.enqueue(ROUTINE, [queued("shared")])
    assert await queue_store.cancel(job) is True
    assert await queue_store.cancel(job) is False
    assert await queue_store.cancel(job + 100) is False
    assert await queue_store.claimable(["app-a"]) == 1
    assert [c.key for c in await queue_store.claim("w1", ["app-a"], 9, 30)] == ["shared"]
    assert (await queue_store.job(job)).state == "cancelled"


async def test_a_claim_out_before_cancel_still_commits(queue_store: Any) -> None:
    """Cancelling a job does not fence the claims already handed out."""
    job = await queue_store.enqueue(RUN, [queued("k1")])
    claims = await queue_store.claim("w1", ["app-a"], 1, 30)
    await queue_store.cancel(job)
    assert await _record(queue_store, _fence("w1", *claims), *map(_done, claims)) == ()
    assert (await queue_store.ledger_entry("k1")).state == "done"


# -- leases: renew and release ------------------------------------------------------------


async def test_renew_extends_only_the_owners_live_leases(
    queue_store: Any, manual_clock: ManualClock
) -> None:
    """Renewing moves the owner's leases to now + lease_s; another owner's are untouched."""
    await queue_store.enqueue(RUN, [queued("a"), queued("b")])
    [a] = await queue_store.claim("w1", ["app-a"], 1, 30)
    [b] = await queue_store.claim("w2", ["app-a"], 1, 30)
    manual_clock.advance(20)
    assert await queue_store.renew("w1", [a.key, b.key], 30) == 1
    manual_clock.advance(20)  # 40 s after the claims: a renewed to 50, b ran out at 30
    assert [c.key for c in await queue_store.claim("w3", ["app-a"], 9, 30)] == [b.key]


async def test_release_gives_the_claims_back_at_once(queue_store: Any) -> None:
    """Released claims are claimable again at once; another owner cannot release them."""
    await queue_store.enqueue(RUN, [queued("a"), queued("b")])
    claims = await queue_store.claim("w1", ["app-a"], 2, 30)
    assert await queue_store.release("w2", ["a", "b"]) == 0
    assert await queue_store.release("w1", ["a"]) == 1
    assert [c.key for c in await queue_store.claim("w2", ["app-a"], 9, 30)] == ["a"]
    assert len(claims) == 2


# -- workers, leadership, budgets ----------------------------------------------------------


async def test_heartbeats_make_live_workers(queue_store: Any, manual_clock: ManualClock) -> None:
    """A worker is live while its last heartbeat is recent enough, and gone once forgotten."""
    stamp = "2024-03-01T12:00:00Z"
    one = WorkerInfo("w1", "host-a", 11, "worker", stamp, "")
    two = WorkerInfo("w2", "host-b", 22, "daemon", stamp, "")
    await queue_store.heartbeat(one)
    manual_clock.advance(50)
    await queue_store.heartbeat(two)
    live = await queue_store.live_workers(60)
    assert [(w.id, w.pid, w.role, w.seen_at) for w in live] == [
        ("w1", 11, "worker", "2024-03-01T12:00:00Z"),
        ("w2", 22, "daemon", "2024-03-01T12:00:50Z"),
    ]
    manual_clock.advance(20)
    assert [w.id for w in await queue_store.live_workers(60)] == ["w2"]
    await queue_store.forget_worker("w2")
    assert await queue_store.live_workers(3600) == [w for w in live if w.id == "w1"]


async def test_lead_is_exclusive_until_it_expires(
    backend: Backend, manual_clock: ManualClock
) -> None:
    """One owner holds a leadership lease and keeps it by renewing; another takes it only
    after it ran out."""
    first, second = await backend.open(), await backend.open()
    results = await asyncio.gather(first.lead("sched", "a", 30), second.lead("sched", "b", 30))
    assert sorted(results) == [False, True]
    holder, other = ("a", "b") if results[0] else ("b", "a")
    manual_clock.advance(20)
    assert await first.lead("sched", holder, 30) is True  # renewed to +50
    manual_clock.advance(20)
    assert await second.lead("sched", other, 30) is False
    manual_clock.advance(11)
    assert await second.lead("sched", other, 30) is True
    assert await first.lead("sched", holder, 30) is False
    assert await first.lead("other", holder, 30) is True


async def test_take_slots_never_overlaps_and_spaces_by_interval(
    backend: Backend, manual_clock: ManualClock
) -> None:
    """Concurrent takers on two instances get disjoint, back-to-back runs of slots spaced
    by the interval, starting now; once time passes the schedule, it starts at now again."""
    first, second = await backend.open(), await backend.open()
    now = manual_clock.now().timestamp()
    takes = [(first if i % 2 else second).take_slots("app-a", 3, 0.5) for i in range(10)]
    starts = sorted(await asyncio.gather(*takes))
    assert starts == [pytest.approx(now + 1.5 * i) for i in range(10)]
    assert await first.take_slots("app-b", 1, 0.5) == pytest.approx(now)
    manual_clock.advance(100)
    assert await second.take_slots("app-a", 2, 0.5) == pytest.approx(now + 100)
    assert await first.take_slots("app-a", 1, 0.5) == pytest.approx(now + 101)


async def test_usage_readings_are_shared(backend: Backend, manual_clock: ManualClock) -> None:
    """The latest reading one instance publishes is what another reads, with its time."""
    first, second = await backend.open(), await backend.open()
    assert await second.usage("app-a") is None
    await first.publish_usage("app-a", {"call_count": 40})
    manual_clock.advance(5)
    await first.publish_usage("app-a", {"call_count": 55, "total_time": 3})
    at, reading = await second.usage("app-a")
    assert (at, dict(reading)) == (
        manual_clock.now().timestamp(),
        {"call_count": 55, "total_time": 3},
    )
