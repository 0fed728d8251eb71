"""The disputed behaviours: each default, and the [fidelity] switch that gives the other reading."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from collector.emulator.clock import FixedClock
from collector.emulator.scenario import Fidelity, ScenarioError
from collector.emulator.testing import running_emulator

from .edge_support import BIG, NOW, SCENARIO, TODAY_START, ask, error_of, scenario, values_of

DAY = 86400
YESTERDAY = TODAY_START - DAY


@pytest.mark.parametrize("period", ["week", "days_28"])
@pytest.mark.parametrize("version", ["v18.0", "v21.0", "v24.0"])
def test_reach_long_periods_served_by_default(version: str, period: str) -> None:
    """v18+ reach with week/days_28 answers rolling values (Airbyte's recorded fixtures)."""
    params = {"metric": "reach", "period": period, "since": str(YESTERDAY - 5 * DAY)}
    params["until"] = str(YESTERDAY)
    answer = ask(params, version=version)
    assert answer.body["data"][0]["period"] == period
    assert len(values_of(answer)) == 5


def test_reach_long_periods_refused_when_switched_off() -> None:
    """With reach_long_periods = false, v21 reach week is Meta's 'not supported with period'."""
    strict = scenario(fidelity={"reach_long_periods": False})
    answer = ask({"metric": "reach", "period": "days_28"}, version="v21.0", world=strict)
    assert error_of(answer) == (
        400,
        100,
        "(#100) The following metrics (reach) are not supported with period=days_28",
    )
    assert ask({"metric": "reach", "period": "day"}, version="v21.0", world=strict).status == 200


def test_since_equal_until_accepted_by_default() -> None:
    """since == until is a valid, empty-length window by default (200)."""
    moment = str(YESTERDAY + 12 * 3600)
    answer = ask({"metric": "reach", "period": "day", "since": moment, "until": moment})
    assert answer.status == 200


def test_since_equal_until_refused_when_switched() -> None:
    """With since_equal_until = "reject" the same request is a code 100 error."""
    moment = str(YESTERDAY + 12 * 3600)
    strict = scenario(fidelity={"since_equal_until": "reject"})
    answer = ask(
        {"metric": "reach", "period": "day", "since": moment, "until": moment}, world=strict
    )
    assert error_of(answer)[:2] == (400, 100)


FUTURE = {"metric": "reach", "period": "day", "since": "+2 days", "until": "+5 days"}


def test_future_since_refused_by_default_with_metas_message() -> None:
    """A since after now is Meta's recorded '(#100) since param is not valid...' error."""
    assert error_of(ask(FUTURE)) == (
        400,
        100,
        "(#100) since param is not valid. Metrics data is available for the last 2 years",
    )


def test_future_since_served_empty_when_switched() -> None:
    """With future_since = "accept" the future window answers empty data."""
    answer = ask(FUTURE, world=scenario(fidelity={"future_since": "accept"}))
    assert answer.status == 200 and answer.body["data"] == []


def test_since_today_is_not_future() -> None:
    """A window reaching into today (since before now) is served with today's partial value."""
    # until must reach today's end_time (the midnight ending today) for today to be served.
    answer = ask({"metric": "reach", "period": "day", "since": "yesterday", "until": "+1 day"})
    assert values_of(answer)[-1]["end_time"].startswith("2019-12-31")


def test_old_since_served_by_default_and_refused_past_the_switched_age() -> None:
    """max_since_age_days = 730 refuses a since older than two years, with the same message."""
    old = {"metric": "reach", "period": "day", "since": "2017-11-01", "until": "2017-11-20"}
    assert ask(old).status == 200
    strict = scenario(fidelity={"max_since_age_days": 730})
    assert "last 2 years" in error_of(ask(old, world=strict))[2]
    recent = {"metric": "reach", "period": "day", "since": "2018-02-01", "until": "2018-02-20"}
    assert ask(recent, world=strict).status == 200


def _next_until(answer_body: dict[str, object]) -> int | None:
    paging = answer_body["paging"]
    assert isinstance(paging, dict)
    if "next" not in paging:
        return None
    return int(parse_qs(urlsplit(paging["next"]).query)["until"][0])


def test_paging_next_runs_on_into_the_future_by_default() -> None:
    """paging.next is always given (SPEC 3: following it walks into the future)."""
    params = {"metric": "reach", "period": "day", "since": "-10 days", "until": "now"}
    until = _next_until(ask(params).body)
    assert until is not None and until > NOW


def test_paging_next_stops_at_now_when_switched() -> None:
    """With paging_stops_at_now, no next once its window would start after now; previous stays."""
    world = scenario(fidelity={"paging_stops_at_now": True})
    past = {"metric": "reach", "period": "day", "since": "2019-12-01", "until": "2019-12-10"}
    assert _next_until(ask(past, world=world).body) is not None
    reaching = {"metric": "reach", "period": "day", "since": "-3 days", "until": "+1 hour"}
    body = ask(
        reaching, world=scenario(fidelity={"paging_stops_at_now": True, "future_since": "reject"})
    ).body
    assert _next_until(body) is None and "previous" in body["paging"]  # type: ignore[operator]


def test_defaults_are_the_documented_choices() -> None:
    """The default scenario carries the defaults docs/emulator.md states."""
    assert SCENARIO.fidelity == Fidelity()
    assert Fidelity() == Fidelity(
        reach_long_periods=True,
        since_equal_until="accept",
        future_since="reject",
        paging_stops_at_now=False,
        follower_demographics_timeframe="optional",
        max_since_age_days=0,
    )


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ({"reach_long_period": True}, "reach_long_period"),
        ({"since_equal_until": "maybe"}, "since_equal_until"),
        ({"paging_stops_at_now": "yes"}, "paging_stops_at_now"),
    ],
)
def test_fidelity_table_mistakes_are_named(table: dict[str, object], named: str) -> None:
    """An unknown key or a wrong value in [fidelity] is a ScenarioError naming it."""
    with pytest.raises(ScenarioError, match=named):
        scenario(fidelity=table)


async def test_facebook_business_page_path_with_trailing_slash_over_http() -> None:
    """GET /v21.0/{page-id}/?fields=instagram_business_account is served, not code 2500."""
    async with running_emulator(SCENARIO, clock=FixedClock(NOW)) as emu:
        page = "1" + BIG[-14:]
        url = f"{emu.base_url}/v21.0/{page}/?fields=instagram_business_account&access_token=T1"
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            status, body = response.status, await response.json()
    assert status == 200
    assert body == {"instagram_business_account": {"id": BIG}, "id": page}
