"""The report's sections, each a ``<section>`` of HTML from one account's figures.

Every section shows a chart where the store has data, and says plainly why
where it has none: the API answers accounts under 100 followers with empty
data for follower figures (SPEC section 2), which the ledger records as *no
data*; that is reported as such, never drawn as zeros. A daily series with
missing days draws them as gaps and lists them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from html import escape
from typing import Final

from collector.reporting.report.charts import (
    PALETTE,
    bar_chart,
    column_chart,
    line_chart,
    number,
)
from collector.reporting.report.figures import (
    AUDIENCE,
    FOLLOWER_GATED,
    LABELS,
    AccountFigures,
    Breakdown,
    Number,
)

__all__ = ["SECTIONS", "absence", "missing_days"]

# Legacy (up to v20) profile buttons, each its own daily metric; v21 on: profile_links_taps.
LEGACY_ACTIONS: Final = (
    "profile_views", "website_clicks", "email_contacts", "phone_call_clicks",
    "text_message_clicks", "get_directions_clicks",
)  # fmt: skip
_LISTED_DAYS: Final = 8  # missing days named one by one, then "and N more"


def absence(figures: AccountFigures, metrics: Sequence[str], what: str) -> str:
    """Why ``metrics`` (``what``, in prose) have nothing to show, in one honest paragraph."""
    empty = [m for m in metrics if m in figures.empty]
    if any(m in FOLLOWER_GATED for m in empty):
        text = (
            f"Instagram returned no data for {what} for this account. It reports follower "
            "figures only for accounts with at least 100 followers."
        )
    elif empty:
        text = f"Instagram returned no data for {what} for this account."
    else:
        text = f"No {what} data is stored for this account in this period."
    return f'<p class="no-data">{escape(text)}</p>'


def missing_days(figures: AccountFigures, name: str, by_day: Mapping[dt.date, Number]) -> str:
    """A note naming the period's days without a value in ``by_day`` ("" when none)."""
    days = figures.period.days()
    gaps = [d for d in days if d not in by_day]
    if not gaps or len(gaps) == len(days):
        return ""
    listed = ", ".join(f"{d:%b %d}" for d in gaps[:_LISTED_DAYS])
    more = f" and {len(gaps) - _LISTED_DAYS} more" if len(gaps) > _LISTED_DAYS else ""
    return (
        f'<p class="missing">{escape(name)}: {len(days) - len(gaps)} of {len(days)} days have '
        f"data; no value is stored for {listed}{more}.</p>"
    )


def _section(ident: str, title: str, body: Sequence[str]) -> str:
    return f'<section id="{ident}"><h2>{escape(title)}</h2>{"".join(body)}</section>'


def _legend(names: Sequence[str]) -> str:
    items = "".join(
        f'<li><span class="swatch" style="background:{PALETTE[i % len(PALETTE)]}"></span>'
        f"{escape(name)}</li>"
        for i, name in enumerate(names)
    )
    return f'<ul class="legend">{items}</ul>'


def reach_views(figures: AccountFigures) -> str:
    """Reach and views (impressions before v22) per day, one line each."""
    metrics = [m for m in ("reach", "views", "impressions") if figures.has(m)]
    if not metrics:
        return _section(
            "reach-views",
            "Reach and views",
            [absence(figures, ["reach", "views"], "reach or views")],
        )
    series = [(LABELS[m], figures.series(m)) for m in metrics]
    body = [
        line_chart("Reach and views per day", figures.period.days(), series),
        _legend([name for name, _values in series]),
        *(missing_days(figures, name, values) for name, values in series),
    ]
    return _section("reach-views", "Reach and views", body)


