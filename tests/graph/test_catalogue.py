"""The collector's catalogue against SPEC section 2: version ranges, retirements, heirs."""

from __future__ import annotations

import pytest

from collector.graph.catalogue import (
    Retirement,
    breakdown_choices,
    catalogue,
    retired_periods,
    retirement,
    retirements,
    timeframes,
)

# SPEC section 2, "What changed", copied by hand: metric -> the version that retired it.
SPEC_RETIRED = {
    "audience_city": "v18.0",
    "audience_country": "v18.0",
    "audience_locale": "v18.0",
    "audience_gender_age": "v18.0",
    "email_contacts": "v21.0",
    "get_directions_clicks": "v21.0",
    "phone_call_clicks": "v21.0",
    "text_message_clicks": "v21.0",
    "website_clicks": "v21.0",
    "profile_views": "v21.0",
    "impressions": "v22.0",
}
# SPEC section 2, "Current metrics (v22 onward)".
SPEC_CURRENT = {
    "reach",
    "views",
    "accounts_engaged",
    "replies",
    "reposts",
    "total_interactions",
    "likes",
    "comments",
    "shares",
    "saves",
    "profile_links_taps",
    "follows_and_unfollows",
    "follower_count",
    "online_followers",
    "follower_demographics",
    "engaged_audience_demographics",
}


def _before(version: str) -> str:
    return f"v{int(version[1:].split('.')[0]) - 1}.0"


def test_every_spec_retirement_is_in_the_table() -> None:
    """The retirement table lists exactly the eleven metrics SPEC 2 says were retired."""
    assert {gone.metric: gone.retired_in for gone in retirements()} == SPEC_RETIRED


@pytest.mark.parametrize(("metric", "version"), sorted(SPEC_RETIRED.items()))
def test_retired_metric_is_served_until_the_version_before(metric: str, version: str) -> None:
    """A retired metric is in the catalogue of the version before its retirement, not after."""
    assert metric in catalogue(_before(version))
    assert metric not in catalogue(version)
    assert metric not in catalogue("v24.0")


@pytest.mark.parametrize("metric", sorted(SPEC_RETIRED))
def test_retirement_is_reported_only_from_its_version(metric: str) -> None:
    """retirement() answers None before the retiring version and the record from it on."""
    version = SPEC_RETIRED[metric]
    assert retirement(metric, _before(version)) is None
    gone = retirement(metric, "v24.0")
    assert gone is not None and gone.retired_in == version


@pytest.mark.parametrize("gone", retirements(), ids=lambda g: g.metric)
def test_every_heir_and_its_breakdown_exist_in_the_retiring_version(gone: Retirement) -> None:
    """An heir is served by the version that retired its ancestor, with the named breakdown."""
    served = catalogue(gone.retired_in)
    if gone.heir is None:
        assert gone.breakdown is None and "nothing equivalent" in gone.replacement
        return
    assert gone.heir in served
    for part in (gone.breakdown or "").split(","):
        assert not part or part in breakdown_choices(served[gone.heir])


@pytest.mark.parametrize(
    ("metric", "heir", "breakdown", "key"),
    [
        ("impressions", "views", None, None),
        ("audience_city", "follower_demographics", "city", None),
        ("audience_country", "follower_demographics", "country", None),
        ("audience_gender_age", "follower_demographics", "age,gender", None),
        ("email_contacts", "profile_links_taps", "contact_button_type", "EMAIL"),
        ("phone_call_clicks", "profile_links_taps", "contact_button_type", "CALL"),
        ("text_message_clicks", "profile_links_taps", "contact_button_type", "TEXT"),
        ("get_directions_clicks", "profile_links_taps", "contact_button_type", "DIRECTION"),
        ("audience_locale", None, None, None),
        ("profile_views", None, None, None),
    ],
)
def test_heirs_follow_meta_changelogs(
    metric: str, heir: str | None, breakdown: str | None, key: str | None
) -> None:
    """Each retired metric maps to the heir, breakdown and breakdown value Meta names."""
    gone = retirement(metric, "v24.0")
    assert gone is not None
    assert (gone.heir, gone.breakdown, gone.key) == (heir, breakdown, key)


def test_current_catalogue_is_the_spec_table() -> None:
    """From v22 on the catalogue is exactly SPEC 2's current table."""
    assert set(catalogue("v22.0")) == SPEC_CURRENT
    assert set(catalogue("v24.0")) == SPEC_CURRENT


def test_current_breakdowns_are_the_spec_table() -> None:
    """The breakdowns a config may ask are SPEC 2's, and none for time_series-only metrics."""
    served = catalogue("v24.0")
    got = {name: set(breakdown_choices(spec)) for name, spec in served.items()}
    media, follow = "media_product_type", "follow_type"
    demographic = {"age", "city", "country", "gender"}
    assert got == {
        "reach": {media, follow},
        "views": {media, follow},
        "accounts_engaged": set(),
        "replies": set(),
        "reposts": set(),
        "total_interactions": {media},
        "likes": {media},
        "comments": {media},
        "shares": {media},
        "saves": {media},
        "profile_links_taps": {"contact_button_type"},
        "follows_and_unfollows": {follow},
        "follower_count": set(),
        "online_followers": set(),
        "follower_demographics": demographic,
        "engaged_audience_demographics": demographic,
    }


def test_legacy_version_has_no_breakdowns() -> None:
    """Before v18 there is no metric_type, hence no breakdown for any metric."""
    assert {name for name, spec in catalogue("v17.0").items() if breakdown_choices(spec)} == set()


def test_reach_lost_rolling_periods_in_v18() -> None:
    """reach keeps week and days_28 on v17 and loses them from v18, which retired_periods says."""
    assert catalogue("v17.0")["reach"].periods == ("day", "week", "days_28")
    assert catalogue("v18.0")["reach"].periods == ("day",)
    assert retired_periods("reach", "v17.0") is None
    assert retired_periods("reach", "v22.0") == ("v18.0", ("week", "days_28"))


@pytest.mark.parametrize(
    ("version", "frames"),
    [
        ("v17.0", ()),
        ("v19.0", ("last_14_days", "last_30_days", "last_90_days", "prev_month")),
        ("v20.0", ()),
    ],
)
def test_timeframes_shrink_in_v20(version: str, frames: tuple[str, ...]) -> None:
    """v18-v19 accept the old timeframes besides this_week/this_month; v20 only those two."""
    expected = set(frames) | ({"this_week", "this_month"} if version != "v17.0" else set())
    assert set(timeframes(version)) == expected
