"""What ``ig-collector plan`` and ``ig-collector status`` print.

``plan`` reads only the config and the clock: it sends nothing and opens no
output. ``status`` reads only the ledger of a SQLite output.
"""

from __future__ import annotations

from pathlib import Path

from collector.clock import Clock, SystemClock
from collector.config import Config
from collector.pacific import pacific_date
from collector.planner import count_requests, describe_groups
from collector.run import plan_minimum_seconds, plan_spec
from collector.store import Store


def render_plan(config: Config, clock: Clock | None = None) -> str:
    """The plan as text: groups and windows, requests per app and account, minimum time."""
    today = pacific_date((clock or SystemClock()).now())
    spec = plan_spec(config, today)
    per_app: dict[str, int] = {}
    for account in config.accounts:
        per_app[account.app] = per_app.get(account.app, 0) + 1
    counts = count_requests(per_app, spec)
    minimum = plan_minimum_seconds(config, spec)
    lines = [
        f"plan for {config.source} on {config.graph.api_version}: end_time dates "
        f"{spec.first}..{spec.last} (today is {today}, Pacific)",
        "",
        "metric groups (per account):",
    ]
    per_account = 0
    for group in describe_groups(spec):
        per_account += group.requests_per_account
        extra = "".join(f" {k}={v}" for k, v in group.params)
        if group.windows is None:
            span = "no range (lifetime)"
        else:
            span = (
                f"{group.first}..{group.last} in {len(group.windows)} window(s) of "
                f"<= {max(w.days for w in group.windows)} day(s)"
            )
        lines.append(
            f"  [{group.kind}] {','.join(group.metrics)} period={group.period}{extra}: {span}"
        )
    lines += ["", f"requests per account: {per_account}", "", "per app:"]
    for app in config.apps:
        accounts = per_app.get(app.name, 0)
        lines.append(
            f"  {app.name}: {accounts} account(s), {counts.get(app.name, 0):,} requests, "
            f"budget {app.calls_per_hour:g}/h -> at least {minimum.get(app.name, 0.0):,.0f} s"
        )
    total = sum(counts.values())
    slowest = max(minimum.values(), default=0.0)
    lines += [
        "",
        f"total: {total:,} requests; minimum duration under the budgets: {slowest:,.0f} s",
    ]
    return "\n".join(lines)


async def render_status(sqlite: Path) -> str:
    """The ledger per account: requests by state, and failures by reason."""
    store = await Store.open(sqlite)
    try:
        summary = await store.ledger_summary()
    finally:
        await store.close()
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
