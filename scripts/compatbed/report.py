"""What scripts/compat prints: a block per client, the figures table, the traffic table."""

from __future__ import annotations

from collections.abc import Sequence

import job as J
from bed import Outcome


def _table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (right-aligned numbers), as docs/emulator.md keeps it."""
    cells = [[str(c) for c in columns], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    numeric = [
        all(isinstance(row[i], int | float) or row[i] == "-" for row in rows)
        for i in range(len(columns))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(parts) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if n else ("-" * (w + 2))
            for w, n in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _per(value: float | None) -> float | str:
    return "-" if value is None else round(value, 1)


def _result(outcome: Outcome) -> str:
    if outcome.skipped:
        return "skipped"
    return "as expected" if not outcome.problems else "PROBLEM"


def print_outcome(outcome: Outcome) -> None:
    print(f"\n[{outcome.client}] {_result(outcome)}")
    if outcome.skipped:
        print(f"  skipped: {outcome.skipped}")
    for note in outcome.notes:
        print(f"  - {note}")
    for problem in outcome.problems:
        print(f"  ! {problem}")


def print_table(outcomes: Sequence[Outcome]) -> None:
    rows = [
        (o.client, "-", "-", "-", "-", "-", _result(o))
        if o.skipped
        else (o.client, o.requests, o.records, o.equal, o.errors, round(o.seconds, 1), _result(o))
        for o in outcomes
    ]
    columns = ("client", "requests", "records", "equal to truth", "errors", "seconds", "result")
    print(_table(columns, rows))


def print_traffic(outcomes: Sequence[Outcome], job: J.Job) -> None:
    """Requests per account-month of the job: insights requests for series, divided by
    accounts and by the 30-date months the client covered."""
    print(
        f"Traffic for the job: {len(job.accounts)} accounts, up to {J.DAYS} end_time dates "
        f"({job.first}..{job.last}), {J.VERSION}; series = time-series insights requests, "
        "lifetime = demographics requests, other = /me/accounts and node reads; "
        "per account-month = requests / accounts / (dates / 30)"
    )
    rows = []
    for o in outcomes:
        t = o.traffic
        if t is None:
            continue
        series, total = t.per_account_month(t.series_requests), t.per_account_month(t.total)
        rows.append(
            (
                o.client,
                t.accounts,
                t.dates,
                t.series_requests,
                t.lifetime_requests,
                t.other_requests,
                _per(series),
                _per(total),
            )
        )
    columns = (
        "client",
        "accounts",
        "dates",
        "series",
        "lifetime",
        "other",
        "series per account-month",
        "all per account-month",
    )
    print(_table(columns, rows))
