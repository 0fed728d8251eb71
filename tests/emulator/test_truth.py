"""Ground truth agrees with the edge, and its CLI prints it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest

from collector.emulator.truth import main, truth_points, truth_values

from .edge_support import BIG, NOW, SCENARIO, SMALL, TODAY_START, ask, scenario, utc

W = 86400
# (account, token, version, metric, period, extra params, since, until, now)
SAMPLES: list[tuple[str, str, str, str, str, dict[str, str], int | None, int | None, float]] = [
    (BIG, "T1", "v17.0", "impressions", "day", {}, 1576771200, 1577635200, NOW),
    (BIG, "T1", "v17.0", "reach", "week", {}, TODAY_START - 20 * W, TODAY_START + W, NOW),
    (BIG, "T1", "v17.0", "impressions", "days_28", {}, TODAY_START - 9 * W, TODAY_START, NOW),
    (BIG, "T1", "v17.0", "website_clicks", "day", {}, None, None, NOW),
    (BIG, "T1", "v17.0", "follower_count", "day", {}, TODAY_START - 29 * W, TODAY_START + W, NOW),
    (BIG, "T1", "v17.0", "online_followers", "lifetime", {}, TODAY_START - 4 * W, TODAY_START, NOW),
    (BIG, "T1", "v17.0", "audience_country", "lifetime", {}, None, None, NOW),
    (SMALL, "T2", "v17.0", "follower_count", "day", {}, None, None, NOW),
    (
        BIG,
        "T1",
        "v19.0",
        "reach",
        "day",
        {"metric_type": "total_value", "breakdown": "follow_type"},
        TODAY_START - 6 * W,
        TODAY_START + W,
        NOW,
    ),
    (
        BIG,
        "T1",
        "v22.0",
        "views",
        "day",
        {"metric_type": "total_value", "breakdown": "media_product_type,follow_type"},
        TODAY_START - 3 * W,
        TODAY_START,
        NOW,
    ),
    (
        BIG,
        "T1",
        "v22.0",
        "profile_links_taps",
        "day",
        {"metric_type": "total_value", "breakdown": "contact_button_type"},
        TODAY_START - 12 * W,
        TODAY_START,
        NOW,
    ),
    (
        BIG,
        "T1",
        "v20.0",
        "engaged_audience_demographics",
        "lifetime",
        {"metric_type": "total_value", "timeframe": "this_week", "breakdown": "gender,age"},
        None,
        None,
        NOW,
    ),
    (
        BIG,
        "T1",
        "v17.0",
        "impressions",
        "day",
        {},
        int(utc("2024-10-25T19:00:00")),
        int(utc("2024-11-10T19:00:00")),
        utc("2024-11-20T00:00:00"),
    ),
]


@pytest.mark.parametrize("sample", SAMPLES, ids=[f"{s[3]}-{s[4]}-{s[2]}" for s in SAMPLES])
def test_truth_values_equal_edge_values(sample: tuple[Any, ...]) -> None:
    """For each sample request the edge serves exactly truth_values for the metric."""
    account, token, version, metric, period, extra, since, until, now = sample
    params = {"metric": metric, "period": period, **extra}
    if since is not None:
        params |= {"since": str(since), "until": str(until)}
    answer = ask(params, ig=account, token=token, version=version, now=now)
    assert answer.status == 200, answer.body
    expected = truth_values(
        SCENARIO,
        account_id=account,
        metric=metric,
        period=period,
        since=since,
        until=until,
        now=now,
        version=version,
        metric_type=extra.get("metric_type"),
        breakdown=extra.get("breakdown"),
        timeframe=extra.get("timeframe"),
    )
    data = answer.body["data"]
    if not expected:
        assert data == []
        return
    (entry,) = data
    served = [entry["total_value"]] if "total_value" in entry else entry["values"]
    assert served == expected


def test_truth_respects_inclusive_edge() -> None:
    """With since_edge inclusive, truth selects the day ending at since, as the edge does."""
    world = scenario(since_edge="inclusive")
    values = truth_values(
        world,
        account_id=BIG,
        metric="reach",
        period="day",
        since=TODAY_START - W,
        until=TODAY_START,
        now=NOW,
    )
    assert [v["end_time"] for v in values] == [
        "2019-12-29T08:00:00+0000",
        "2019-12-30T08:00:00+0000",
    ]


def test_points_cover_every_end_date_beyond_30_days() -> None:
    """truth_points gives one plain point per end_time date, even over more than 30 days."""
    points = truth_points(
        SCENARIO,
        account_id=BIG,
        metric="impressions",
        period="day",
        first_end_date=dt.date(2019, 10, 1),
        last_end_date=dt.date(2019, 12, 29),
        now=NOW,
    )
    assert len(points) == 90
    assert points[0][:2] == ("2019-10-01T07:00:00Z", {})
    assert points[-1][:2] == ("2019-12-29T08:00:00Z", {})


def test_points_stop_before_today_for_follower_count() -> None:
    """follower_count points end with the day before today, even if the dates reach further."""
    points = truth_points(
        SCENARIO,
        account_id=BIG,
        metric="follower_count",
        period="day",
        first_end_date=dt.date(2019, 12, 28),
        last_end_date=dt.date(2020, 1, 5),
        now=NOW,
    )
    assert [p[0] for p in points] == [
        "2019-12-28T08:00:00Z",
        "2019-12-29T08:00:00Z",
        "2019-12-30T08:00:00Z",
    ]


def test_points_include_today_partial_for_impressions() -> None:
    """A plain metric's points include today's partial value, ending the midnight after today."""
    points = truth_points(
        SCENARIO,
        account_id=BIG,
        metric="impressions",
        period="day",
        first_end_date=dt.date(2019, 12, 31),
        last_end_date=dt.date(2020, 1, 3),
        now=NOW,
    )
    assert [p[0] for p in points] == ["2019-12-31T08:00:00Z"]


def test_online_followers_points_are_hourly() -> None:
    """online_followers gives 24 points per day with an hour dimension."""
    points = truth_points(
        SCENARIO,
        account_id=BIG,
        metric="online_followers",
        period="lifetime",
        first_end_date=dt.date(2019, 12, 20),
        last_end_date=dt.date(2019, 12, 21),
        now=NOW,
    )
    assert len(points) == 48
    assert {p[1]["hour"] for p in points} == {str(h) for h in range(24)}


def test_audience_points_ignore_dates() -> None:
    """audience_locale gives one lifetime map: no end_time, a locale dimension."""
    points = truth_points(
        SCENARIO,
        account_id=BIG,
        metric="audience_locale",
        period="lifetime",
        first_end_date=dt.date(2019, 1, 1),
        last_end_date=dt.date(2019, 1, 1),
        now=NOW,
    )
    assert 0 < len(points) <= 45
    assert all(p[0] is None and set(p[1]) == {"locale"} for p in points)


def test_small_account_has_no_gated_points() -> None:
    """Under 100 followers, truth has no follower_count points."""
    assert (
        truth_points(
            SCENARIO,
            account_id=SMALL,
            metric="follower_count",
            period="day",
            first_end_date=dt.date(2019, 12, 1),
            last_end_date=dt.date(2019, 12, 29),
            now=NOW,
        )
        == []
    )


def test_daily_total_points_add_up_to_a_range_total() -> None:
    """The per-day total points of a range sum to the edge's total over that range."""
    common: dict[str, Any] = {
        "account_id": BIG,
        "metric": "likes",
        "period": "day",
        "first_end_date": dt.date(2019, 12, 21),
        "last_end_date": dt.date(2019, 12, 30),
        "now": NOW,
        "version": "v18.0",
        "metric_type": "total_value",
    }
    plain = truth_points(SCENARIO, **common)
    split = truth_points(SCENARIO, **common, breakdown="media_product_type")
    assert len(plain) == 10 and all(p[1] == {} for p in plain)
    assert all(set(p[1]) == {"media_product_type"} for p in split)
    answer = ask(
        {
            "metric": "likes",
            "period": "day",
            "metric_type": "total_value",
            "since": str(int(utc("2019-12-20T20:00:00"))),
            "until": str(int(utc("2019-12-30T20:00:00"))),
        },
        version="v18.0",
    )
    total = answer.body["data"][0]["total_value"]["value"]
    assert sum(p[2] for p in plain) == total == sum(p[2] for p in split)


