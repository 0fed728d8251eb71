"""[collect] per API version: per-app api_version, retired metrics, breakdowns, timeframes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from collector.config.load import Config, ConfigError, load_config
from collector.engine.run import plan_specs

REPO = Path(__file__).resolve().parents[2]
GRAPH = '[graph]\napi_version = "{version}"\n'
APPS = """
[[apps]]
name = "agency-a"
app_id = "1001"
calls_per_hour = 4800

[[apps]]
name = "agency-b"
app_id = "1002"
calls_per_hour = 4800
{extra}
[[accounts]]
id = "17841400000000001"
app = "agency-a"
token = "EAAtokenOne"

[[accounts]]
id = "17841400000000002"
app = "agency-b"
token = "EAAtokenTwo"
"""


def text(collect: str, *, version: str = "v17.0", app_b: str | None = "v24.0") -> str:
    extra = f'api_version = "{app_b}"\n' if app_b else ""
    return GRAPH.format(version=version) + APPS.format(extra=extra) + collect


def load(tmp_path: Path, body: str) -> Config:
    path = tmp_path / "ig.toml"
    path.write_text(body, encoding="utf-8")
    return load_config(path, environ={})


def error(tmp_path: Path, body: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, body)
    return str(caught.value)


def test_app_api_version_overrides_graph(tmp_path: Path) -> None:
    """An app's api_version is its own; an app without one uses [graph].api_version."""
    config = load(tmp_path, text('[collect]\nmetrics = ["reach"]\n'))
    assert (config.version_of("agency-a"), config.version_of("agency-b")) == ("v17.0", "v24.0")
    assert config.versions() == ("v17.0", "v24.0")


def test_malformed_app_api_version_is_located(tmp_path: Path) -> None:
    """A malformed [[apps]].api_version names the app's position and the expected form."""
    message = error(tmp_path, text("", app_b="24"))
    assert 'apps[2].api_version: "24" is not of the form vNN.N' in message


def test_each_version_collects_what_it_serves(tmp_path: Path) -> None:
    """A mixed list gives the v17 app the legacy metrics and the v24 app the current ones."""
    collect = '[collect]\nmetrics = ["impressions", "reach", "views", "audience_city"]\n'
    config = load(tmp_path, text(collect))
    legacy, current = config.collect.selection("v17.0"), config.collect.selection("v24.0")
    assert legacy.metrics == ("impressions", "reach", "audience_city")
    assert legacy.periods == ("day", "week", "days_28", "lifetime")
    assert current.metrics == ("reach", "views")
    assert current.periods == ("day",)
    assert config.collect.metrics == ("impressions", "reach", "views", "audience_city")


def test_skipped_metrics_give_one_warning_per_version(tmp_path: Path) -> None:
    """Each version that skips listed metrics adds one warning naming its apps and the metrics."""
    config = load(tmp_path, text('[collect]\nmetrics = ["impressions", "reach", "views"]\n'))
    skips = [w for w in config.warnings if w.startswith("[collect].metrics")]
    assert skips == [
        "[collect].metrics: app agency-a on v17.0 skip views "
        "(not served by v17.0; see check-config --suggest)",
        "[collect].metrics: app agency-b on v24.0 skip impressions "
        "(not served by v24.0; see check-config --suggest)",
    ]


def test_default_metrics_are_each_versions_catalogue(tmp_path: Path) -> None:
    """Without [collect].metrics each version collects its whole catalogue, with no warning."""
    config = load(tmp_path, text(""))
    assert "audience_city" in config.collect.selection("v17.0").metrics
    assert "views" not in config.collect.selection("v17.0").metrics
    assert "views" in config.collect.selection("v24.0").metrics
    assert "audience_city" not in config.collect.selection("v24.0").metrics
    assert not [w for w in config.warnings if "skip" in w]


