"""What ``ig-collector plan`` and ``ig-collector status`` print.

``plan`` reads only the config and the clock: it sends nothing and opens no
output. ``status`` reads a SQLite output opened read-only
(:func:`collector.storage.inspect.open_read_only`): it refuses a file that is
not one of ours and creates nothing in any file.
"""

from __future__ import annotations

from pathlib import Path

from collector.clock import Clock, SystemClock
from collector.config.load import Config
from collector.engine.run import plan_minimum_seconds, plan_specs, planned_requests
from collector.graph.pacific import pacific_date
from collector.planning.freshness import freshness_table
from collector.planning.planner import describe_groups
from collector.storage.inspect import open_read_only
from collector.storage.sqlite import LedgerSummary


def render_plan(config: Config, clock: Clock | None = None) -> str:
    """The plan as text: per API version its groups and windows; per app its requests
    and the least time its budget allows."""
    today = pacific_date((clock or SystemClock()).now())
    specs = plan_specs(config, today)
    counts = planned_requests(config, specs)
    minimum = plan_minimum_seconds(config, specs)
    any_spec = next(iter(specs.values()))
    lines = [
        f"plan for {config.source}: end_time dates {any_spec.first}..{any_spec.last} "
        f"(today is {today}, Pacific)",
    ]
    for version in config.versions():
        apps = [a.name for a in config.apps if config.version_of(a.name) == version]
        spec = specs[apps[0]]
        lines += ["", f"{version} (apps {', '.join(apps)}): metric groups per account"]
        per_account = 0
        for group in describe_groups(spec):
            per_account += group.requests_per_account
            extra = "".join(f" {k}={v}" for k, v in group.params)
            if group.windows is None:
                span = "no range (lifetime)"
            else:
                span = (
                    f"{group.first}..{group.last} in {len(group.windows)} request(s) of "
                    f"<= {max(w.days for w in group.windows)} day(s)"
                )
            lines.append(
                f"  [{group.kind}] {','.join(group.metrics)} period={group.period}{extra}: {span}"
            )
        lines.append(f"  requests per account: {per_account}")
    per_app: dict[str, int] = {}
    for account in config.accounts:
        per_app[account.app] = per_app.get(account.app, 0) + 1
    lines += ["", "per app:"]
    for app in config.apps:
        lines.append(
            f"  {app.name} ({config.version_of(app.name)}): {per_app.get(app.name, 0)} account(s), "
            f"{counts.get(app.name, 0):,} requests, budget {app.calls_per_hour:g}/h -> "
            f"at least {minimum.get(app.name, 0.0):,.0f} s"
        )
    total = sum(counts.values())
    slowest = max(minimum.values(), default=0.0)
    lines += [
        "",
        f"total: {total:,} requests; minimum duration under the budgets: {slowest:,.0f} s",
    ]
    return "\n".join(lines)


async def render_status_report(sqlite: Path, clock: Clock | None = None) -> str:
    """``ig-collector status``: the freshness table, then the ledger per account.

    Raises :class:`~collector.errors.OutputError` for a path that is not a store of ours.
    """
    async with open_read_only(sqlite) as store:
        rows = await store.freshness()
        files = await store.ndjson_files()
        summary = await store.ledger_summary()
    now = (clock or SystemClock()).now()
    return freshness_table(rows, files, now) + "\n\n" + ledger_table(summary)


async def render_status(sqlite: Path) -> str:
    """The ledger per account of the store at ``sqlite`` (opened read-only)."""
    async with open_read_only(sqlite) as store:
        return ledger_table(await store.ledger_summary())


def ledger_table(summary: LedgerSummary) -> str:
    """The ledger per account: requests by state, and failures by reason."""
    states = ("pending", "done", "no_data", "failed")
    header = f"{'account':<22} " + " ".join(f"{s:>8}" for s in states)
    lines = [header, "-" * len(header)]
    for account in summary.accounts:
        counts = " ".join(f"{account.counts.get(s, 0):>8}" for s in states)
        lines.append(f"{account.account_id:<22} {counts}")
        for reason, n in sorted(account.failures.items()):
            lines.append(f"{'':<22} failed: {reason} x{n}")
    totals = summary.totals()
    lines.append("-" * len(header))
    lines.append(f"{'total':<22} " + " ".join(f"{totals.get(s, 0):>8}" for s in states))
    return "\n".join(lines)
