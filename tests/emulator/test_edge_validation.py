"""Every validation rule of the insights edge gives Meta's code and message (SPEC 1-5)."""

from __future__ import annotations

import pytest

from .edge_support import BIG, NOW, TODAY_START, ask, error_of, scenario

LEGACY = {
    "impressions",
    "reach",
    "profile_views",
    "follower_count",
    "email_contacts",
    "phone_call_clicks",
    "text_message_clicks",
    "get_directions_clicks",
    "website_clicks",
    "online_followers",
    "audience_city",
    "audience_country",
    "audience_locale",
    "audience_gender_age",
}
V18_ADDED = {
    "follower_demographics",
    "engaged_audience_demographics",
    "accounts_engaged",
    "replies",
    "total_interactions",
    "likes",
    "comments",
    "shares",
    "saves",
    "profile_links_taps",
    "follows_and_unfollows",
}
AUDIENCE = {"audience_city", "audience_country", "audience_locale", "audience_gender_age"}
V21_GONE = {
    "profile_views",
    "email_contacts",
    "phone_call_clicks",
    "text_message_clicks",
    "get_directions_clicks",
    "website_clicks",
}
CATALOGUES = {
    "v17.0": LEGACY,
    "v18.0": (LEGACY - AUDIENCE) | V18_ADDED,
    "v20.0": (LEGACY - AUDIENCE) | V18_ADDED,
    "v21.0": (LEGACY - AUDIENCE - V21_GONE) | V18_ADDED,
    "v22.0": (LEGACY - AUDIENCE - V21_GONE - {"impressions"}) | V18_ADDED | {"views", "reposts"},
}
DAY = {"period": "day"}
DEMO = {"metric": "follower_demographics", "period": "lifetime", "metric_type": "total_value"}


def message(params: dict[str, str], version: str = "v17.0") -> str:
    status, code, text = error_of(ask(params, version=version))
    assert (status, code) == (400, 100), text
    return text


def listed(text: str) -> set[str]:
    """The metric names after 'one of the following values: '."""
    return set(text.split("following values: ", 1)[1].split(", "))


def test_missing_metric() -> None:
    """No metric parameter: '(#100) The parameter metric is required'."""
    assert message(DAY) == "(#100) The parameter metric is required"


def test_missing_period() -> None:
    """No period parameter: '(#100) The parameter period is required'."""
    assert message({"metric": "impressions"}) == "(#100) The parameter period is required"


@pytest.mark.parametrize("version", sorted(CATALOGUES))
def test_unknown_metric_lists_the_versions_catalogue(version: str) -> None:
    """An unknown metric names its index and lists exactly the version's metrics (SPEC 2)."""
    text = message({"metric": "follower_count,bogus", "period": "day"}, version)
    assert text.startswith("(#100) metric[1] must be one of the following values: ")
    assert listed(text) == CATALOGUES[version]


@pytest.mark.parametrize(
    ("metric", "version"),
    [
        ("audience_city", "v18.0"),
        ("profile_views", "v21.0"),
        ("website_clicks", "v21.0"),
        ("impressions", "v22.0"),
    ],
)
def test_retired_metric_is_unknown(metric: str, version: str) -> None:
    """A metric retired by a version is rejected as metric[0] there."""
    text = message({"metric": metric, "period": "lifetime"}, version)
    assert text.startswith("(#100) metric[0] must be one of the following values: ")


def test_metrics_retired_by_the_scenario_are_not_offered() -> None:
    """A metric retired in every version is refused and left out of the list of valid values."""
    world = scenario(retired_metrics=["impressions", "profile_views"])
    status, code, text = error_of(
        ask({"metric": "reach,impressions", "period": "day"}, world=world)
    )
    assert (status, code) == (400, 100)
    assert text.startswith("(#100) metric[1] must be one of the following values: ")
    assert listed(text) == CATALOGUES["v17.0"] - {"impressions", "profile_views"}