def test_metric_no_app_serves_is_an_error(tmp_path: Path) -> None:
    """A metric retired for every app's version names the versions, the retirement and heir."""
    body = text('[collect]\nmetrics = ["reach", "audience_city"]\n', version="v18.0")
    message = error(tmp_path, body)
    assert message.endswith(
        '[collect].metrics[2]: "audience_city" is not served by any app\'s version '
        '(v18.0, v24.0) (retired in v18.0); fix: use "follower_demographics" with '
        '[collect.breakdowns] follower_demographics = ["city"]'
    )


@pytest.mark.parametrize(
    ("metric", "problem", "fix"),
    [
        ("impressions", "retired in v22.0", 'fix: use "views"'),
        (
            "audience_gender_age",
            "retired in v18.0",
            'fix: use "follower_demographics" with [collect.breakdowns] '
            'follower_demographics = ["age,gender"]',
        ),
        (
            "phone_call_clicks",
            "retired in v21.0",
            'fix: use "profile_links_taps" with [collect.breakdowns] '
            'profile_links_taps = ["contact_button_type"] (its CALL results)',
        ),
        (
            "website_clicks",
            "retired in v21.0",
            'fix: use "profile_links_taps" (contact_button_type has no WEBSITE value',
        ),
        ("audience_locale", "retired in v18.0", "fix: remove it: nothing equivalent"),
        ("profile_views", "retired in v21.0", "fix: remove it: nothing equivalent"),
    ],
)
def test_retired_metric_message_names_version_and_heir(
    tmp_path: Path, metric: str, problem: str, fix: str
) -> None:
    """On v24 every retired metric is refused with its retiring version and how to replace it."""
    body = text(f'[collect]\nmetrics = ["{metric}"]\n', version="v24.0", app_b=None)
    message = error(tmp_path, body)
    assert f'[collect].metrics[1]: "{metric}" is not served by v24.0 ({problem}); ' in message
    assert fix in message


def test_lost_period_is_explained(tmp_path: Path) -> None:
    """reach with periods = ["week"] on v24 says week and days_28 were retired in v18."""
    body = text('[collect]\nmetrics = ["reach"]\nperiods = ["week"]\n', app_b=None)
    message = error(tmp_path, body.replace("v17.0", "v24.0"))
    assert '"reach" has no period among [collect].periods' in message
    assert "(it serves: day; week, days_28 retired in v18.0)" in message


def test_breakdowns_are_kept_and_normalised(tmp_path: Path) -> None:
    """[collect.breakdowns] keeps each metric's entries, a crossed entry without spaces."""
    collect = (
        '[collect]\nmetrics = ["reach", "follower_demographics"]\n'
        "[collect.breakdowns]\n"
        'reach = ["follow_type", "media_product_type"]\n'
        'follower_demographics = ["country", "age, gender"]\n'
    )
    config = load(tmp_path, text(collect, version="v24.0", app_b=None))
    expected = (
        ("reach", ("follow_type", "media_product_type")),
        ("follower_demographics", ("country", "age,gender")),
    )
    assert config.collect.breakdowns == expected
    assert config.collect.selection("v24.0").breakdowns == expected


def test_breakdown_skipped_by_a_version_without_it(tmp_path: Path) -> None:
    """reach breakdowns apply to the v24 app only; the v17 app skips them with one warning."""
    collect = '[collect]\nmetrics = ["reach"]\n[collect.breakdowns]\nreach = ["follow_type"]\n'
    config = load(tmp_path, text(collect))
    assert config.collect.selection("v17.0").breakdowns == ()
    assert config.collect.selection("v24.0").breakdowns == (("reach", ("follow_type",)),)
    assert [w for w in config.warnings if w.startswith("[collect.breakdowns]")] == [
        "[collect.breakdowns].reach: app agency-a on v17.0 skip follow_type "
        "(v17.0 has no such breakdown of reach)"
    ]


