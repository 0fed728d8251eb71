"""``ig-collector report`` opened in headless Chromium: charts equal the truth, the page is
drawn, nothing leaves it, and what is missing is said, not zeroed."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

import orjson
import pytest

from collector.reporting.report.figures import LABELS
from tests.e2e import chromium
from tests.e2e.chromium import ReportDom
from tests.e2e.delivery import Delivered, Number, cli, day_described
from tests.e2e.helpers import Key

FIRST, LAST = dt.date(2025, 11, 1), dt.date(2025, 11, 5)  # the period before: Oct 27..31
LEGACY, CURRENT, SMALL = "17841400000000102", "17841400000000202", "17841400000000103"
LEGACY_ACTIONS = (
    "profile_views", "website_clicks", "email_contacts", "phone_call_clicks",
    "text_message_clicks", "get_directions_clicks",
)  # fmt: skip
Points = dict[str, float]  # data-x -> value


def report(
    capsys: pytest.CaptureFixture[str],
    delivered: Delivered,
    out: Path,
    *who: str,
    first: dt.date = FIRST,
) -> Path:
    code, _out, err = cli(
        capsys, "report", "--sqlite", str(delivered.store), "--config", str(delivered.config),
        *who, "--since", str(first), "--until", str(LAST), "--out", str(out),
    )  # fmt: skip
    assert (code, err) == (0, "")
    return out


def daily(truth: dict[Key, Number], account: str, metric: str, first: dt.date) -> Points:
    """The truth's plain daily values of ``metric`` for the days first..LAST."""
    return {
        str(day): value
        for (a, m, period, end, dims), value in truth.items()
        if (a, m, period, dims) == (account, metric, "day", "{}")
        and (day := day_described(end)) is not None
        and first <= day <= LAST
    }


def _undated(truth: dict[Key, Number], account: str, metric: str) -> list[dict[str, str]]:
    return [
        {**orjson.loads(k[4]), "value": v}
        for k, v in truth.items()
        if k[:2] == (account, metric) and k[3] is None
    ]