def test_json_array_metric_parameter_is_accepted() -> None:
    """metric=["reach","impressions"] is read like reach,impressions."""
    answer = ask({"metric": '["reach","impressions"]', "period": "day"})
    assert [entry["name"] for entry in answer.body["data"]] == ["reach", "impressions"]


def test_bad_json_array_metric_is_refused() -> None:
    """A metric parameter that opens a JSON array but is not one is a code 100 error."""
    assert message({"metric": '["reach",', "period": "day"}).startswith("(#100)")


def test_period_incompatible_with_metric() -> None:
    """profile_views with period=week names the metric and the period."""
    assert message({"metric": "impressions,profile_views", "period": "week"}) == (
        "(#100) The following metrics (profile_views) are not supported with period=week"
    )


def test_reach_keeps_only_day_from_v18_when_switched() -> None:
    """With reach_long_periods off, v18+ reach refuses period=week while impressions takes it."""
    strict = scenario(fidelity={"reach_long_periods": False})
    week = {"metric": "reach", "period": "week"}
    assert (
        ask({"metric": "impressions", "period": "week"}, version="v18.0", world=strict).status
        == 200
    )
    answer = ask(week, version="v18.0", world=strict)
    assert "(reach)" in answer.body["error"]["message"]


def test_unknown_period_is_refused() -> None:
    """period=month is not a period of this edge."""
    assert message({"metric": "reach", "period": "month"}).startswith(
        "(#100) period must be one of the following values:"
    )


def test_metrics_of_different_kinds_are_refused_together() -> None:
    """online_followers (hour maps) and audience_city (lifetime map) cannot share a request."""
    text = message({"metric": "online_followers,audience_city", "period": "lifetime"})
    assert "(audience_city)" in text


def test_range_longer_than_30_days() -> None:
    """until - since > 2592000 gives SPEC 5's message."""
    params = {"metric": "reach", "period": "day", "since": "1570000000", "until": "1572592001"}
    assert message(params) == (
        "(#100) There cannot be more than 30 days (2592000 s) between since and until"
    )


def test_range_of_exactly_30_days_is_accepted() -> None:
    """until - since == 2592000 is allowed."""
    params = {"metric": "reach", "period": "day", "since": "1570000000", "until": "1572592000"}
    assert ask(params).status == 200


def test_since_after_until() -> None:
    """since later than until is a code 100 error."""
    params = {"metric": "reach", "period": "day", "since": "1577000000", "until": "1576000000"}
    assert message(params).startswith("(#100)")


def test_unparsable_since() -> None:
    """since that is neither unix seconds nor a strtotime value is a code 100 error."""
    params = {"metric": "reach", "period": "day", "since": "next blue moon"}
    assert message(params) == "(#100) since param is not valid"


def test_audience_with_since_is_refused() -> None:
    """audience_* takes no since/until."""
    params = {
        "metric": "audience_city",
        "period": "lifetime",
        "since": "1577000000",
        "until": "1577600000",
    }
    assert "since and until" in message(params)


def test_follower_count_older_than_30_days() -> None:
    """since before the midnight starting today-30 is refused with the common brief's message."""
    since = TODAY_START - 30 * 86400 - 1
    params = {
        "metric": "follower_count",
        "period": "day",
        "since": str(since),
        "until": str(since + 86400),
    }
    assert message(params) == (
        "(#100) (follower_count) metric only supports querying data for the last 30 days "
        "excluding the current day"
    )


def test_follower_count_exactly_30_days_back_is_accepted() -> None:
    """since equal to the midnight starting today-30 is allowed (no DST change in between)."""
    since = TODAY_START - 30 * 86400
    params = {
        "metric": "follower_count",
        "period": "day",
        "since": str(since),
        "until": str(since + 86400 * 3),
    }
    assert ask(params).status == 200


def test_online_followers_older_than_30_days() -> None:
    """online_followers has the same 30-day limit."""
    since = TODAY_START - 40 * 86400
    params = {
        "metric": "online_followers",
        "period": "lifetime",
        "since": str(since),
        "until": str(since + 86400),
    }
    assert message(params).startswith("(#100) (online_followers) metric only supports")


