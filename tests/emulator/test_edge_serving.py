"""What the insights edge serves: days, shapes, rolling sums, paging (SPEC 3-4)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .edge_support import BIG, EXACT, NOW, SMALL, TODAY_START, ask, scenario, utc, values_of

SPEC_WINDOW = {"since": "1576771200", "until": "1577635200"}


def series(metric: str, period: str, since: int, until: int, now: float = NOW) -> list[Any]:
    answer = ask(
        {"metric": metric, "period": period, "since": str(since), "until": str(until)}, now=now
    )
    return values_of(answer)


def test_spec_example_returns_ten_winter_days() -> None:
    """The observed SPEC window gives exactly ten values ending 2019-12-20T08Z .. 2019-12-29T08Z."""
    values = values_of(ask({"metric": "impressions", "period": "day", **SPEC_WINDOW}))
    assert [v["end_time"] for v in values] == [
        "2019-12-20T08:00:00+0000",
        "2019-12-21T08:00:00+0000",
        "2019-12-22T08:00:00+0000",
        "2019-12-23T08:00:00+0000",
        "2019-12-24T08:00:00+0000",
        "2019-12-25T08:00:00+0000",
        "2019-12-26T08:00:00+0000",
        "2019-12-27T08:00:00+0000",
        "2019-12-28T08:00:00+0000",
        "2019-12-29T08:00:00+0000",
    ]
    assert all(isinstance(v["value"], int) for v in values)


def test_entry_has_spec_fields_and_id() -> None:
    """A time series entry carries name, period, values, title, description and its id."""
    entry = ask({"metric": "reach", "period": "day", **SPEC_WINDOW}).body["data"][0]
    assert list(entry) == ["name", "period", "values", "title", "description", "id"]
    assert entry["id"] == f"{BIG}/insights/reach/day"


def test_entries_follow_requested_order() -> None:
    """One entry per metric, in the order asked."""
    answer = ask({"metric": "website_clicks,impressions,reach", "period": "day"})
    assert [e["name"] for e in answer.body["data"]] == ["website_clicks", "impressions", "reach"]


def test_default_range_is_yesterday_and_today() -> None:
    """Without since/until: yesterday's value and today's partial one."""
    values = values_of(ask({"metric": "impressions", "period": "day"}))
    assert [v["end_time"] for v in values] == [
        "2019-12-30T08:00:00+0000",
        "2019-12-31T08:00:00+0000",
    ]


def test_follower_count_default_range_is_yesterday_only() -> None:
    """follower_count never serves today, so the default range gives one value."""
    values = values_of(ask({"metric": "follower_count", "period": "day"}))
    assert [v["end_time"] for v in values] == ["2019-12-30T08:00:00+0000"]


def test_follower_count_last_end_time_is_midnight_starting_today() -> None:
    """A range reaching past today ends follower_count at the midnight starting today."""
    values = series("follower_count", "day", TODAY_START - 5 * 86400, TODAY_START + 2 * 86400)
    assert values[-1]["end_time"] == "2019-12-30T08:00:00+0000"
    assert len(values) == 5


def test_days_not_begun_are_not_served() -> None:
    """Where a future since is accepted (scenario switch), a future range has empty data."""
    answer = ask(
        {
            "metric": "impressions",
            "period": "day",
            "since": str(TODAY_START + 86400 * 3),
            "until": str(TODAY_START + 86400 * 6),
        },
        world=scenario(fidelity={"future_since": "accept"}),
    )
    assert answer.body["data"] == []


def test_today_partial_grows_with_now() -> None:
    """Today's value fetched later in the day is larger."""
    window = (TODAY_START - 86400, TODAY_START + 86400)
    early = series("impressions", "day", *window, now=TODAY_START + 3600)[-1]["value"]
    late = series("impressions", "day", *window, now=TODAY_START + 20 * 3600)[-1]["value"]
    assert early < late


def test_inclusive_since_edge_serves_day_ending_at_since() -> None:
    """With since_edge inclusive, the day whose end_time == since comes back too."""
    params = {
        "metric": "impressions",
        "period": "day",
        "since": str(TODAY_START - 86400),
        "until": str(TODAY_START),
    }
    exclusive = values_of(ask(params))
    inclusive = values_of(ask(params, world=scenario(since_edge="inclusive")))
    assert [v["end_time"] for v in exclusive] == ["2019-12-30T08:00:00+0000"]
    assert [v["end_time"] for v in inclusive] == [
        "2019-12-29T08:00:00+0000",
        "2019-12-30T08:00:00+0000",
    ]


def test_week_and_days_28_are_rolling_sums_of_daily_values() -> None:
    """week / days_28 equal the sums of the 7 / 28 served daily values ending each day."""
    until = TODAY_START - 86400
    older = series("reach", "day", until - 2 * 2592000, until - 2592000)
    newer = series("reach", "day", until - 2592000, until)
    daily = {v["end_time"]: v["value"] for v in older + newer}
    ordered = [daily[k] for k in sorted(daily)]
    for period, span in (("week", 7), ("days_28", 28)):
        rolled = series("reach", period, until - 2592000, until)
        expected = [sum(ordered[i - span + 1 : i + 1]) for i in range(len(ordered))][-len(rolled) :]
        assert [v["value"] for v in rolled] == expected


def test_reach_is_at_most_impressions_per_day_and_week() -> None:
    """reach <= impressions for every day and every rolling week served."""
    since, until = TODAY_START - 2592000 + 86400, TODAY_START + 86400
    for period in ("day", "week", "days_28"):
        reach = series("reach", period, since, until)
        impressions = series("impressions", period, since, until)
        assert all(r["value"] <= i["value"] for r, i in zip(reach, impressions, strict=True))


