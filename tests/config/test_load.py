"""The config loader: every mistake is one located ConfigError; a valid file round-trips."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from collector.config.load import (
    AccountConfig,
    Config,
    ConfigError,
    DateSpec,
    apply_overrides,
    load_config,
    resolve_range,
)
from collector.errors import UsageError

REPO = Path(__file__).resolve().parents[2]

APP_SECRET = "s3cr3t-app-value"
TOKEN_1 = "EAAsecretToken1"
LITERAL_TOKEN = "EAAliteralToken9"
ENV = {"APP_SECRET": APP_SECRET, "TOKEN_1": TOKEN_1}
SECRETS = (APP_SECRET, TOKEN_1, LITERAL_TOKEN)

GRAPH = '[graph]\napi_version = "v17.0"\n'
APP = """
[[apps]]
name = "agency-a"
app_id = "1001"
app_secret = "env:APP_SECRET"
calls_per_hour = 4800
"""
ACCOUNT = """
[[accounts]]
id = "17841400000000001"
app = "agency-a"
token = "env:TOKEN_1"
"""
BASE = GRAPH + APP + ACCOUNT


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ig.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> Config:
    return load_config(write(tmp_path, text), environ=ENV)


def error_of(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> str:
    """The rendered error for ``text``, checked for the rules every error follows."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=ENV if environ is None else environ)
    message = str(caught.value)
    for line in message.splitlines():  # one located line per problem
        assert line.startswith(f"{path}: ") or line.startswith(str(tmp_path))
    assert len(message.splitlines()) == len(caught.value.problems)
    for secret in SECRETS:
        assert secret not in message
    return message


def test_minimal_config_loads_with_resolved_secrets(tmp_path: Path) -> None:
    """A minimal valid config resolves env: secrets into plain attribute values."""
    config = load(tmp_path, BASE)
    assert config.accounts == (AccountConfig("17841400000000001", "agency-a", TOKEN_1, ""),)
    assert config.app("agency-a").app_secret == APP_SECRET
    assert config.warnings == ()


def test_example_config_round_trips(tmp_path: Path) -> None:
    """config/example.toml, given its registry, token file and variables, loads with every key."""
    shutil.copy(REPO / "config" / "example.toml", tmp_path / "example.toml")
    (tmp_path / "tokens").mkdir()
    (tmp_path / "tokens" / "globex.txt").write_text("EAAglobexToken\n", encoding="utf-8")
    (tmp_path / "accounts.csv").write_text(
        "id,app,token,label\n17841400000000003,agency-b,env:TOKEN_3,Initech\n", encoding="utf-8"
    )
    environ = {"AGENCY_A_SECRET": "sec-a", "TOKEN_ACME": "EAAacme", "TOKEN_3": "EAAinitech"}
    config = load_config(tmp_path / "example.toml", environ=environ)
    assert config.graph.base_url == "https://graph.facebook.com"
    assert (config.graph.api_version, config.graph.token_in) == ("v22.0", "header")
    assert (config.graph.timeout_s, config.graph.concurrency) == (30.0, 32)
    assert [
        (a.name, a.app_id, a.app_secret, a.calls_per_hour, a.concurrency) for a in config.apps
    ] == [
        ("agency-a", "1001", "sec-a", 4800.0, 16),
        ("agency-b", "1002", None, 2000.0, 32),
    ]
    assert [(a.id, a.app, a.token, a.label) for a in config.accounts] == [
        ("17841400000000001", "agency-a", "EAAacme", "Acme"),
        ("17841400000000002", "agency-b", "EAAglobexToken", "Globex"),
        ("17841400000000003", "agency-b", "EAAinitech", "Initech"),
    ]
    assert config.collect.metrics == (
        "reach",
        "views",
        "follower_count",
        "online_followers",
        "follower_demographics",
    )
    assert config.collect.periods == ("day", "lifetime")
    assert (config.collect.since, config.collect.until) == (
        DateSpec(days_ago=90),
        DateSpec(days_ago=0),
    )
    assert config.collect.timeframes == ("this_month",)
    assert config.versions() == ("v22.0", "v24.0")
    assert config.collect.breakdowns == (
        ("reach", ("media_product_type", "follow_type")),
        ("follower_demographics", ("country", "age,gender")),
    )
    assert (config.output.ndjson, config.output.sqlite) == (
        Path("out/insights.ndjson"),
        Path("out/insights.sqlite"),
    )
    assert (config.log.format, config.log.level) == ("auto", "info")
    assert (config.budget_of("agency-a").target_pct, config.budget_of("agency-b").target_pct) == (
        90.0,
        95.0,
    )
    assert config.warnings == ()


