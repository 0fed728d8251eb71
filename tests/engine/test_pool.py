"""Unit tests for collector.engine.pool: the worker pool over a fake Transport and a ManualClock."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import structlog
from structlog.testing import capture_logs

from collector.clock import ManualClock
from collector.engine.caller import Caller, Pacing
from collector.engine.dispatch import AccountRun
from collector.engine.pool import AppSettings, Pool, RunStats
from collector.errors import RequestTimeout
from collector.graph.pacific import window_of
from collector.graph.transport import GraphRequest, GraphResponse
from collector.logs import token_fingerprint
from collector.model.outcome import Outcome
from collector.model.records import Point
from collector.pacing.retry import RetryPolicy
from collector.pacing.settings import BudgetSettings
from collector.planning.planner import PlannedRequest

START = dt.datetime(2024, 2, 1, 20, 0, tzinfo=dt.UTC)
FIRST_DAY = dt.date(2024, 1, 1)
PACIFIC = ZoneInfo("America/Los_Angeles")
VERSION = "v17.0"
POLICY = RetryPolicy(
    max_attempts=3,
    base_delay_s=2.0,
    max_delay_s=4.0,
    unsupported_attempts=2,
    max_throttle_waits=3,
    throttle_pause_s=20.0,
)
SEED = 7  # its first draw is 0.32: a first retry waits 0.32 * base > 0


def planned(account: str, n: int, app: str = "main") -> list[PlannedRequest]:
    """``n`` one-day reach requests for ``account``, keys ``<account>|<i>``."""
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


def graph_end_time(day: dt.date) -> str:
    """The API's end_time of end_time date ``day``: the Pacific midnight starting it, in UTC."""
    moment = dt.datetime.combine(day, dt.time(0), tzinfo=PACIFIC).astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


def day_of(request: GraphRequest) -> dt.date:
    """The end_time date a one-day test request asks for (its until is 11:30 Pacific that day)."""
    until = int(dict(request.params)["until"])
    return dt.datetime.fromtimestamp(until, tz=PACIFIC).date()


def account_of(request: GraphRequest) -> str:
    return request.path.split("/")[0]


def value_for(account: str, day: dt.date) -> int:
    """The value the fake API reports: a function of account and day only."""
    return sum(map(ord, account)) + day.toordinal() % 97


def ok(request: GraphRequest) -> GraphResponse:
    """A time-series answer for the request's day, with a neighbour day the parser must drop."""
    day = day_of(request)
    account = account_of(request)
    values = [
        {"value": value_for(account, day), "end_time": graph_end_time(day)},
        {"value": -1, "end_time": graph_end_time(day + dt.timedelta(days=1))},
    ]
    return GraphResponse(200, {"data": [{"name": "reach", "period": "day", "values": values}]})


def error(code: int, subcode: int | None = None, status: int = 400) -> GraphResponse:
    body: dict[str, Any] = {"message": f"(#{code}) test", "type": "OAuthException", "code": code}
    if subcode is not None:
        body["error_subcode"] = subcode
    return GraphResponse(status, {"error": body})


Answer = Callable[[GraphRequest, int], Awaitable[GraphResponse]]


async def always_ok(request: GraphRequest, _nth: int) -> GraphResponse:
    return ok(request)


class FakeTransport:
    """A Transport whose answers come from ``answer(request, nth send of that key)``."""

    def __init__(self, clock: ManualClock, answer: Answer = always_ok) -> None:
        self.clock = clock
        self.answer = answer
        self.sent: list[tuple[float, GraphRequest]] = []
        self.per_key: Counter[tuple[str, str]] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()

    async def send(self, request: GraphRequest) -> GraphResponse:
        account = account_of(request)
        key = (account, dict(request.params)["until"])
        self.per_key[key] += 1
        self.sent.append((self.clock.monotonic(), request))
        self.in_flight[account] += 1
        self.max_in_flight[account] = max(self.max_in_flight[account], self.in_flight[account])
        try:
            return await self.answer(request, self.per_key[key])
        finally:
            self.in_flight[account] -= 1

    def accounts_sent(self) -> list[str]:
        return [account_of(r) for _, r in self.sent]

    def sends_to(self, account: str) -> int:
        return sum(1 for _, r in self.sent if account_of(r) == account)


class Source:
    """An AccountSource handing each account its prepared plan."""

    def __init__(self, plans: dict[str, list[PlannedRequest]]) -> None:
        self.plans = plans

    async def activate(self, account: AccountRun) -> None:
        account.requests = iter(self.plans[account.id])