def test_online_followers_values_are_hour_maps() -> None:
    """online_followers serves, per day, a map of hours "0".."23" with an end_time."""
    values = series("online_followers", "lifetime", TODAY_START - 3 * 86400, TODAY_START)
    assert len(values) == 3
    assert all(list(v["value"]) == [str(h) for h in range(24)] for v in values)


def test_audience_map_has_no_end_time_and_no_paging() -> None:
    """audience_city is one map of at most 45 keys, without end_time or paging."""
    answer = ask({"metric": "audience_city", "period": "lifetime"})
    assert "paging" not in answer.body
    values = values_of(answer)
    assert len(values) == 1 and set(values[0]) == {"value"}
    assert 0 < len(values[0]["value"]) <= 45  # type: ignore[arg-type]


def test_under_100_followers_gives_empty_data() -> None:
    """Below 100 followers, follower_count, online_followers and audience_* answer data: []."""
    for metric, period in (
        ("follower_count", "day"),
        ("online_followers", "lifetime"),
        ("audience_gender_age", "lifetime"),
    ):
        assert ask({"metric": metric, "period": period}, ig=SMALL, token="T2").body["data"] == []


def test_under_100_followers_still_gets_impressions() -> None:
    """The small account's impressions are served; only the gated metric is left out."""
    answer = ask({"metric": "impressions,follower_count", "period": "day"}, ig=SMALL, token="T2")
    assert [e["name"] for e in answer.body["data"]] == ["impressions"]


def test_exactly_100_followers_gets_follower_count() -> None:
    """100 followers is enough for follower_count."""
    answer = ask({"metric": "follower_count", "period": "day"}, ig=EXACT, token="T3")
    assert len(values_of(answer)) == 1


def test_under_100_followers_empty_for_v18_gated_metrics() -> None:
    """follows_and_unfollows and demographics answer data: [] below 100 followers."""
    total = {"metric": "follows_and_unfollows", "period": "day", "metric_type": "total_value"}
    demo = {
        "metric": "follower_demographics",
        "period": "lifetime",
        "metric_type": "total_value",
        "timeframe": "this_month",
        "breakdown": "age",
    }
    for params in (total, demo):
        assert ask(params, ig=SMALL, token="T2", version="v20.0").body["data"] == []


def test_paging_points_at_adjacent_windows_with_the_token() -> None:
    """paging.previous/next are the adjacent windows of equal length, repeating token and proof."""
    proof = hmac.new(b"secret-open", b"T1", hashlib.sha256).hexdigest()
    answer = ask({"metric": "reach", "period": "day", **SPEC_WINDOW, "appsecret_proof": proof})
    span = 1577635200 - 1576771200
    for key, (since, until) in (
        ("previous", (1576771200 - span, 1576771200)),
        ("next", (1577635200, 1577635200 + span)),
    ):
        url = urlsplit(answer.body["paging"][key])
        query = parse_qs(url.query)
        assert url.path == f"/v17.0/{BIG}/insights"
        assert (query["since"], query["until"]) == ([str(since)], [str(until)])
        assert query["metric"] == ["reach"] and query["period"] == ["day"]
        assert query["access_token"] == ["T1"] and query["appsecret_proof"] == [proof]


def test_total_value_breakdown_sums_to_total() -> None:
    """A total_value answer with a breakdown has results that sum to the total."""
    params = {
        "metric": "likes,total_interactions",
        "period": "day",
        "metric_type": "total_value",
        "breakdown": "media_product_type",
        "since": str(TODAY_START - 10 * 86400),
        "until": str(TODAY_START),
    }
    for entry in ask(params, version="v19.0").body["data"]:
        total = entry["total_value"]
        (breakdown,) = total["breakdowns"]
        assert breakdown["dimension_keys"] == ["media_product_type"]
        assert sum(r["value"] for r in breakdown["results"]) == total["value"]
        assert {r["dimension_values"][0] for r in breakdown["results"]} <= {
            "AD",
            "FEED",
            "REELS",
            "STORY",
        }


def test_reach_total_value_is_sum_of_daily_reach() -> None:
    """reach with metric_type=total_value equals the sum of the daily reach of the same days."""
    window = {"since": str(TODAY_START - 7 * 86400), "until": str(TODAY_START)}
    daily = values_of(ask({"metric": "reach", "period": "day", **window}, version="v18.0"))
    total = ask(
        {"metric": "reach", "period": "day", "metric_type": "total_value", **window},
        version="v18.0",
    ).body["data"][0]["total_value"]
    assert total == {"value": sum(v["value"] for v in daily)}  # type: ignore[misc]


def test_demographics_shape() -> None:
    """Demographics: dimension_keys [timeframe, country], values [THIS_MONTH, code], <= 45."""
    params = {
        "metric": "follower_demographics",
        "period": "lifetime",
        "metric_type": "total_value",
        "timeframe": "this_month",
        "breakdown": "country",
    }
    answer = ask(params, version="v21.0")
    assert "paging" not in answer.body
    (breakdown,) = answer.body["data"][0]["total_value"]["breakdowns"]
    assert breakdown["dimension_keys"] == ["timeframe", "country"]
    assert 0 < len(breakdown["results"]) <= 45
    assert all(
        r["dimension_values"][0] == "THIS_MONTH" and len(r["dimension_values"][1]) == 2
        for r in breakdown["results"]
    )


def test_summer_end_times_are_seven_utc() -> None:
    """A summer window's end_times are 07:00Z."""
    now = utc("2024-07-20T19:00:00")
    values = series(
        "impressions",
        "day",
        int(utc("2024-07-10T19:00:00")),
        int(utc("2024-07-12T19:00:00")),
        now=now,
    )
    assert [v["end_time"] for v in values] == [
        "2024-07-11T07:00:00+0000",
        "2024-07-12T07:00:00+0000",
    ]
