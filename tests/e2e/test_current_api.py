"""Today's Graph API end to end: a v24.0 pull of every current metric and breakdown, demographics,
two apps on two versions in one run, and pyfacebook reading total_value answers."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyfacebook import IGBusinessApi  # type: ignore[import-untyped]

from collector.emulator.clock import FixedClock
from collector.emulator.scenario import Scenario
from collector.emulator.testing import RunningEmulator, emulator_in_thread
from collector.emulator.truth import truth_values
from collector.engine.summary import RunSummary
from tests.e2e.current import (
    CURRENT_METRICS,
    LA,
    V24,
    current_truth,
    pull,
    two_versions_pull,
)
from tests.e2e.helpers import (
    NOW,
    ndjson_points,
    small_scenario,
    sqlite_points,
)

Pulled = tuple[Scenario, RunSummary, int, Path]


@pytest.fixture(scope="module")
def v24_pull(tmp_path_factory: pytest.TempPathFactory) -> Pulled:
    """Every current metric and breakdown, both apps on v24.0: pulled once for the module."""
    out = tmp_path_factory.mktemp("v24")
    scenario, summary, refused = asyncio.run(pull(out, CURRENT_METRICS, {}, V24))
    return scenario, summary, refused, out


def test_v24_pull_equals_ground_truth_in_sqlite(v24_pull: Pulled) -> None:
    """Every current metric, breakdown part and demographic the emulator serves is in SQLite."""
    scenario, summary, refused, out = v24_pull
    truth = current_truth(scenario)
    assert (summary.failed, refused, summary.rejected_metrics) == (0, 0, {})
    assert sqlite_points(out / "insights.sqlite") == truth


def test_v24_pull_equals_ground_truth_in_ndjson_exactly_once(v24_pull: Pulled) -> None:
    """The NDJSON file holds every ground-truth point of the v24.0 pull once."""
    scenario, _summary, _refused, out = v24_pull
    truth = current_truth(scenario)
    assert ndjson_points(out / "insights.ndjson") == (truth, len(truth))


def test_v24_pull_sends_exactly_the_plan(v24_pull: Pulled) -> None:
    """Per account: 10 dates x (plain + 3 breakdown entries), one day window (reach and
    follower_count), one lifetime window, 2 x 2 x 5 demographics; each sent once."""
    _scenario, summary, _refused, _out = v24_pull
    per_account = 10 * 4 + 1 + 1 + 2 * 2 * 5
    assert (summary.planned, summary.calls) == (5 * per_account, 5 * per_account)


def test_daily_totals_end_at_the_pacific_midnight_ending_their_day(v24_pull: Pulled) -> None:
    """A daily total's end_time is the midnight ending its day, 07:00Z before 2 November, 08:00Z
    after, exactly as a time_series value's."""
    _scenario, _summary, _refused, out = v24_pull
    points = sqlite_points(out / "insights.sqlite")
    account = "17841400000000102"
    views = sorted(k[3] for k in points if k[:3] == (account, "views", "day") and k[4] == "{}")
    reach = sorted(k[3] for k in points if k[:3] == (account, "reach", "day") and k[4] == "{}")
    expected = [f"2025-10-{d}T07:00:00Z" for d in (28, 29, 30, 31)]
    expected += ["2025-11-01T07:00:00Z", "2025-11-02T07:00:00Z"]
    expected += [f"2025-11-0{d}T08:00:00Z" for d in (3, 4, 5, 6)]
    assert views == reach == expected


def test_breakdown_parts_sit_beside_the_plain_total(v24_pull: Pulled) -> None:
    """views is recorded per day as a plain total and as parts keyed by each breakdown."""
    _scenario, _summary, _refused, out = v24_pull
    points = sqlite_points(out / "insights.sqlite")
    account = "17841400000000102"
    shapes = {tuple(sorted(json.loads(k[4]))) for k in points if k[:2] == (account, "views")}
    assert shapes == {(), ("follow_type",), ("media_product_type",)}


def test_demographics_are_keyed_by_timeframe_and_breakdown(v24_pull: Pulled) -> None:
    """Demographic points have no end_time and dimensions like {"timeframe": "THIS_MONTH",
    "country": "US"}, one shape per breakdown entry."""
    _scenario, _summary, _refused, out = v24_pull
    with sqlite3.connect(out / "insights.sqlite") as db:
        rows = db.execute(
            "SELECT end_time, dimensions FROM insights WHERE metric = 'follower_demographics'"
            " AND account_id = '17841400000000102'"
        ).fetchall()
    dims = [json.loads(text) for _end, text in rows]
    assert {end for end, _text in rows} == {None}
    assert {d["timeframe"] for d in dims} == {"THIS_WEEK", "THIS_MONTH"}
    assert {tuple(sorted(d)) for d in dims} == {
        ("age", "timeframe"),
        ("city", "timeframe"),
        ("country", "timeframe"),
        ("gender", "timeframe"),
        ("age", "gender", "timeframe"),
    }
    assert {"timeframe": "THIS_MONTH", "country": "US"} in dims