def test_cli_prints_truth_values(capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI with unix seconds prints truth_values as JSON and returns 0."""
    from collector.emulator.scenario import default_scenario

    argv = [
        "--account",
        "17841400000000002",
        "--metric",
        "reach",
        "--period",
        "day",
        "--since",
        "1576771200",
        "--until",
        "1577635200",
        "--now",
        str(NOW),
    ]
    assert main(argv) == 0
    printed = orjson.loads(capsys.readouterr().out)
    assert printed == truth_values(
        default_scenario(),
        account_id="17841400000000002",
        metric="reach",
        period="day",
        since=1576771200,
        until=1577635200,
        now=NOW,
    )
    assert len(printed) == 10


def test_cli_dates_print_points(capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI with YYYY-MM-DD prints flattened points."""
    argv = [
        "--account",
        "17841400000000002",
        "--metric",
        "impressions",
        "--period",
        "day",
        "--since",
        "2019-12-01",
        "--until",
        "2019-12-03",
        "--now",
        str(NOW),
    ]
    assert main(argv) == 0
    printed = orjson.loads(capsys.readouterr().out)
    assert [p["end_time"] for p in printed] == [
        "2019-12-01T08:00:00Z",
        "2019-12-02T08:00:00Z",
        "2019-12-03T08:00:00Z",
    ]
    assert all(p["dimensions"] == {} for p in printed)


def test_cli_seed_changes_values(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """--seed overrides the scenario file's seed, giving other values."""
    path = tmp_path / "s.toml"
    path.write_text(
        'seed = 1\n[[apps]]\nname = "a"\napp_id = "1"\napp_secret = "x"\n'
        '[[accounts]]\nid = "5"\nfollowers = 1000\ntoken = "t"\napp = "a"\n'
    )
    base = [
        "--scenario",
        str(path),
        "--account",
        "5",
        "--metric",
        "impressions",
        "--period",
        "day",
        "--since",
        "2019-12-01",
        "--until",
        "2019-12-10",
        "--now",
        str(NOW),
    ]
    assert main(base) == 0
    first = capsys.readouterr().out
    assert main([*base, "--seed", "2"]) == 0
    assert capsys.readouterr().out != first


def test_cli_bad_input_returns_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown account is reported on stderr with exit status 2."""
    argv = ["--account", "nope", "--metric", "reach", "--period", "day", "--now", str(NOW)]
    assert main(argv) == 2
    assert "nope" in capsys.readouterr().err