def test_total_value_metric_needs_metric_type() -> None:
    """v22 views without metric_type=total_value gets SPEC 5's message."""
    assert message({"metric": "views", "period": "day"}, "v22.0") == (
        "(#100) The following metrics (views) should be specified with parameter "
        "metric_type=total_value"
    )


def test_series_only_metric_refuses_total_value() -> None:
    """follower_count does not take metric_type=total_value."""
    params = {"metric": "follower_count", "period": "day", "metric_type": "total_value"}
    assert "(follower_count)" in message(params, "v18.0")


def test_breakdown_needs_total_value() -> None:
    """A breakdown on a time series request is refused."""
    params = {"metric": "reach", "period": "day", "breakdown": "media_product_type"}
    assert "metric_type=total_value" in message(params, "v18.0")


def test_breakdown_must_suit_the_metric() -> None:
    """likes has no follow_type breakdown."""
    params = {
        "metric": "likes",
        "period": "day",
        "metric_type": "total_value",
        "breakdown": "follow_type",
    }
    assert message(params, "v18.0") == (
        "(#100) The following metrics (likes) do not support breakdown=follow_type"
    )


def test_engaged_demographics_need_a_timeframe() -> None:
    """engaged_audience_demographics without timeframe is refused."""
    params = {**DEMO, "metric": "engaged_audience_demographics", "breakdown": "country"}
    assert "timeframe" in message(params, "v20.0")


def test_follower_demographics_need_a_timeframe_when_switched() -> None:
    """With follower_demographics_timeframe = "required", its omitted timeframe is refused."""
    strict = scenario(fidelity={"follower_demographics_timeframe": "required"})
    answer = ask({**DEMO, "breakdown": "country"}, version="v20.0", world=strict)
    assert "timeframe" in answer.body["error"]["message"]


def test_demographics_need_a_breakdown() -> None:
    """follower_demographics without breakdown is refused."""
    assert "breakdown" in message({**DEMO, "timeframe": "this_month"}, "v20.0")


def test_demographics_need_lifetime() -> None:
    """follower_demographics with period=day is refused."""
    params = {**DEMO, "period": "day", "timeframe": "this_month", "breakdown": "age"}
    assert "period=day" in message(params, "v20.0")


def test_v20_drops_long_timeframes() -> None:
    """last_30_days works in v19 and is refused from v20 (SPEC 2)."""
    params = {**DEMO, "timeframe": "last_30_days", "breakdown": "age"}
    assert ask(params, version="v19.0").status == 200
    assert message(params, "v20.0") == (
        "(#100) timeframe must be one of the following values: this_week, this_month"
    )


def test_legacy_version_refuses_metric_type() -> None:
    """v17 has no metric_type parameter."""
    assert "metric_type" in message(
        {"metric": "reach", "period": "day", "metric_type": "total_value"}
    )


def test_malformed_version_is_unknown_path() -> None:
    """A version not of the form vN.N is refused with code 2500."""
    status, code, text = error_of(ask({"metric": "reach", "period": "day"}, version="v17"))
    assert (status, code) == (400, 2500)
    assert "v17" in text


def test_first_fault_wins() -> None:
    """With an unknown metric and a bad range, the metric error comes first."""
    params = {"metric": "bogus", "period": "day", "since": "1", "until": str(int(NOW))}
    assert message(params).startswith("(#100) metric[0]")


def test_valid_request_for_big_account_succeeds() -> None:
    """Control: a well-formed legacy request is answered 200."""
    assert ask({"metric": "reach", "period": "day"}, ig=BIG).status == 200


def test_period_as_a_one_element_json_array_is_accepted() -> None:
    """period=["day"] (as facebook-business sends it) means period=day."""
    from collector.emulator.query import InsightsQuery, parse_query

    query = parse_query("v17.0", {"metric": "reach", "period": '["day"]'}, 1_764_000_000.0)
    assert isinstance(query, InsightsQuery)
    assert query.period == "day"
