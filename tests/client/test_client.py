"""The library call against the emulator: pyfacebook's answers, ground truth, errors, budgets.

pyfacebook is synchronous, so the emulator serves from a background thread with a
fixed clock; the async client talks to it over loopback like pyfacebook does.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pyfacebook import IGBusinessApi  # type: ignore[import-untyped]
from structlog.testing import capture_logs

from collector import InsightsClient
from collector.emulator.calllog import Route, fingerprint
from collector.emulator.clock import FixedClock
from collector.emulator.scenario import Scenario, default_scenario
from collector.emulator.testing import RunningEmulator, emulator_in_thread
from collector.emulator.truth import truth_values
from collector.errors import (
    BadResponse,
    InvalidRequest,
    PermissionDenied,
    TokenInvalid,
    TransientApiError,
    UnsupportedRequest,
)
from collector.graph.transport import GraphRequest, GraphResponse
from collector.pacing.retry import RetryPolicy

ROOT = Path(__file__).resolve().parents[2]
LA = ZoneInfo("America/Los_Angeles")
NOW = dt.datetime(2025, 11, 30, 12, tzinfo=LA).timestamp()
# agency-b demands appsecret_proof; account 024 has 45,500 followers.
SECRET_B, ACC_B, TOKEN_B = "demo-secret-b", "17841400000000024", "EAAdemoB024"
ACC_A, TOKEN_A = "17841400000000001", "EAAdemoA001"  # agency-a, 5,400 followers
# Edges on exact Pacific midnights: where a since-edge rule decides (end_time dates Nov 2..29).
SINCE = int(dt.datetime(2025, 11, 1, tzinfo=LA).timestamp())
UNTIL = int(dt.datetime(2025, 11, 29, tzinfo=LA).timestamp())
# 120 days over the November DST change, again on midnights.
LONG_SINCE = int(dt.datetime(2025, 8, 1, tzinfo=LA).timestamp())
FAST = RetryPolicy(base_delay_s=0.001, max_delay_s=0.005, max_attempts=3)


def scenario(since_edge: str = "exclusive") -> Scenario:
    return dataclasses.replace(default_scenario(), since_edge=since_edge)


@pytest.fixture
def emu() -> Iterator[RunningEmulator]:
    with emulator_in_thread(scenario(), clock=FixedClock(NOW)) as running:
        yield running


def client(emu: RunningEmulator, token: str = TOKEN_B, **kwargs: Any) -> InsightsClient:
    options: dict[str, Any] = {
        "app_secret": SECRET_B,
        "api_version": "v17.0",
        "base_url": emu.base_url,
        "calls_per_hour": 360_000,
        "retry_policy": FAST,
        "seed": 1,
    }
    options.update(kwargs)
    return InsightsClient(access_token=token, **options)


def pyfacebook(emu: RunningEmulator, version: str = "v17.0", token: str = TOKEN_B) -> Any:
    """pyfacebook's get_insights on the same emulator, returning the API's body."""
    api = IGBusinessApi(
        app_id="100000000000002",
        app_secret=SECRET_B,
        access_token=token,
        base_url=f"{emu.base_url}/",
        version=version,
        sleep_on_rate_limit=False,
    )
    return api.user


def insight_calls(emu: RunningEmulator) -> list[Any]:
    return [r for r in emu.calls.records() if r.route is Route.INSIGHTS]


async def test_json_equals_pyfacebook_for_a_range(emu: RunningEmulator) -> None:
    """return_json=True gives exactly the data entries pyfacebook gets for the same range."""
    async with client(emu) as c:
        ours = await c.get_user_insights(
            ACC_B, "day", "impressions,reach", since=SINCE, until=UNTIL, return_json=True
        )
    theirs = pyfacebook(emu).get_insights(
        user_id=ACC_B,
        metric="impressions,reach",
        period="day",
        since=str(SINCE),
        until=str(UNTIL),
        return_json=True,
    )
    assert ours == theirs["data"]


def as_tuples(models: Any) -> list[tuple[Any, ...]]:
    """Models (ours or pyfacebook's) as plain tuples, end_times read with fromisoformat."""
    return [
        (
            m.name,
            m.period,
            m.title,
            m.description,
            m.id,
            [
                (
                    dict(v.value) if isinstance(v.value, dict) else v.value,
                    dt.datetime.fromisoformat(v.end_time) if v.end_time else None,
                )
                for v in m.values
            ],
        )
        for m in models
    ]


async def test_models_equal_pyfacebook_models(emu: RunningEmulator) -> None:
    """Model objects carry pyfacebook's name, period, title, description, id and values."""
    async with client(emu) as c:
        ours = await c.get_user_insights(ACC_B, "day", ["impressions", "reach"], SINCE, UNTIL)
    theirs = pyfacebook(emu).get_insights(
        user_id=ACC_B, metric="impressions,reach", period="day", since=str(SINCE), until=str(UNTIL)
    )
    mine = [
        (m.name, m.period, m.title, m.description, m.id, [(v.value, v.end_time) for v in m.values])
        for m in ours
    ]
    assert len(theirs.data) == 2 and mine == as_tuples(theirs.data)


async def test_default_range_equals_pyfacebook(emu: RunningEmulator) -> None:
    """Without since/until the call sends neither and gets pyfacebook's default two days."""
    async with client(emu) as c:
        ours = await c.get_user_insights(ACC_B, "day", "reach", return_json=True)
    theirs = pyfacebook(emu).get_insights(
        user_id=ACC_B, metric="reach", period="day", return_json=True
    )
    assert ours == theirs["data"] and len(ours[0]["values"]) == 2


async def test_online_followers_maps_equal_pyfacebook(emu: RunningEmulator) -> None:
    """online_followers values are hour maps equal to pyfacebook's, one per day."""
    since = int(dt.datetime(2025, 11, 20, 12, tzinfo=LA).timestamp())
    async with client(emu) as c:
        ours = await c.get_user_insights(ACC_B, "lifetime", "online_followers", since, UNTIL)
    theirs = pyfacebook(emu).get_insights(
        user_id=ACC_B,
        metric="online_followers",
        period="lifetime",
        since=str(since),
        until=str(UNTIL),
    )
    mine = [[(dict(v.value), v.end_time) for v in m.values] for m in ours]  # type: ignore[arg-type]
    assert mine == [values for *_, values in as_tuples(theirs.data)]
    assert set(ours[0].values[0].value) == {str(hour) for hour in range(24)}  # type: ignore[arg-type]


async def test_audience_values_have_no_end_time(emu: RunningEmulator) -> None:
    """audience_city comes back as one map with end_time None, as pyfacebook reads it."""
    async with client(emu) as c:
        (ours,) = await c.get_user_insights(ACC_B, "lifetime", "audience_city")
    theirs = pyfacebook(emu).get_insights(user_id=ACC_B, metric="audience_city", period="lifetime")
    (value,) = ours.values
    assert value.end_time is None
    assert dict(value.value) == theirs.data[0].values[0].value  # type: ignore[arg-type]


async def test_total_value_with_breakdown_equals_pyfacebook(emu: RunningEmulator) -> None:
    """v22 views with metric_type=total_value and a breakdown equal pyfacebook's answer."""
    since = int(dt.datetime(2025, 11, 28, 12, tzinfo=LA).timestamp())
    async with client(emu, api_version="v22.0") as c:
        ours = await c.get_user_insights(
            ACC_B,
            "day",
            "views",
            since,
            UNTIL,
            return_json=True,
            metric_type="total_value",
            breakdown="media_product_type",
        )
    theirs = pyfacebook(emu, "v22.0").get_insights(
        user_id=ACC_B,
        metric="views",
        period="day",
        since=str(since),
        until=str(UNTIL),
        metric_type="total_value",
        breakdown="media_product_type",
        return_json=True,
    )
    assert ours == theirs["data"] and "breakdowns" in ours[0]["total_value"]


@pytest.mark.parametrize(
    "metrics",
    [
        "impressions,reach",
        ["impressions", "reach"],
        ("impressions", "reach"),
        {"reach", "impressions"},
    ],
)
async def test_metrics_as_str_list_tuple_or_set(emu: RunningEmulator, metrics: Any) -> None:
    """Metrics given as a str, list, tuple or set give the same answer as pyfacebook's str."""
    async with client(emu) as c:
        ours = await c.get_user_insights(ACC_B, "day", metrics, SINCE, UNTIL, return_json=True)
    theirs = pyfacebook(emu).get_insights(
        user_id=ACC_B,
        metric="impressions,reach",
        period="day",
        since=str(SINCE),
        until=str(UNTIL),
        return_json=True,
    )
    assert ours == theirs["data"]


@pytest.mark.parametrize("since_edge", ["exclusive", "inclusive"])
async def test_long_range_equals_ground_truth(since_edge: str) -> None:
    """120 days over DST, edges on midnights: exactly the truth of one unsplit request, either edge rule."""
    world = scenario(since_edge)
    with emulator_in_thread(world, clock=FixedClock(NOW)) as running:
        async with client(running, token=TOKEN_A, app_secret=None) as c:
            ours = await c.get_user_insights(
                ACC_A, "day", "impressions,reach", LONG_SINCE, UNTIL, return_json=True
            )
    truth = {
        metric: truth_values(
            world,
            account_id=ACC_A,
            metric=metric,
            period="day",
            since=LONG_SINCE,
            until=UNTIL,
            now=NOW,
        )
        for metric in ("impressions", "reach")
    }
    assert {e["name"]: e["values"] for e in ours} == truth
    assert len(truth["reach"]) == 120 + (since_edge == "inclusive")


async def test_long_range_takes_the_fewest_requests(emu: RunningEmulator) -> None:
    """A 120-day range (plus the DST hour) goes out as ceil(span / 30 days) = 5 requests."""
    async with client(emu) as c:
        await c.get_user_insights(ACC_B, "week", "reach", LONG_SINCE, UNTIL)
    assert len(insight_calls(emu)) == math.ceil((UNTIL - LONG_SINCE) / 2_592_000) == 5


async def test_long_follower_count_range_raises_the_api_refusal(emu: RunningEmulator) -> None:
    """follower_count over 60 days: the API refuses the older window (30-day history), code 100."""
    async with client(emu) as c:
        with pytest.raises(InvalidRequest) as raised:
            await c.get_user_insights(ACC_B, "day", "follower_count", UNTIL - 60 * 86_400, UNTIL)
    assert raised.value.code == 100 and "30 days" in str(raised.value)


@pytest.mark.parametrize(
    ("version", "args", "kwargs", "match"),
    [
        ("v22.0", ("day", "impressions"), {}, "retired in v22.0"),
        ("v17.0", ("week", "profile_views"), {}, "does not take period='week'"),
        ("v17.0", ("lifetime", "reach"), {}, "does not take period='lifetime'"),
        ("v22.0", ("day", "views"), {}, "needs metric_type='total_value'"),
        ("v17.0", ("day", "reach"), {"metric_type": "total_value"}, "does not exist in v17.0"),
        ("v22.0", ("day", "reach"), {"breakdown": "follow_type"}, "breakdown only works"),
        ("v22.0", ("day", "likes", 0, 60 * 86_400), {"metric_type": "total_value"}, "merged"),
        ("v17.0", ("day", " , "), {}, "names nothing"),
        ("v17.0", ("day", "reach", "yesterday", UNTIL), {}, "since"),
    ],
)
async def test_misfits_raise_value_error_before_any_request(
    emu: RunningEmulator, version: str, args: tuple[Any, ...], kwargs: dict[str, Any], match: str
) -> None:
    """A metric, period or parameter that does not fit the version is a ValueError; nothing is sent."""
    async with client(emu, api_version=version) as c:
        with pytest.raises(ValueError, match=match):
            await c.get_user_insights(ACC_B, *args, **kwargs)
    assert emu.calls.records() == []


async def test_invalid_token_raises_token_invalid_without_the_token(emu: RunningEmulator) -> None:
    """An unknown token is TokenInvalid (190) with an fbtrace_id; no text of it names the token."""
    bad = "EAAthisTokenIsNotKnown"
    async with client(emu, token=bad) as c:
        with pytest.raises(TokenInvalid) as raised:
            await c.get_user_insights(ACC_B, "day", "reach", SINCE, UNTIL)
    error = raised.value
    assert (error.code, error.subcode, error.is_transient) == (190, None, False)
    assert error.fbtrace_id
    assert bad not in f"{error} {error!r} {error.args} {error.body}"


async def test_foreign_account_raises_permission_denied(emu: RunningEmulator) -> None:
    """Another account's token (same app) is refused with PermissionDenied, code 10."""
    async with client(emu, token="EAAdemoB025") as c:
        with pytest.raises(PermissionDenied) as raised:
            await c.get_user_insights(ACC_B, "day", "reach", SINCE, UNTIL)
    assert raised.value.code == 10 and len(insight_calls(emu)) == 1


@pytest.mark.parametrize("fault", ["transient_1", "html_502", "truncated_json", "drop_mid_body"])
async def test_one_fault_is_retried_to_the_right_answer(emu: RunningEmulator, fault: str) -> None:
    """A transient error or a broken answer is retried once and the result equals the truth."""
    emu.state.faults.inject(fault)
    async with client(emu) as c:
        ours = await c.get_user_insights(ACC_B, "day", "reach", SINCE, UNTIL, return_json=True)
    truth = truth_values(
        scenario(),
        account_id=ACC_B,
        metric="reach",
        period="day",
        since=SINCE,
        until=UNTIL,
        now=NOW,
    )
    assert ours[0]["values"] == truth and len(insight_calls(emu)) == 2


async def test_persistent_transient_error_raises_after_the_allowed_attempts(
    emu: RunningEmulator,
) -> None:
    """Code 1 on every attempt raises TransientApiError (is_transient) after max_attempts calls."""
    emu.state.faults.inject("transient_1", count=10)
    async with client(emu) as c:
        with pytest.raises(TransientApiError) as raised:
            await c.get_user_insights(ACC_B, "day", "reach", SINCE, UNTIL)
    assert (raised.value.code, raised.value.is_transient) == (1, True)
    assert len(insight_calls(emu)) == FAST.max_attempts


async def test_disguised_throttle_raises_unsupported_request(emu: RunningEmulator) -> None:
    """100/33 on every attempt raises UnsupportedRequest after the policy's few tries."""
    emu.state.faults.inject("subcode_33", count=10)
    async with client(emu) as c:
        with pytest.raises(UnsupportedRequest) as raised:
            await c.get_user_insights(ACC_B, "day", "reach", SINCE, UNTIL)
    assert (raised.value.code, raised.value.subcode) == (100, 33)
    assert len(insight_calls(emu)) == FAST.unsupported_attempts


class StepClock:
    """A clock whose sleeps return at once and move monotonic time; it records each wait."""

    def __init__(self) -> None:
        self.mono = 0.0
        self.waits: list[float] = []

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(NOW, tz=dt.UTC)

    def monotonic(self) -> float:
        return self.mono

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.waits.append(seconds)
            self.mono += seconds


async def test_app_throttle_pauses_then_retries(emu: RunningEmulator) -> None:
    """Code 4 pauses the app for at least the policy's one second, then the retry succeeds."""
    emu.state.faults.inject("throttle_burst")
    clock = StepClock()
    async with client(emu, clock=clock) as c:
        ours = await c.get_user_insights(ACC_B, "day", "reach", SINCE, UNTIL)
    codes = [r.code for r in insight_calls(emu)]
    assert codes == [4, None] and len(ours[0].values) == 28
    assert len(clock.waits) == 1 and clock.waits[0] >= 1.0


async def test_access_token_overrides_the_clients_token(emu: RunningEmulator) -> None:
    """access_token= replaces the client's (bad) token for the call, proof included."""
    async with client(emu, token="EAAnotAValidToken") as c:
        ours = await c.get_user_insights(ACC_B, "day", "reach", SINCE, UNTIL, access_token=TOKEN_B)
    assert len(ours[0].values) == 28
    assert [r.token_fp for r in insight_calls(emu)] == [fingerprint(TOKEN_B)]


async def test_budget_spaces_the_calls(emu: RunningEmulator) -> None:
    """At 2 calls a second the 5 requests of a 120-day range span a second.

    After idle time the exact-rate bucket lets three go at once (its one second
    of catch-up, two calls, plus one), then one per 0.5 s: the 4th and 5th go
    0.5 s and 1 s after the first.
    """
    async with client(emu, calls_per_hour=2 * 3600) as c:
        await c.get_user_insights(ACC_B, "day", "reach", LONG_SINCE, UNTIL)
    times = sorted(r.real for r in insight_calls(emu))
    assert len(times) == 5 and times[-1] - times[0] >= 0.9


async def test_retry_logs_never_carry_the_token(emu: RunningEmulator) -> None:
    """The retry's log event names the error but no field carries the token or the secret."""
    emu.state.faults.inject("transient_2")
    with capture_logs() as events:
        async with client(emu) as c:
            await c.get_user_insights(ACC_B, "day", "reach", SINCE, UNTIL)
    retried = [e for e in events if e["event"] == "request_retried"]
    assert len(retried) == 1
    assert TOKEN_B not in repr(events) and SECRET_B not in repr(events)


class EchoingTransport:
    """A transport whose error message quotes the token it was sent (as no API should)."""

    async def send(self, request: GraphRequest) -> GraphResponse:
        message = f"(#100) bad token {request.token}"
        return GraphResponse(400, {"error": {"code": 100, "message": message, "fbtrace_id": "T"}})


async def test_an_api_message_quoting_the_token_is_redacted() -> None:
    """Should Meta's message echo the token, the raised error's text no longer holds it."""
    secret_token = "EAAsecretEchoed123"
    c = InsightsClient(access_token=secret_token, api_version="v17.0", transport=EchoingTransport())
    with pytest.raises(InvalidRequest) as raised:
        await c.get_user_insights(ACC_B, "day", "reach")
    assert secret_token not in f"{raised.value} {raised.value.body}"
    assert "[REDACTED]" in str(raised.value)


async def test_broken_body_is_retried_as_a_bad_response() -> None:
    """An answer without a data list counts as BadResponse and is retried up to max_attempts."""
    sent: list[GraphRequest] = []

    class NoData:
        async def send(self, request: GraphRequest) -> GraphResponse:
            sent.append(request)
            return GraphResponse(200, {"unexpected": True})

    c = InsightsClient(access_token="t", api_version="v17.0", transport=NoData(), retry_policy=FAST)
    with pytest.raises(BadResponse):
        await c.get_user_insights(ACC_B, "day", "reach")
    assert len(sent) == FAST.max_attempts


def test_library_example_script_matches_the_truth() -> None:
    """scripts/library_example.py prints, per metric, the truth's count and first and last end_time."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "library_example.py"), "--now", str(NOW)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = run.stdout.splitlines()
    until = int(NOW)
    for metric, line in zip(("impressions", "reach"), lines, strict=True):
        truth = truth_values(
            default_scenario(),
            account_id=ACC_A,
            metric=metric,
            period="day",
            since=until - 90 * 86_400,
            until=until,
            now=NOW,
        )
        first, last = (dt.datetime.fromisoformat(truth[i]["end_time"]) for i in (0, -1))
        assert line == f"{metric}: {len(truth)} values, {first} .. {last}"


def test_readme_library_example_runs() -> None:
    """The README's "Use it as a library" code block runs and prints one line per metric."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Use it as a library", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code is not None
    run = subprocess.run(
        [sys.executable, "-c", code.group(1)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
    )
    names = [line.split(":", 1)[0] for line in run.stdout.splitlines()]
    assert names == ["impressions", "reach"]