async def test_two_apps_on_two_versions_in_one_run(tmp_path: Path) -> None:
    """app-a on v17.0 pulls the legacy catalogue and app-b on v24.0 the current one, in one run,
    each value for value and stamped with its app's version."""
    scenario, summary, refused, truth = await two_versions_pull(tmp_path)
    a_ids = [a.id for a in scenario.accounts if a.app == "app-a"]
    b_ids = [a.id for a in scenario.accounts if a.app == "app-b"]
    assert (summary.failed, refused) == (0, 0)
    assert sqlite_points(tmp_path / "insights.sqlite") == truth
    with sqlite3.connect(tmp_path / "insights.sqlite") as db:
        stamped = dict(
            db.execute(
                "SELECT account_id, group_concat(DISTINCT api_version) FROM insights"
                " GROUP BY account_id"
            ).fetchall()
        )
    assert stamped == {**dict.fromkeys(a_ids, "v17.0"), **dict.fromkeys(b_ids, V24)}


# pyfacebook is synchronous: the emulator serves from a thread (as in tests/emulator).
PF_SINCE = int(dt.datetime(2025, 11, 1, 12, tzinfo=LA).timestamp())  # end_time dates Nov 2..5
PF_UNTIL = int(dt.datetime(2025, 11, 5, 12, tzinfo=LA).timestamp())
PF_ACCOUNT = small_scenario().accounts[1]


@pytest.fixture
def threaded() -> Iterator[RunningEmulator]:
    with emulator_in_thread(small_scenario(), clock=FixedClock(NOW.timestamp())) as running:
        yield running


def _pyfacebook(emu: RunningEmulator) -> Any:
    return IGBusinessApi(
        app_id="2001",
        app_secret="secret-a",
        access_token=PF_ACCOUNT.token,
        base_url=f"{emu.base_url}/",
        version=V24,
        sleep_on_rate_limit=False,
    )


def _truth(metric: str, **kwargs: Any) -> list[dict[str, Any]]:
    return truth_values(
        small_scenario(),
        account_id=PF_ACCOUNT.id,
        metric=metric,
        now=NOW.timestamp(),
        version=V24,
        metric_type="total_value",
        **kwargs,
    )


def test_pyfacebook_parses_total_value_with_breakdowns(threaded: RunningEmulator) -> None:
    """pyfacebook's typed answer to a total_value + breakdown request carries the truth's total
    and parts for every metric."""
    response = _pyfacebook(threaded).user.get_insights(
        user_id=PF_ACCOUNT.id,
        metric="views,likes,saves",
        period="day",
        metric_type="total_value",
        breakdown="media_product_type",
        since=str(PF_SINCE),
        until=str(PF_UNTIL),
    )
    got = {
        entry.name: {
            "value": entry.total_value.value,
            "breakdowns": [
                {
                    "dimension_keys": b.dimension_keys,
                    "results": [
                        {"dimension_values": r.dimension_values, "value": r.value}
                        for r in b.results
                    ],
                }
                for b in entry.total_value.breakdowns
            ],
        }
        for entry in response.data
    }
    assert got == {
        m: _truth(m, period="day", since=PF_SINCE, until=PF_UNTIL, breakdown="media_product_type")[
            0
        ]
        for m in ("views", "likes", "saves")
    }


def test_pyfacebook_parses_a_plain_total(threaded: RunningEmulator) -> None:
    """Without breakdown, pyfacebook reads each metric's total_value.value as the truth's."""
    response = _pyfacebook(threaded).user.get_insights(
        user_id=PF_ACCOUNT.id,
        metric="accounts_engaged,reposts,profile_links_taps",
        period="day",
        metric_type="total_value",
        since=str(PF_SINCE),
        until=str(PF_UNTIL),
    )
    got = {entry.name: entry.total_value.value for entry in response.data}
    names = ("accounts_engaged", "reposts", "profile_links_taps")
    assert got == {
        m: _truth(m, period="day", since=PF_SINCE, until=PF_UNTIL)[0]["value"] for m in names
    }


def test_pyfacebook_parses_demographics(threaded: RunningEmulator) -> None:
    """pyfacebook reads a follower_demographics answer (timeframe + crossed breakdown) as the
    truth's results."""
    body = _pyfacebook(threaded).user.get_insights(
        user_id=PF_ACCOUNT.id,
        metric="follower_demographics",
        period="lifetime",
        metric_type="total_value",
        breakdown="age,gender",
        timeframe="this_month",
        return_json=True,
    )
    (entry,) = body["data"]
    expected = _truth(
        "follower_demographics",
        period="lifetime",
        since=None,
        until=None,
        breakdown="age,gender",
        timeframe="this_month",
    )
    assert entry["total_value"] == expected[0]
    assert entry["total_value"]["breakdowns"][0]["dimension_keys"] == ["timeframe", "age", "gender"]