def top(parts: dict[str, Number], limit: int) -> Points:
    ranked = sorted(parts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return {key: float(value) for key, value in ranked}


def expected(truth: dict[Key, Number], account: str) -> dict[str, list[dict[str, Points]]]:
    """Per section, per chart, per series: the points the report must draw for FIRST..LAST."""
    legacy = account.startswith("178414000000001")
    lines = ("reach", "impressions") if legacy else ("reach", "views")
    follow = daily(truth, account, "follower_count", FIRST)
    hours: dict[str, list[Number]] = defaultdict(list)
    for (a, m, _p, end, dims), value in truth.items():
        day = day_described(end)
        if (a, m) == (account, "online_followers") and day is not None and FIRST <= day <= LAST:
            hours[orjson.loads(dims)["hour"]].append(value)
    if legacy:
        actions = {LABELS[m]: sum(daily(truth, account, m, FIRST).values()) for m in LEGACY_ACTIONS}
        audience = [
            top({p[key]: p["value"] for p in _undated(truth, account, metric)}, limit)
            for metric, key, limit in (
                ("audience_country", "country", 10), ("audience_city", "city", 10),
                ("audience_gender_age", "gender_age", 30), ("audience_locale", "locale", 10),
            )
        ]  # fmt: skip
    else:
        buttons: dict[str, Number] = defaultdict(int)
        for (a, m, _p, end, dims), value in truth.items():
            day, parsed = day_described(end), orjson.loads(dims)
            if (a, m) == (account, "profile_links_taps") and parsed and FIRST <= day <= LAST:  # type: ignore[operator]
                buttons[parsed["contact_button_type"]] += value
        actions = {
            f"Profile link taps: {b.replace('_', ' ').lower()}": v for b, v in buttons.items()
        }
        demographics = _undated(truth, account, "follower_demographics")
        audience = [
            top({p[key]: p["value"] for p in demographics
                 if p["timeframe"] == "THIS_MONTH" and set(p) == {"timeframe", key, "value"}}, 10)
            for key in ("country", "city", "age", "gender")
        ]  # fmt: skip
    return {
        "reach-views": [{LABELS[m]: daily(truth, account, m, FIRST) for m in lines}],
        "followers": [{"": {k: float(v) for k, v in follow.items()}}],
        "profile-actions": [{"": {k: float(v) for k, v in actions.items()}}],
        "online-followers": [{"": {h: round(sum(v) / len(v), 1) for h, v in hours.items()}}],
        "audience": [{"": parts} for parts in audience],
    }


def drawn(dom: ReportDom) -> dict[str, list[dict[str, Points]]]:
    """Per section, per chart, per series (``data-series``, else ""): the points drawn."""
    out: dict[str, list[dict[str, Points]]] = {}
    for section, charts in dom.charts.items():
        for chart in charts:
            assert chart.declared == len(chart.points), f"{section}: data-points disagrees"
            series: dict[str, Points] = defaultdict(dict)
            for point in chart.points:
                series[point.get("data-series", "")][point["data-x"]] = float(point["data-value"])
            out.setdefault(section, []).append(dict(series))
    return out


@pytest.mark.parametrize("account", [LEGACY, CURRENT])
def test_each_section_charts_the_truth_point_for_point(
    delivered: Delivered, tmp_path: Path, capsys: pytest.CaptureFixture[str], account: str
) -> None:
    """In the DOM Chromium renders, every section has its charts, each with one point per
    value of the ground truth and that value (v17.0 and v24.0 accounts alike)."""
    page = report(capsys, delivered, tmp_path / "r.html", "--account", account)
    dom = ReportDom(chromium.dump_dom(page, tmp_path))
    want = expected(delivered.truth, account)
    assert all(series for charts in want.values() for chart in charts for series in chart.values())
    assert drawn(dom) == want


def test_screenshot_is_not_blank(
    delivered: Delivered, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A screenshot of the report has text and charts on it, not a white page."""
    page = report(capsys, delivered, tmp_path / "r.html", "--account", CURRENT)
    share = chromium.ink(chromium.screenshot(page, tmp_path))
    assert 0.03 < share < 0.6


def test_opening_the_report_requests_nothing(
    delivered: Delivered, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The page names no http(s) URL, forbids every fetch by its CSP, and Chromium's net log
    shows no request from it."""
    page = report(capsys, delivered, tmp_path / "r.html", "--account", LEGACY)
    html = page.read_text()
    assert not re.search(r"https?://", html)
    assert "default-src 'none'" in html
    assert chromium.page_requests(page, tmp_path) == []


def test_net_log_check_sees_a_page_that_does_request(tmp_path: Path) -> None:
    """The net-log check catches a page with an image and a stylesheet on other hosts."""
    page = tmp_path / "leak.html"
    page.write_text(
        '<!doctype html><img src="http://127.0.0.1:9/x.png">'
        '<link rel="stylesheet" href="https://example.invalid/a.css">'
    )
    assert sorted(chromium.page_requests(page, tmp_path)) == [
        "http://127.0.0.1:9/x.png",
        "https://example.invalid/a.css",
    ]


def test_small_account_says_why_instead_of_drawing_zeros(
    delivered: Delivered, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """For the 47-follower account, follower growth, online followers and audience have no
    chart and say Instagram gives them only from 100 followers; reach is still drawn."""
    page = report(capsys, delivered, tmp_path / "r.html", "--account", SMALL)
    dom = ReportDom(chromium.dump_dom(page, tmp_path))
    for section in ("followers", "online-followers", "audience"):
        assert dom.charts[section] == []
        (note,) = dom.notes[section]
        assert "Instagram returned no data" in note and "at least 100 followers" in note
    assert len(dom.charts["reach-views"][0].points) == 2 * 5


def test_missing_days_are_gaps_not_zeros(
    delivered: Delivered, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A period reaching before the pull draws only the days stored, names the missing ones
    and counts them in the table ("10 of 17 days")."""
    first = dt.date(2025, 10, 20)  # the store starts on Oct 27
    page = report(capsys, delivered, tmp_path / "r.html", "--account", LEGACY, first=first)
    dom = ReportDom(page.read_text())
    (chart,) = dom.charts["reach-views"]
    reach = {p["data-x"] for p in chart.points if p["data-series"] == "Reach"}
    assert reach == set(daily(delivered.truth, LEGACY, "reach", first)) and len(reach) == 10
    html = page.read_text()
    assert "Reach: 10 of 17 days have data; no value is stored for Oct 20, Oct 21" in html
    assert "<td>Reach *</td><td>" in html and "<td>10 of 17</td>" in html


class Table(HTMLParser):
    """The figures table's rows, as cell texts."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self.feed(html[html.index('<section id="figures">') :])

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def test_figures_table_compares_each_metric_with_the_period_before(
    delivered: Delivered, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each row gives the truth's sums for the period and the one before, their days, and
    the change of the daily average."""
    page = report(capsys, delivered, tmp_path / "r.html", "--account", CURRENT)
    rows = {row[0].rstrip(" *"): row[1:] for row in Table(page.read_text()).rows if row}
    before = FIRST - dt.timedelta(days=5)
    for metric in ("reach", "views", "likes", "follower_count", "profile_links_taps"):
        now = daily(delivered.truth, CURRENT, metric, FIRST)
        old = {d: v for d, v in daily(delivered.truth, CURRENT, metric, before).items()
               if d < str(FIRST)}  # fmt: skip
        change = (sum(now.values()) / sum(old.values()) - 1) * 100
        assert rows[LABELS[metric]] == [
            f"{sum(now.values()):,}", "5 of 5", f"{sum(old.values()):,}", "5 of 5",
            f"{change:+.1f} %",
        ]  # fmt: skip


def test_all_writes_a_report_per_account_and_an_index(
    delivered: Delivered, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--all writes one page per account of the store, and an index linking each by label."""
    folder = report(capsys, delivered, tmp_path / "all", "--all")
    ids = sorted(a.id for a in delivered.scenario.accounts)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*(f"{i}.html" for i in ids), "index.html"]
    )
    index = (folder / "index.html").read_text()
    for i in ids:
        assert f'<a href="{i}.html">acct {i[-3:]}</a>' in index


def test_label_picks_the_account_from_the_config(
    delivered: Delivered, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--label finds the account whose config label it is and titles the page with it."""
    page = report(capsys, delivered, tmp_path / "r.html", "--label", "acct 202")
    html = page.read_text()
    assert "<h1>acct 202</h1>" in html and f"Instagram account {CURRENT}" in html


def test_unknown_label_is_one_line_and_exit_2(
    delivered: Delivered, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A label no account carries ends the command with one line and exit 2, writing nothing."""
    code, _out, err = cli(
        capsys, "--log-format", "console", "report", "--config", str(delivered.config),
        "--sqlite", str(delivered.store), "--label", "nobody", "--since", str(FIRST), "--until", str(LAST),
        "--out", str(tmp_path / "r.html"),
    )  # fmt: skip
    assert code == 2 and err.count("\n") == 1
    assert err.startswith('ig-collector: --label "nobody" names no account')
    assert not (tmp_path / "r.html").exists()