class Harness:
    """A Pool over prepared accounts: ``accounts`` maps app -> [(account, token, n requests)]."""

    def __init__(
        self,
        accounts: dict[str, list[tuple[str, str, int]]],
        answer: Answer = always_ok,
        *,
        concurrency: int | dict[str, int] = 2,
        per_account: int = 4,
        secret: str | None = None,
    ) -> None:
        self.clock = ManualClock(START)
        self.transport = FakeTransport(self.clock, answer)
        self.outcomes: list[Outcome] = []
        self.plans = {
            account: planned(account, n, app)
            for app, rows in accounts.items()
            for account, _token, n in rows
        }

        def runs(app: str) -> Callable[[], Iterator[AccountRun]]:
            return lambda: iter(AccountRun(a, app, token) for a, token, _n in accounts[app])

        def conc(app: str) -> int:
            return concurrency if isinstance(concurrency, int) else concurrency[app]

        # A huge budget: these tests are about the pool, not the pacing.
        budgets = {app: BudgetSettings(calls_per_hour=1e9) for app in accounts}
        self.caller = Caller(
            self.transport, Pacing(budgets, self.clock), self.clock, concurrency=64, policy=POLICY
        )
        self.pool = Pool(
            caller=self.caller,
            emit=self._emit,
            source=Source(self.plans),
            apps={app: AppSettings(app, conc(app), secret) for app in accounts},
            accounts={app: runs(app) for app in accounts},
            clock=self.clock,
            version=VERSION,
            per_account=per_account,
            seed=SEED,
        )
        self.task: asyncio.Future[RunStats] | None = None

    async def _emit(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    async def start(self) -> None:
        """Start the run and let it go as far as it can without moving the clock."""
        self.task = asyncio.ensure_future(self.pool.run())
        await settle()

    async def finish(self, step: float = 1.0, max_steps: int = 2000) -> RunStats:
        """Advance the clock step by step until run() returns."""
        if self.task is None:
            await self.start()
        assert self.task is not None
        for _ in range(max_steps):
            if self.task.done():
                return self.task.result()
            self.clock.advance(step)
            await settle()
        raise AssertionError("the pool did not finish")

    def by_key(self) -> dict[str, Outcome]:
        keys = [o.key for o in self.outcomes]
        assert len(keys) == len(set(keys)), "a request ended more than once"
        return {o.key: o for o in self.outcomes}

    def keys_of(self, *accounts: str) -> set[str]:
        return {r.key for a in accounts for r in self.plans[a]}


async def settle() -> None:
    for _ in range(60):
        await asyncio.sleep(0)


@pytest.fixture(autouse=True)
def events() -> Iterator[list[dict[str, Any]]]:
    """The pool's log events (and no log output during the tests)."""
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as captured:
        yield captured


def answers_once(bad: Callable[[GraphRequest], bool], response: GraphResponse) -> Answer:
    """The first send of each request matching ``bad`` gets ``response``; the rest are ok."""

    async def answer(request: GraphRequest, nth: int) -> GraphResponse:
        return response if nth == 1 and bad(request) else ok(request)

    return answer


def first_request_of(account: str) -> Callable[[GraphRequest], bool]:
    return lambda r: account_of(r) == account and day_of(r) == FIRST_DAY


# -- the normal path ---------------------------------------------------------------------------


async def test_every_request_ends_as_exactly_one_outcome() -> None:
    """run() returns once every planned request has one outcome, all done here."""
    h = Harness({"main": [("a", "t", 4), ("b", "t", 3), ("c", "t", 2)]}, concurrency=3)
    stats = await h.finish()
    outcomes = h.by_key()
    assert set(outcomes) == h.keys_of("a", "b", "c")
    assert {o.state for o in outcomes.values()} == {"done"}
    assert stats.calls == 9 and stats.outcomes == Counter({"done": 9})


async def test_a_done_outcome_carries_the_parsed_points_of_its_days_only() -> None:
    """The outcome holds the planned day's value as a Point; the neighbour day is dropped."""
    h = Harness({"main": [("a", "t", 1)]})
    await h.finish()
    (outcome,) = h.outcomes
    window = h.plans["a"][0].window
    assert window is not None
    assert outcome.points == (
        Point(
            "a",
            "reach",
            "day",
            graph_end_time(FIRST_DAY).replace("+0000", "Z"),
            {},
            value_for("a", FIRST_DAY),
            VERSION,
            "2024-02-01T20:00:00.000Z",
        ),
    )
    assert (outcome.since, outcome.until, outcome.attempts) == (window.since, window.until, 1)


async def test_an_empty_answer_is_no_data() -> None:
    """``"data": []`` ends the request as no_data, without points."""

    async def empty(_request: GraphRequest, _nth: int) -> GraphResponse:
        return GraphResponse(200, {"data": []})

    h = Harness({"main": [("a", "t", 2)]}, empty)
    await h.finish()
    assert {(o.state, o.points) for o in h.outcomes} == {("no_data", ())}


async def test_the_request_sent_carries_window_token_and_secret() -> None:
    """Each send has path <id>/insights, metric/period/since/until, the token and app secret."""
    h = Harness({"main": [("a", "tok-a", 1)]}, secret="app-secret")
    await h.finish()
    ((_, sent),) = h.transport.sent
    window = h.plans["a"][0].window
    assert window is not None
    assert sent.path == "a/insights"
    assert sent.params == (
        ("metric", "reach"),
        ("period", "day"),
        ("since", str(window.since)),
        ("until", str(window.until)),
    )
    assert (sent.token, sent.app_secret) == ("tok-a", "app-secret")


async def test_extra_params_follow_the_window() -> None:
    """A planned request's own params (metric_type, ...) are sent after since/until."""
    h = Harness({"main": [("a", "t", 0)]})
    window = window_of(FIRST_DAY, FIRST_DAY)
    h.plans["a"].append(
        PlannedRequest(
            "a|x", "a", "main", ("reach",), "day", window, (("metric_type", "time_series"),)
        )
    )
    await h.finish()
    ((_, sent),) = h.transport.sent
    assert sent.params[-1] == ("metric_type", "time_series")


async def test_no_accounts_returns_at_once() -> None:
    """A pool with nothing to do returns from run() without any call."""
    h = Harness({"main": []})
    stats = await asyncio.wait_for(h.pool.run(), timeout=1)
    assert stats.calls == 0 and h.outcomes == []


async def test_a_single_worker_finishes_many_accounts() -> None:
    """One worker over more accounts than it keeps active still reaches every account."""
    rows = [(f"acc{i}", "t", 2) for i in range(12)]
    h = Harness({"main": rows}, concurrency=1)
    await h.finish()
    assert set(h.by_key()) == h.keys_of(*(a for a, _, _ in rows))


# -- fairness and isolation --------------------------------------------------------------------


async def test_accounts_are_sent_round_robin() -> None:
    """With one worker the sends alternate between accounts: a, b, c, a, b, c, ..."""
    h = Harness({"main": [("a", "t", 3), ("b", "t", 3), ("c", "t", 3)]}, concurrency=1)
    await h.finish()
    assert h.transport.accounts_sent() == ["a", "b", "c"] * 3


async def test_at_most_per_account_requests_in_flight() -> None:
    """However many workers, an account never has more than per_account sends at once."""
    gate = asyncio.Event()

    async def held(request: GraphRequest, _nth: int) -> GraphResponse:
        await gate.wait()
        return ok(request)

    h = Harness({"main": [("a", "t", 6), ("b", "t", 6)]}, held, concurrency=8, per_account=2)
    await h.start()
    assert dict(h.transport.in_flight) == {"a": 2, "b": 2}
    gate.set()
    await h.finish()
    assert dict(h.transport.max_in_flight) == {"a": 2, "b": 2}
    assert len(h.outcomes) == 12


async def test_a_slow_account_does_not_stop_the_others() -> None:
    """While one account's sends hang, every other account is collected to the end."""
    gate = asyncio.Event()

    async def slow_a(request: GraphRequest, _nth: int) -> GraphResponse:
        if account_of(request) == "slow":
            await gate.wait()
        return ok(request)

    h = Harness(
        {"main": [("slow", "t", 4), ("b", "t", 5), ("c", "t", 5)]},
        slow_a,
        concurrency=3,
        per_account=1,
    )
    await h.start()
    assert {o.key for o in h.outcomes} == h.keys_of("b", "c")
    gate.set()
    await h.finish()
    assert set(h.by_key()) == h.keys_of("slow", "b", "c")


# -- retries and pauses ------------------------------------------------------------------------


async def test_a_retry_waits_for_its_delay_without_holding_a_worker() -> None:
    """A transient error sends the request back to wait; the only worker serves others meanwhile."""
    assert random.Random(SEED).random() > 0  # so the backoff is not zero
    h = Harness(
        {"main": [("a", "t", 1), ("b", "t", 3)]},
        answers_once(first_request_of("a"), error(2, status=500)),
        concurrency=1,
    )
    await h.start()
    assert {o.key for o in h.outcomes} == h.keys_of("b")
    assert h.transport.sends_to("a") == 1
    stats = await h.finish(step=0.1)
    outcome = h.by_key()["a|0"]
    assert (outcome.state, outcome.attempts) == ("done", 2)
    assert stats.retries == Counter({"transient": 1})
    first, second = (t for t, r in h.transport.sent if account_of(r) == "a")
    assert second - first >= 0.3 * POLICY.base_delay_s


async def test_transport_errors_are_retried_up_to_max_attempts() -> None:
    """A request that always times out is sent max_attempts times and fails as ``timeout``."""

    async def timeout(_request: GraphRequest, _nth: int) -> GraphResponse:
        raise RequestTimeout("no answer within 30 s")

    h = Harness({"main": [("a", "t", 1)]}, timeout)
    await h.finish()
    (outcome,) = h.outcomes
    assert (outcome.state, outcome.reason, outcome.attempts) == (
        "failed",
        "timeout",
        POLICY.max_attempts,
    )
    assert len(h.transport.sent) == POLICY.max_attempts


async def test_a_malformed_body_is_retried() -> None:
    """An answer carrying an unrequested metric is a BadResponse: sent again, then done."""
    stray = GraphResponse(200, {"data": [{"name": "impressions", "period": "day", "values": []}]})
    h = Harness({"main": [("a", "t", 1)]}, answers_once(first_request_of("a"), stray))
    await h.finish(step=0.1)
    (outcome,) = h.outcomes
    assert (outcome.state, outcome.attempts) == ("done", 2)


async def test_throttle_80002_pauses_only_that_account() -> None:
    """An Instagram BUC throttle pauses its account; other accounts keep going meanwhile."""
    h = Harness(
        {"main": [("a", "t", 3), ("b", "t", 3)]},
        answers_once(first_request_of("a"), error(80002)),
        concurrency=1,
        per_account=1,
    )
    await h.start()
    assert {o.key for o in h.outcomes} == h.keys_of("b")
    assert h.transport.sends_to("a") == 1
    stats = await h.finish()
    assert set(h.by_key()) == h.keys_of("a", "b")
    assert stats.throttled == Counter({"account": 1})
    later = [t for t, r in h.transport.sent if account_of(r) == "a"][1:]
    assert min(later) >= POLICY.throttle_pause_s / 2


async def test_code_4_pauses_the_whole_app_only() -> None:
    """An app rate limit (#4) pauses every account of that app; another app keeps going."""
    h = Harness(
        {"x": [("x1", "t1", 2), ("x2", "t1", 2)], "y": [("y1", "t2", 3)]},
        answers_once(first_request_of("x1"), error(4, status=403)),
        concurrency=1,
    )
    await h.start()
    assert {o.key for o in h.outcomes} == h.keys_of("y1")
    assert h.transport.accounts_sent().count("x2") == 0
    assert h.transport.sends_to("x1") == 1
    stats = await h.finish()
    assert set(h.by_key()) == h.keys_of("x1", "x2", "y1")
    assert stats.throttled == Counter({"app": 1})
    x_later = [t for t, r in h.transport.sent if account_of(r) in ("x1", "x2")][1:]
    assert min(x_later) >= POLICY.throttle_pause_s / 2


async def test_code_17_pauses_every_account_on_that_token() -> None:
    """A user rate limit (#17) pauses all accounts on the token; other tokens carry on."""
    h = Harness(
        {"main": [("a", "t1", 2), ("b", "t1", 2), ("c", "t2", 2)]},
        answers_once(first_request_of("a"), error(17)),
        concurrency=1,
    )
    await h.start()
    assert {o.key for o in h.outcomes} == h.keys_of("c")
    assert h.transport.sends_to("a") + h.transport.sends_to("b") == 1
    stats = await h.finish()
    assert set(h.by_key()) == h.keys_of("a", "b", "c")
    assert stats.throttled == Counter({"token": 1})


async def test_a_request_throttled_too_often_fails_as_throttled() -> None:
    """After max_throttle_waits pauses, a still-throttled request fails with reason throttled."""

    async def always_throttled(_request: GraphRequest, _nth: int) -> GraphResponse:
        return error(80002)

    h = Harness({"main": [("a", "t", 1)]}, always_throttled)
    await h.finish(step=5.0)
    (outcome,) = h.outcomes
    assert (outcome.state, outcome.reason) == ("failed", "throttled")
    assert outcome.attempts == POLICY.max_throttle_waits + 1


async def test_budget_paused_event_names_the_scope(events: list[dict[str, Any]]) -> None:
    """A throttle logs budget_paused with its scope and the error reason."""
    h = Harness({"main": [("a", "t", 1)]}, answers_once(first_request_of("a"), error(80002)))
    await h.finish()
    paused = [e for e in events if e["event"] == "budget_paused"]
    assert [(e["scope"], e["error"], e["account"]) for e in paused] == [
        ("account", "throttled", "a")
    ]


# -- stopping --------------------------------------------------------------------------------------


async def test_token_190_stops_every_account_on_that_token() -> None:
    """A dead token fails every request of every account on it (all apps); others complete."""

    async def dead_t1(request: GraphRequest, _nth: int) -> GraphResponse:
        return error(190, 463) if request.token == "t1" else ok(request)

    h = Harness(
        {
            "x": [("a", "t1", 4), ("b", "t1", 4), ("c", "t2", 4)],
            "y": [("d", "t1", 4), ("e", "t2", 4)],
        },
        dead_t1,
        concurrency=2,
    )
    stats = await h.finish()
    outcomes = h.by_key()
    assert set(outcomes) == h.keys_of("a", "b", "c", "d", "e")
    dead = h.keys_of("a", "b", "d")
    assert {(outcomes[k].state, outcomes[k].reason) for k in dead} == {("failed", "token_invalid")}
    assert {outcomes[k].state for k in h.keys_of("c", "e")} == {"done"}
    t1_sends = sum(1 for _, r in h.transport.sent if r.token == "t1")
    assert 1 <= t1_sends <= 4  # at most the 2 + 2 workers that were already sending
    assert stats.dead_tokens == 1
    assert stats.failed_accounts == {
        "a": "token_invalid",
        "b": "token_invalid",
        "d": "token_invalid",
    }


async def test_token_invalid_is_logged_by_fingerprint(events: list[dict[str, Any]]) -> None:
    """The token_invalid event names the token by fingerprint and never by value."""

    async def dead(_request: GraphRequest, _nth: int) -> GraphResponse:
        return error(190)

    h = Harness({"main": [("a", "EAAsecretTOKEN123456", 2)]}, dead, concurrency=1)
    await h.finish()
    logged = [e for e in events if e["event"] == "token_invalid"]
    assert len(logged) == 1
    assert logged[0]["token"] == token_fingerprint("EAAsecretTOKEN123456")
    assert all("EAAsecretTOKEN123456" not in repr(e) for e in events)


async def test_code_10_stops_only_that_account() -> None:
    """A permission error stops its account (rest failed unsent); the same token's others finish."""
    h = Harness(
        {"main": [("a", "t", 3), ("b", "t", 3)]},
        answers_once(first_request_of("a"), error(10, status=403)),
        concurrency=1,
        per_account=1,
    )
    stats = await h.finish()
    outcomes = h.by_key()
    assert {(outcomes[k].state, outcomes[k].reason) for k in h.keys_of("a")} == {
        ("failed", "permission_denied")
    }
    assert {outcomes[k].state for k in h.keys_of("b")} == {"done"}
    assert h.transport.sends_to("a") == 1
    assert stats.failed_accounts == {"a": "permission_denied"}


async def test_code_100_fails_only_that_request() -> None:
    """An invalid parameter fails its request, sent once, without stopping the account."""
    h = Harness(
        {"main": [("a", "t", 1), ("b", "t", 2)]},
        answers_once(first_request_of("a"), error(100)),
        concurrency=1,
    )
    stats = await h.finish()
    outcomes = h.by_key()
    rejected = outcomes["a|0"]
    assert (rejected.state, rejected.attempts, rejected.points) == ("failed", 1, ())
    assert h.transport.sends_to("a") == 1
    assert {outcomes[k].state for k in h.keys_of("b")} == {"done"}
    assert stats.failed_accounts == {}


async def test_stats_count_calls_per_app() -> None:
    """calls_by_app counts every HTTP attempt, retries included, per app."""
    h = Harness(
        {"x": [("a", "t", 2)], "y": [("b", "t", 1)]},
        answers_once(first_request_of("a"), error(2, status=500)),
        concurrency=1,
    )
    stats = await h.finish(step=0.1)
    assert stats.calls_by_app == Counter({"x": 3, "y": 1})