def test_defaults_fill_every_optional_key(tmp_path: Path) -> None:
    """Omitted optional keys take the documented defaults."""
    config = load(tmp_path, BASE)
    assert config.graph.base_url == "https://graph.facebook.com"
    assert (config.graph.token_in, config.graph.timeout_s, config.graph.concurrency) == (
        "header",
        30.0,
        32,
    )
    assert config.app("agency-a").concurrency == 32
    assert (config.collect.since, config.collect.until) == (
        DateSpec(days_ago=30),
        DateSpec(days_ago=0),
    )
    assert config.collect.timeframes == ("this_month",)
    assert config.output.ndjson == Path("out/insights.ndjson")
    assert config.output.sqlite == Path("out/insights.sqlite")
    assert (config.log.format, config.log.level) == ("auto", "info")


def test_default_metrics_are_the_legacy_catalogue_on_v17(tmp_path: Path) -> None:
    """Without [collect].metrics, v17 collects the 14 legacy metrics of SPEC section 2."""
    legacy = {
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
    config = load(tmp_path, BASE)
    assert set(config.collect.metrics) == legacy
    assert config.collect.periods == ("day", "week", "days_28", "lifetime")


def test_default_metrics_on_v22_are_the_current_table(tmp_path: Path) -> None:
    """Without [collect].metrics, v22 collects the current metrics listed in SPEC section 2."""
    current = {
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
    config = load(tmp_path, BASE.replace("v17.0", "v22.0"))
    assert set(config.collect.metrics) == current


def test_default_metrics_keep_only_those_with_a_chosen_period(tmp_path: Path) -> None:
    """With periods = ["lifetime"] and no metrics, only lifetime metrics are chosen."""
    config = load(tmp_path, BASE + '[collect]\nperiods = ["lifetime"]\n')
    assert set(config.collect.metrics) == {
        "online_followers",
        "audience_city",
        "audience_country",
        "audience_locale",
        "audience_gender_age",
    }


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    """A TOML syntax error is reported with its line number."""
    message = error_of(tmp_path, GRAPH + "timeout_s = \n" + APP + ACCOUNT)
    assert ": line 3: TOML syntax error" in message


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    """A config path that does not exist is a ConfigError, not a traceback."""
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", environ=ENV)


def test_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    """A misspelt key names its table, the allowed keys and the closest one."""
    message = error_of(tmp_path, BASE.replace("[graph]\n", "[graph]\nconcurency = 8\n"))
    assert '[graph]: unknown key "concurency"' in message
    assert "allowed: base_url, api_version, token_in, timeout_s, concurrency" in message
    assert 'fix: did you mean "concurrency"?' in message


def test_unknown_top_level_table_suggests_the_closest(tmp_path: Path) -> None:
    """A misspelt top-level table is reported at the top level with a suggestion."""
    message = error_of(tmp_path, BASE + '[colect]\nsince = "3d"\n')
    assert 'top level: unknown key "colect"' in message
    assert 'did you mean "collect"?' in message


def test_unknown_key_in_an_array_table_names_its_position(tmp_path: Path) -> None:
    """An unknown key inside the second [[apps]] is located as apps[2]."""
    second = APP.replace("agency-a", "agency-b").replace("1001", "1002") + "calls = 3\n"
    message = error_of(tmp_path, GRAPH + APP + second + ACCOUNT)
    assert ': apps[2]: unknown key "calls"' in message


def test_wrong_type_names_expected_and_actual_type(tmp_path: Path) -> None:
    """A string where a number belongs is named with both types."""
    message = error_of(tmp_path, BASE.replace("[graph]\n", '[graph]\ntimeout_s = "30"\n'))
    assert "[graph].timeout_s: expected a number, got a string" in message


def test_boolean_is_not_an_integer(tmp_path: Path) -> None:
    """A TOML boolean is refused where an integer is expected."""
    message = error_of(tmp_path, BASE.replace("[graph]\n", "[graph]\nconcurrency = true\n"))
    assert "[graph].concurrency: expected an integer, got a boolean" in message


def test_integer_id_asks_for_quotes(tmp_path: Path) -> None:
    """An account id written as a bare integer is refused with a fix to quote it."""
    message = error_of(tmp_path, BASE.replace('id = "17841400000000001"', "id = 17841400000000001"))
    assert "accounts[1].id: expected a string, got an integer" in message
    assert "fix: quote it" in message


def test_missing_api_version_is_required(tmp_path: Path) -> None:
    """A [graph] without api_version is a located 'is required' error."""
    message = error_of(tmp_path, "[graph]\ntimeout_s = 5\n" + APP + ACCOUNT)
    assert "[graph].api_version: is required" in message


def test_missing_graph_table_is_required(tmp_path: Path) -> None:
    """A config without [graph] says the table is required."""
    message = error_of(tmp_path, APP + ACCOUNT)
    assert ": [graph]: is required" in message


def test_bad_api_version_shows_the_form(tmp_path: Path) -> None:
    """An api_version not of the form vNN.N is refused with an example."""
    message = error_of(tmp_path, BASE.replace('"v17.0"', '"17"'))
    assert '[graph].api_version: "17" is not of the form vNN.N; fix: write e.g. "v22.0"' in message


def test_retired_metric_names_version_and_heir(tmp_path: Path) -> None:
    """impressions on v22 names the retiring version and views as its heir."""
    text = BASE.replace("v17.0", "v22.0") + '[collect]\nmetrics = ["reach", "impressions"]\n'
    message = error_of(tmp_path, text)
    assert message.endswith(
        '[collect].metrics[2]: "impressions" is not served by v22.0 (retired in v22.0); '
        'fix: use "views"'
    )


def test_metric_from_a_later_version_names_its_arrival(tmp_path: Path) -> None:
    """views on v17 says it arrived in v22 and suggests raising api_version."""
    message = error_of(tmp_path, BASE + '[collect]\nmetrics = ["views"]\n')
    assert '[collect].metrics[1]: "views" is not served by v17.0 (it arrived in v22.0)' in message
    assert "fix: set [graph].api_version to v22.0 or later" in message


def test_unknown_metric_suggests_the_closest(tmp_path: Path) -> None:
    """A misspelt metric suggests the closest metric of the version."""
    message = error_of(tmp_path, BASE + '[collect]\nmetrics = ["reahc"]\n')
    assert (
        '[collect].metrics[1]: unknown metric "reahc" in v17.0; fix: did you mean "reach"?'
        in message
    )


def test_metric_without_a_usable_period(tmp_path: Path) -> None:
    """online_followers with periods = ["day"] says it serves only lifetime."""
    text = BASE + '[collect]\nmetrics = ["reach", "online_followers"]\nperiods = ["day"]\n'
    message = error_of(tmp_path, text)
    assert '[collect].metrics[2]: "online_followers" has no period among' in message
    assert "(it serves: lifetime)" in message


def test_unknown_period_lists_the_known_ones(tmp_path: Path) -> None:
    """An unknown period is located and the known periods are listed."""
    message = error_of(tmp_path, BASE + '[collect]\nperiods = ["day", "weekly"]\n')
    assert '[collect].periods[2]: unknown period "weekly"' in message
    assert 'fix: use "week"' in message


def test_repeated_metric_is_an_error(tmp_path: Path) -> None:
    """A metric listed twice is reported at its second place."""
    message = error_of(tmp_path, BASE + '[collect]\nmetrics = ["reach", "reach"]\n')
    assert '[collect].metrics[2]: "reach" is listed twice' in message


def test_timeframe_retired_in_v20_is_refused(tmp_path: Path) -> None:
    """last_30_days is refused on v20+, where only this_week and this_month remain."""
    text = BASE.replace("v17.0", "v20.0") + '[collect]\ntimeframes = ["last_30_days"]\n'
    message = error_of(tmp_path, text)
    assert '[collect].timeframes[1]: timeframe "last_30_days" is not accepted by v20.0' in message


def test_duplicate_account_in_toml_names_both(tmp_path: Path) -> None:
    """The same account id twice in [[accounts]] names both positions."""
    message = error_of(tmp_path, BASE + ACCOUNT)
    assert "accounts[2].id: account 17841400000000001 is listed twice (also accounts[1])" in message


def test_duplicate_account_across_toml_and_csv_names_both_places(tmp_path: Path) -> None:
    """An id in both [[accounts]] and the CSV names the CSV row and the config entry."""
    (tmp_path / "accounts.csv").write_text(
        "id,app,token,label\n17841400000000002,agency-a,env:TOKEN_1,\n"
        "17841400000000001,agency-a,env:TOKEN_1,\n",
        encoding="utf-8",
    )
    message = error_of(tmp_path, GRAPH + '[registry]\npath = "accounts.csv"\n' + APP + ACCOUNT)
    config_path = tmp_path / "ig.toml"
    assert message.startswith(f"{tmp_path / 'accounts.csv'}: registry row 2 (line 3): ")
    assert f"listed twice (also {config_path}: accounts[1])" in message


def test_account_naming_a_missing_app(tmp_path: Path) -> None:
    """An account whose app is not in [[apps]] names the app and suggests the closest."""
    message = error_of(tmp_path, BASE.replace('app = "agency-a"', 'app = "agency-aa"'))
    assert 'accounts[1].app: names app "agency-aa", which is not in [[apps]]' in message
    assert 'fix: use "agency-a"' in message


def test_registry_file_missing(tmp_path: Path) -> None:
    """A [registry].path that does not exist is located at that key."""
    message = error_of(tmp_path, GRAPH + '[registry]\npath = "gone.csv"\n' + APP + ACCOUNT)
    assert "[registry].path: registry file" in message
    assert "gone.csv does not exist" in message


def test_unset_env_var_is_named_without_a_value(tmp_path: Path) -> None:
    """An env: token whose variable is unset names the variable and the key."""
    message = error_of(tmp_path, BASE, environ={"APP_SECRET": APP_SECRET})
    assert "accounts[1].token: environment variable TOKEN_1 is not set" in message


def test_missing_secret_file_is_named(tmp_path: Path) -> None:
    """A file: app secret whose file is missing names the file and the key."""
    message = error_of(tmp_path, BASE.replace("env:APP_SECRET", "file:secret.txt"))
    assert "apps[1].app_secret: secret file" in message
    assert "secret.txt does not exist" in message


def test_empty_secret_file_is_refused(tmp_path: Path) -> None:
    """A file: token pointing at an empty file is an error."""
    (tmp_path / "tok.txt").write_text("\n", encoding="utf-8")
    message = error_of(tmp_path, BASE.replace("env:TOKEN_1", "file:tok.txt"))
    assert "accounts[1].token: secret file" in message
    assert "is empty" in message


def test_since_after_until_absolute(tmp_path: Path) -> None:
    """Absolute since later than until is refused at load time."""
    text = BASE + '[collect]\nsince = "2024-03-02"\nuntil = "2024-03-01"\n'
    message = error_of(tmp_path, text)
    assert "[collect].since: 2024-03-02 is after until (2024-03-01)" in message


def test_since_after_until_relative(tmp_path: Path) -> None:
    """A relative since nearer than until (3d vs 5d) is refused at load time."""
    message = error_of(tmp_path, BASE + '[collect]\nsince = "3d"\nuntil = "5d"\n')
    assert "[collect].since: 3d is after until (5d)" in message


def test_bad_date_shows_the_forms(tmp_path: Path) -> None:
    """A date neither YYYY-MM-DD nor Nd is refused with both forms in the fix."""
    message = error_of(tmp_path, BASE + '[collect]\nsince = "2024-13-01"\n')
    assert '[collect].since: "2024-13-01" is a date that does not exist (month 13)' in message
    assert 'fix: write YYYY-MM-DD or "Nd"' in message
    other = error_of(tmp_path, BASE + '[collect]\nsince = "soon"\n')
    assert '"soon" is neither a date YYYY-MM-DD nor "Nd"' in other


def test_toml_date_literal_is_accepted(tmp_path: Path) -> None:
    """An unquoted TOML date works as an absolute date."""
    config = load(tmp_path, BASE + "[collect]\nsince = 2024-03-01\nuntil = 2024-03-05\n")
    assert config.collect.since == DateSpec(absolute=dt.date(2024, 3, 1))


def test_calls_per_hour_must_be_positive(tmp_path: Path) -> None:
    """calls_per_hour = 0 is refused."""
    message = error_of(tmp_path, BASE.replace("calls_per_hour = 4800", "calls_per_hour = 0"))
    assert "apps[1].calls_per_hour: must be greater than 0, got 0" in message


def test_calls_per_hour_is_required(tmp_path: Path) -> None:
    """An app without calls_per_hour is refused."""
    message = error_of(tmp_path, BASE.replace("calls_per_hour = 4800\n", ""))
    assert "apps[1].calls_per_hour: is required" in message


def test_no_accounts_at_all(tmp_path: Path) -> None:
    """A config with apps but no account anywhere is refused."""
    message = error_of(tmp_path, GRAPH + APP)
    assert "[[accounts]]: no accounts at all" in message


def test_no_apps_at_all(tmp_path: Path) -> None:
    """A config without [[apps]] is refused before its accounts are read."""
    message = error_of(tmp_path, GRAPH + ACCOUNT)
    assert "[[apps]]: no app is configured" in message


def test_literal_tokens_give_one_counted_warning(tmp_path: Path) -> None:
    """Two literal tokens work and add one warning that counts them without showing them."""
    second = ACCOUNT.replace('01"', '02"').replace("env:TOKEN_1", LITERAL_TOKEN)
    third = ACCOUNT.replace('01"', '03"').replace("env:TOKEN_1", LITERAL_TOKEN + "x")
    config = load(tmp_path, BASE + second + third)
    assert config.accounts[1].token == LITERAL_TOKEN
    assert len(config.warnings) == 1
    assert config.warnings[0].startswith("2 secret(s) are written literally")
    assert LITERAL_TOKEN not in config.warnings[0]


def test_unknown_secret_scheme_is_refused(tmp_path: Path) -> None:
    """A mistyped reference (envv:NAME) is refused instead of being sent as a token."""
    message = error_of(tmp_path, BASE.replace("env:TOKEN_1", "envv:TOKEN_1"))
    assert "accounts[1].token: unknown secret reference scheme 'envv':" in message


def test_plain_http_to_a_remote_host_warns(tmp_path: Path) -> None:
    """A plain-http base_url off loopback adds a warning; loopback does not."""
    remote = load(tmp_path, BASE.replace("[graph]\n", '[graph]\nbase_url = "http://example.org"\n'))
    local = load(tmp_path, BASE.replace("[graph]\n", '[graph]\nbase_url = "http://127.0.0.1:9/"\n'))
    assert any("plain http to example.org" in w for w in remote.warnings)
    assert local.warnings == () and local.graph.base_url == "http://127.0.0.1:9"


def test_repr_hides_every_secret(tmp_path: Path) -> None:
    """repr and str of a loaded config show neither tokens nor app secrets."""
    config = load(tmp_path, BASE)
    for text in (repr(config), str(config), repr(config.accounts[0]), repr(config.apps[0])):
        assert TOKEN_1 not in text
        assert APP_SECRET not in text


def test_config_error_is_a_usage_error(tmp_path: Path) -> None:
    """ConfigError sits under UsageError in the collector's exception tree."""
    with pytest.raises(UsageError):
        load_config(write(tmp_path, GRAPH), environ=ENV)


def test_app_lookup_by_name(tmp_path: Path) -> None:
    """Config.app returns the named app and raises KeyError for another name."""
    config = load(tmp_path, BASE)
    assert config.app("agency-a").app_id == "1001"
    with pytest.raises(KeyError):
        config.app("agency-z")


def test_empty_ndjson_turns_the_sink_off(tmp_path: Path) -> None:
    """ndjson = "" disables the NDJSON output."""
    config = load(tmp_path, BASE + '[output]\nndjson = ""\n')
    assert config.output.ndjson is None


def test_relative_dates_resolve_against_today(tmp_path: Path) -> None:
    """since = "90d", until = "1d" on 2024-03-10 give 2023-12-11 .. 2024-03-09."""
    config = load(tmp_path, BASE + '[collect]\nsince = "90d"\nuntil = "1d"\n')
    assert resolve_range(config.collect, dt.date(2024, 3, 10)) == (
        dt.date(2023, 12, 11),
        dt.date(2024, 3, 9),
    )


def test_mixed_dates_reversed_by_today_raise(tmp_path: Path) -> None:
    """An absolute since after a relative until on that day raises ConfigError."""
    config = load(tmp_path, BASE + '[collect]\nsince = "2024-03-09"\nuntil = "5d"\n')
    with pytest.raises(ConfigError, match="is after until"):
        resolve_range(config.collect, dt.date(2024, 3, 10))


def test_overrides_replace_dates_and_outputs(tmp_path: Path) -> None:
    """apply_overrides sets since, until and both output paths."""
    config = apply_overrides(
        load(tmp_path, BASE), since="2024-01-01", until="2d", ndjson="x.ndjson.gz", sqlite="y.db"
    )
    assert config.collect.since == DateSpec(absolute=dt.date(2024, 1, 1))
    assert config.collect.until == DateSpec(days_ago=2)
    assert (config.output.ndjson, config.output.sqlite) == (Path("x.ndjson.gz"), Path("y.db"))


def test_override_since_after_until_names_the_flags(tmp_path: Path) -> None:
    """--since later than the config's until is an error naming the flags."""
    config = load(tmp_path, BASE + '[collect]\nuntil = "2024-01-01"\n')
    with pytest.raises(ConfigError, match=r"--since/--until: since 2024-02-01 is after until"):
        apply_overrides(config, since="2024-02-01")


def test_override_bad_date_names_the_flag(tmp_path: Path) -> None:
    """A malformed --until is an error naming the flag."""
    with pytest.raises(ConfigError, match="--until: "):
        apply_overrides(load(tmp_path, BASE), until="yesterday")


def test_override_accounts_filters_in_config_order(tmp_path: Path) -> None:
    """--accounts keeps only the named ids, in the config's order."""
    text = BASE + "".join(ACCOUNT.replace('01"', f'0{n}"') for n in (2, 3))
    config = apply_overrides(
        load(tmp_path, text), accounts=["17841400000000003", "17841400000000001"]
    )
    assert [a.id for a in config.accounts] == ["17841400000000001", "17841400000000003"]


def test_override_unknown_account_is_an_error(tmp_path: Path) -> None:
    """--accounts naming an id the config does not list is a ConfigError naming it."""
    with pytest.raises(ConfigError, match="--accounts: not in the config or registry: 999"):
        apply_overrides(load(tmp_path, BASE), accounts=["999"])


def test_nonexistent_date_says_it_does_not_exist(tmp_path: Path) -> None:
    """since = "2025-02-30" is named as a date that does not exist, not as a bad form."""
    message = error_of(tmp_path, BASE + '[collect]\nsince = "2025-02-30"\n')
    assert '[collect].since: "2025-02-30" is a date that does not exist' in message
    assert "February 2025 has 28 days" in message


def test_unknown_log_level_lists_the_allowed_values(tmp_path: Path) -> None:
    """[log] level = "loud" is refused with the allowed levels."""
    message = error_of(tmp_path, BASE + '[log]\nlevel = "loud"\n')
    assert '[log].level: "loud" is not one of debug, info, warning, error, critical' in message


def test_every_mistake_in_one_go_sorted_by_place(tmp_path: Path) -> None:
    """Mistakes in several tables and apps are all reported, one line each, sorted by place."""
    second = APP.replace("agency-a", "agency-b").replace("1001", "1002")
    tenth = APP.replace("agency-a", "agency-j").replace("1001", "1010")
    bad = (
        GRAPH.replace("[graph]\n", "[graph]\ntimeout_s = -1\n")
        + APP
        + second.replace("4800", "0")
        + "".join(APP.replace("agency-a", f"x{i}").replace("1001", f"20{i}") for i in range(3, 10))
        + tenth.replace("4800", '"fast"')
        + ACCOUNT
        + '[log]\nlevel = "loud"\n[collect]\nsince = "2025-02-30"\n[budget]\ntarget_pct = 120\n'
    )
    path = write(tmp_path, bad)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=ENV)
    keys = [problem.key for problem in caught.value.problems]
    assert keys == [
        "[budget].target_pct",
        "[collect].since",
        "[graph].timeout_s",
        "[log].level",
        "apps[2].calls_per_hour",
        "apps[10].calls_per_hour",
    ]
    lines = str(caught.value).splitlines()
    assert len(lines) == len(keys)
    assert all(line.startswith(f"{path}: ") for line in lines)
    assert isinstance(caught.value, UsageError)


def test_budget_defaults_and_per_app_overrides(tmp_path: Path) -> None:
    """[budget] sets every app's knobs; an [[apps]] key overrides it for that app only."""
    second = APP.replace("agency-a", "agency-b").replace("1001", "1002")
    second += "target_pct = 80\nmax_wait_s = 300\n"
    config = load(tmp_path, GRAPH + "[budget]\nprobe_after_s = 30\n" + APP + second + ACCOUNT)
    first, other = config.budget_of("agency-a"), config.budget_of("agency-b")
    assert (first.calls_per_hour, first.target_pct, first.probe_after_s, first.max_wait_s) == (
        4800.0,
        95.0,
        30.0,
        900.0,
    )
    assert (other.target_pct, other.probe_after_s, other.max_wait_s) == (80.0, 30.0, 300.0)


def test_budget_without_table_is_the_defaults(tmp_path: Path) -> None:
    """With no [budget] table an app gets BudgetSettings' defaults and its calls_per_hour."""
    budget = load(tmp_path, BASE).budget_of("agency-a")
    assert (budget.target_pct, budget.probe_after_s, budget.max_wait_s) == (95.0, 60.0, 900.0)
    assert budget.calls_per_hour == 4800.0


@pytest.mark.parametrize(
    ("budget", "app_keys", "where", "problem"),
    [
        ("target_pct = 120\n", "", "[budget].target_pct", "must be below 100"),
        ("", "target_pct = 0\n", "apps[1].target_pct", "must be greater than 0"),
        ("probe_after_s = 600\nmax_wait_s = 60\n", "", "[budget].max_wait_s", "is below"),
        ("probe_after_s = 600\n", "max_wait_s = 60\n", "apps[1].max_wait_s", "is below"),
        ('max_wait_s = "long"\n', "", "[budget].max_wait_s", "expected a number"),
    ],
)
def test_bad_budget_values_are_located(
    tmp_path: Path, budget: str, app_keys: str, where: str, problem: str
) -> None:
    """A bad [budget] or per-app budget value names its key, the problem and a fix."""
    message = error_of(tmp_path, GRAPH + "[budget]\n" + budget + APP + app_keys + ACCOUNT)
    assert f": {where}: " in message
    assert problem in message
    assert "fix: " in message


def test_example_config_with_several_mistakes_reports_them_all(tmp_path: Path) -> None:
    """config/example.toml with five mistakes in five places gives five sorted lines at once."""
    text = (REPO / "config" / "example.toml").read_text(encoding="utf-8")
    for old, new in (
        ("calls_per_hour = 2000", "calls_per_hour = -5"),
        ('level = "info"', 'level = "loud"'),
        ("target_pct = 90", "target_pct = 120"),
        ('since = "90d"', 'since = "2025-02-30"'),
        ("timeout_s = 30", 'timeout_s = "30"'),
    ):
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "example.toml"
    path.write_text(text, encoding="utf-8")
    environ = {"AGENCY_A_SECRET": "sec-a", "TOKEN_ACME": "EAAacme"}
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=environ)
    assert [problem.key for problem in caught.value.problems] == [
        "[collect].since",
        "[graph].timeout_s",
        "[log].level",
        "apps[1].target_pct",
        "apps[2].calls_per_hour",
    ]
    assert all(problem.fix for problem in caught.value.problems)
    assert len(str(caught.value).splitlines()) == 5


