"""A client report as one self-contained HTML page, and the index of a set of them.

The page is the whole report: inline CSS, inline SVG charts
(:mod:`~collector.reporting.report.charts`), no script, no font, no image, no
link to any other host. Its Content-Security-Policy (``default-src 'none'``)
makes a browser refuse any request the page might still try, so opening it
sends nothing anywhere. Text from the store and the config (labels, city
names) is escaped.

Below the charts, a table compares each daily metric's period with the one
before: the sum of its daily values, the days that have one, and the change of
the daily average (so a period with missing days is compared fairly, and the
days column says how much each sum rests on).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

from collector.reporting.report.charts import number
from collector.reporting.report.figures import LABELS, AccountFigures, Period
from collector.reporting.report.sections import SECTIONS, absence

__all__ = ["IndexEntry", "render_index", "render_page"]

# The figures table's rows, in order; a metric shows when either period has data or the
# API answered it with no data.
TABLE: Final = (
    "reach", "views", "impressions", "accounts_engaged", "total_interactions", "likes",
    "comments", "shares", "saves", "replies", "reposts", "follower_count",
    "follows_and_unfollows", "profile_views", "website_clicks", "email_contacts",
    "phone_call_clicks", "text_message_clicks", "get_directions_clicks", "profile_links_taps",
)  # fmt: skip

# Unique-account counts do not add up over days: the table says so.
_UNIQUE: Final = frozenset({"reach", "accounts_engaged"})

_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_STYLE: Final = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;
background:#fff;margin:0 auto;max-width:780px;padding:24px}
h1{font-size:26px;margin:0}h2{font-size:19px;margin:32px 0 8px;border-bottom:1px solid #dde}
header p,footer{color:#5a6070}section{break-inside:avoid}
svg.chart{width:100%;height:auto;display:block;margin:6px 0}
.grid{stroke:#e4e6ee;stroke-width:1}.tick{font-size:11px;fill:#5a6070}
.legend{list-style:none;padding:0;margin:0;display:flex;gap:18px}
.swatch{display:inline-block;width:12px;height:12px;margin-right:6px;border-radius:2px}
.no-data{background:#fff6e0;border-left:4px solid #e69f00;padding:8px 12px}
.missing{color:#8a5a00;font-size:13px}.headline{font-size:16px}
figure{margin:12px 0}figcaption{font-weight:600}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{padding:5px 8px;border-bottom:1px solid #e4e6ee;text-align:right}
th:first-child,td:first-child{text-align:left}
.up{color:#007a55}.down{color:#b03a00}.note{font-size:13px;color:#5a6070}
"""


def _document(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _span(period: Period) -> str:
    return f"{period.first:%b %d, %Y} – {period.last:%b %d, %Y} ({period.length} days)"


def _name(figures: AccountFigures) -> str:
    return figures.label or f"Account {figures.account_id}"


def render_page(figures: AccountFigures, generated: dt.datetime) -> str:
    """The account's report page (see the module's header)."""
    period = figures.period
    header = (
        f"<header><h1>{escape(_name(figures))}</h1>"
        f"<p>Instagram account {escape(figures.account_id)} · {_span(period)}, "
        f"compared with {_span(period.before())}.</p></header>"
    )
    sections = "".join(section(figures) for section in SECTIONS)
    footer = (
        f"<footer><p>Made by ig-collector on {generated:%Y-%m-%d %H:%M} UTC from the values "
        "stored then. Days are Pacific days, as Instagram counts them.</p></footer>"
    )
    title = f"{_name(figures)} – Instagram report, {_span(period)}"
    return _document(title, header + sections + figures_table(figures) + footer)


@dataclass(frozen=True, slots=True)
class _Row:
    label: str
    now: tuple[float, int]  # sum, days with data
    before: tuple[float, int]


def _row(figures: AccountFigures, metric: str) -> _Row:
    now, before = figures.series(metric), figures.series(metric, previous=True)
    label = LABELS[metric] + (" *" if metric in _UNIQUE else "")
    return _Row(label, (sum(now.values()), len(now)), (sum(before.values()), len(before)))


def _change(row: _Row) -> str:
    (total, days), (old, old_days) = row.now, row.before
    if not days or not old_days:
        return "–"
    average, old_average = total / days, old / old_days
    if old_average == 0:
        return "–"
    pct = (average / old_average - 1) * 100
    css = "up" if pct > 0 else "down" if pct < 0 else ""
    return f'<span class="{css}">{pct:+.1f} %</span>'


def figures_table(figures: AccountFigures) -> str:
    """The table of figures: each metric's period against the one before."""
    rows: list[_Row] = []
    empty: list[str] = []
    length = figures.period.length
    for metric in TABLE:
        row = _row(figures, metric)
        if row.now[1] or row.before[1]:
            rows.append(row)
        elif metric in figures.empty:
            empty.append(metric)
    head = (
        "<tr><th>Metric</th><th>This period</th><th>Days with data</th>"
        "<th>Period before</th><th>Days with data</th><th>Change of daily average</th></tr>"
    )
    cells = "".join(
        f"<tr><td>{escape(r.label)}</td><td>{_sum(r.now)}</td><td>{r.now[1]} of {length}</td>"
        f"<td>{_sum(r.before)}</td><td>{r.before[1]} of {length}</td><td>{_change(r)}</td></tr>"
        for r in rows
    )
    parts = ['<section id="figures"><h2>Figures</h2>']
    if rows:
        parts.append(f'<table class="figures"><thead>{head}</thead><tbody>{cells}</tbody></table>')
        parts.append(
            '<p class="note">Sums of the daily values over the days that have one; "–" where a '
            "period has no data to compare. * Unique accounts per day: an account reached on "
            "several days counts once per day.</p>"
        )
    else:
        parts.append(
            '<p class="no-data">No daily figures are stored for this account in this period '
            "or the one before.</p>"
        )
    if empty:
        parts.append(absence(figures, empty, ", ".join(LABELS[m].lower() for m in empty)))
    return "".join(parts) + "</section>"


def _sum(cell: tuple[float, int]) -> str:
    total, days = cell
    return number(total) if days else "no data"


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One account on the index page: its name, id, report file and reach row."""

    name: str
    account_id: str
    file: str
    reach: _Row

    @classmethod
    def of(cls, figures: AccountFigures, file: str) -> IndexEntry:
        return cls(_name(figures), figures.account_id, file, _row(figures, "reach"))


def render_index(entries: Sequence[IndexEntry], period: Period, generated: dt.datetime) -> str:
    """The index of a set of reports: a row per account with its reach, linked to its page."""
    rows = "".join(
        f'<tr><td><a href="{escape(e.file)}">{escape(e.name)}</a></td>'
        f"<td>{escape(e.account_id)}</td><td>{_sum(e.reach.now)}</td>"
        f"<td>{e.reach.now[1]} of {period.length}</td><td>{_change(e.reach)}</td></tr>"
        for e in entries
    )
    body = (
        f"<header><h1>Instagram reports</h1><p>{len(entries)} accounts · {_span(period)}</p>"
        "</header><table><thead><tr><th>Account</th><th>Id</th><th>Reach *</th>"
        "<th>Days with data</th><th>Change of daily average</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        '<p class="note">* Sum of daily reach over the days that have it, compared with the '
        f"period before. Made by ig-collector on {generated:%Y-%m-%d %H:%M} UTC.</p>"
    )
    return _document(f"Instagram reports, {_span(period)}", body)