@pytest.mark.parametrize(
    ("metrics", "breakdowns", "expected"),
    [
        (
            '["views"]',
            'views = ["follow_typ"]',
            '[collect.breakdowns].views[1]: "views" has no breakdown "follow_typ" on v24.0 '
            '(allowed: follow_type, media_product_type); fix: use "follow_type"',
        ),
        (
            '["accounts_engaged"]',
            'accounts_engaged = ["media_product_type"]',
            '[collect.breakdowns].accounts_engaged[1]: "accounts_engaged" takes no breakdown',
        ),
        (
            '["views"]',
            'likes = ["media_product_type"]',
            '[collect.breakdowns].likes: "likes" is not a collected metric',
        ),
        ('["views"]', "views = []", "[collect.breakdowns].views: is empty"),
        (
            '["views"]',
            'views = ["follow_type", "follow_type"]',
            '[collect.breakdowns].views[2]: "follow_type" is listed twice',
        ),
        (
            '["follower_demographics"]',
            'follower_demographics = ["age,age"]',
            '[collect.breakdowns].follower_demographics[1]: "age,age" names age twice',
        ),
        (
            '["follower_demographics"]',
            'follower_demographics = ["age,,city"]',
            "has an empty breakdown name",
        ),
    ],
)
def test_bad_breakdowns_are_located(
    tmp_path: Path, metrics: str, breakdowns: str, expected: str
) -> None:
    """Each breakdown mistake is one error at its key and position."""
    collect = f"[collect]\nmetrics = {metrics}\n[collect.breakdowns]\n{breakdowns}\n"
    assert expected in error(tmp_path, text(collect, version="v24.0", app_b=None))


def test_timeframes_are_checked_against_every_version(tmp_path: Path) -> None:
    """last_30_days passes a v17 app but the v24 app refuses it, naming v24.0."""
    collect = '[collect]\nmetrics = ["reach"]\ntimeframes = ["last_30_days"]\n'
    message = error(tmp_path, text(collect))
    assert '[collect].timeframes[1]: timeframe "last_30_days" is not accepted by v24.0' in message
    assert "(retired in v20.0)" in message


def test_plan_specs_give_each_app_its_versions_selection(tmp_path: Path) -> None:
    """run.plan_specs gives each app a PlanSpec on its own version with that version's metrics."""
    collect = (
        '[collect]\nmetrics = ["impressions", "views"]\nsince = "2024-06-01"\n'
        'until = "2024-06-10"\n[collect.breakdowns]\nviews = ["follow_type"]\n'
    )
    specs = plan_specs(load(tmp_path, text(collect)), dt.date(2024, 6, 20))
    a, b = specs["agency-a"], specs["agency-b"]
    assert (a.version, a.metrics, a.breakdowns) == ("v17.0", ("impressions",), ())
    assert (b.version, b.metrics, b.breakdowns) == (
        "v24.0",
        ("views",),
        (("views", ("follow_type",)),),
    )
    assert (a.first, a.last, b.first, b.last) == (dt.date(2024, 6, 1), dt.date(2024, 6, 10)) * 2


def test_demo_config_runs_two_catalogues() -> None:
    """config/demo.toml puts agency-a on v17.0 (legacy) and agency-b on v24.0 (current)."""
    config = load_config(REPO / "config" / "demo.toml")
    assert config.versions() == ("v17.0", "v24.0")
    assert "audience_city" in config.collect.selection("v17.0").metrics
    current = config.collect.selection("v24.0")
    assert {"views", "follower_demographics", "profile_links_taps"} <= set(current.metrics)
    assert not {"impressions", "audience_city"} & set(current.metrics)


def test_three_retired_metrics_are_all_named(tmp_path: Path) -> None:
    """Three metrics no app's version serves give three located problems, not one."""
    metrics = '["reach", "audience_city", "audience_locale", "audience_gender_age"]'
    body = text(f"[collect]\nmetrics = {metrics}\n", version="v18.0")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, body)
    keys = [problem.key for problem in caught.value.problems]
    assert keys == ["[collect].metrics[2]", "[collect].metrics[3]", "[collect].metrics[4]"]
    assert len(str(caught.value).splitlines()) == 3