def test_every_bad_account_entry_is_reported(tmp_path: Path) -> None:
    """Two bad [[accounts]] tables give two located problems, not just the first."""
    bad_app = ACCOUNT.replace("17841400000000001", "17841400000000002").replace(
        '"agency-a"', '"agency-z"'
    )
    bad_id = ACCOUNT.replace("17841400000000001", "17841x")
    message = error_of(tmp_path, BASE + bad_app + bad_id)
    lines = message.splitlines()
    assert len(lines) == 2
    assert ': accounts[2].app: names app "agency-z"' in lines[0]
    assert ": accounts[3].id: is not numeric" in lines[1]


def test_mistakes_of_every_kind_are_reported_together_sorted(tmp_path: Path) -> None:
    """Schema mistakes and cross-table mistakes of one file all come in one error, by place."""
    twin = APP.replace('"1001"', '"1002"')  # the same name again: a cross-table mistake
    bad = (
        GRAPH.replace("[graph]\n", "[graph]\nconcurency = 8\n")
        + APP
        + twin
        + ACCOUNT.replace('app = "agency-a"', 'app = "agency-z"')
        + '[collect]\nmetrics = ["reahc"]\nsince = "3d"\nuntil = "5d"\n'
        + "[log]\nformat = 3\n"
    )
    path = write(tmp_path, bad)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=ENV)
    assert [problem.key for problem in caught.value.problems] == [
        "[collect].metrics[1]",
        "[collect].since",
        "[graph]",
        "[log].format",
        "accounts[1].app",
        "apps[2].name",
    ]
    assert len(str(caught.value).splitlines()) == 6