def followers(figures: AccountFigures) -> str:
    """New followers per day (``follower_count``), with the period's sum."""
    values = figures.series("follower_count")
    if not values:
        return _section(
            "followers", "Follower growth", [absence(figures, ["follower_count"], "new followers")]
        )
    columns = [(f"{d}", f"{d:%b %d}", values.get(d)) for d in figures.period.days()]
    body = [
        f'<p class="headline">{number(sum(values.values()))} new followers over '
        f"{len(values)} day{'s' if len(values) != 1 else ''} with data.</p>",
        column_chart("New followers per day", columns),
        missing_days(figures, LABELS["follower_count"], values),
    ]
    return _section("followers", "Follower growth", body)


def _actions(figures: AccountFigures) -> list[tuple[str, dict[dt.date, Number]]]:
    """(name, values by day) of each profile action with data in the period."""
    found = [(LABELS[m], figures.series(m)) for m in LEGACY_ACTIONS]
    for button, by_day in sorted(figures.taps.items()):
        name = f"{LABELS['profile_links_taps']}: {button.replace('_', ' ').lower()}"
        found.append((name, {d: v for d, v in by_day.items() if d in figures.period}))
    return [(name, values) for name, values in found if values]


def profile_actions(figures: AccountFigures) -> str:
    """Each profile action's total for the period, as bars (days without data noted)."""
    actions = _actions(figures)
    title = "Profile actions"
    if not actions:
        return _section(
            "profile-actions",
            title,
            [absence(figures, [*LEGACY_ACTIONS, "profile_links_taps"], "profile actions")],
        )
    bars = [(name, sum(values.values())) for name, values in actions]
    body = [bar_chart("Profile actions in the period", bars)]
    taps = figures.series("profile_links_taps")
    if taps:
        body.insert(
            0,
            f'<p class="headline">{number(sum(taps.values()))} profile link taps in all.</p>',
        )
        body.append(missing_days(figures, LABELS["profile_links_taps"], taps))
    body += [
        missing_days(figures, LABELS[m], figures.series(m))
        for m in LEGACY_ACTIONS
        if figures.has(m)
    ]
    return _section("profile-actions", title, body)


def online_followers(figures: AccountFigures) -> str:
    """Followers online at each hour of the day (Pacific), averaged over the period's days."""
    title = "Online followers by hour"
    average = figures.hourly_average()
    if not average:
        return _section(
            "online-followers", title, [absence(figures, ["online_followers"], "online followers")]
        )
    columns = [(str(h), f"{h}h", round(average[h], 1) if h in average else None) for h in range(24)]
    days = figures.days_with_hours()
    body = [
        f'<p class="headline">Average of {days} day{"s" if days != 1 else ""} with data, by '
        "hour of the day (Pacific time).</p>",
        column_chart("Online followers by hour", columns, colour=PALETTE[2]),
    ]
    return _section("online-followers", title, body)


def _breakdown_title(item: Breakdown) -> str:
    if item.metric == "follower_demographics":
        frame = item.timeframe.replace("_", " ").lower()
        name = f"Followers by {item.key} ({frame})"
    else:
        name = LABELS[item.metric]
    shown = len(item.parts)
    return name + (f", top {shown} of {item.total_parts}" if shown < item.total_parts else "")


def audience(figures: AccountFigures) -> str:
    """The latest audience snapshot: a bar chart per breakdown."""
    if not figures.audience:
        metrics = list(dict.fromkeys(m for m, _key, _n in AUDIENCE))
        return _section("audience", "Audience", [absence(figures, metrics, "the audience")])
    body = ['<p class="headline">The latest snapshot stored (Instagram keeps no history).</p>']
    for item in figures.audience:
        title = _breakdown_title(item)
        body.append(
            f'<figure class="breakdown"><figcaption>{escape(title)}</figcaption>'
            f"{bar_chart(title, [(key, value) for key, value in item.parts])}</figure>"
        )
    return _section("audience", "Audience", body)


SECTIONS: Final = (reach_views, followers, profile_actions, online_followers, audience)
"""The chart sections, in page order; each takes the figures and returns its HTML."""
