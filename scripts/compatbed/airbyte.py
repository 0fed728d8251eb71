"""airbyte-source-instagram 4.1.0, unmodified, through spec, check, discover and three reads.

Config: the agency's user token and ``start_date`` 90 days back (the connector
itself reads ``user_insights`` from ``max(start_date, now - 30 days)``, in one-day
windows, four (metric, period) groups per window: its manifest's
``QueryProperties``). The catalog selects ``user_insights`` (incremental) and
``user_lifetime_insights`` (full refresh; follower demographics by city, country
and ``age,gender``).

Reads:

1. from nothing: every record is checked against the truth, and the final state
   must hold, per account, the end_time of the newest day served;
2. from read 1's state: nothing new has ended, so every insights window must
   start at the state's cursor and no dated record may come back;
3. from read 1's state moved 3 days back (a state saved 3 days ago): the windows
   start at the old cursor and exactly the 3 newer days come back, equal to truth.

The table's figures add up all steps; the traffic table takes read 1 (the job).
What the connector does that is its own business is reported as a note: a record
with no ``date`` and no value for each window answered with empty data (an account
under 100 followers has no ``online_followers``), counted as equal to truth since it
asserts nothing; and ``age,gender`` results keyed by their first dimension only
(``InstagramBreakDownResultsTransformation``), so each age keeps one gender: those
records are compared with the truth mapped the same way.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import job as J
from bed import Call, Emulator, Outcome, client_env, last_line, run, traffic_of
from installs import ClientVenv, Installed

VENV = ClientVenv("airbyte", "airbyte-source-instagram==4.1.0", "airbyte-source-instagram", "3.11")
COMMAND = "source-instagram"
TIMEOUT_S = 300
# user_insights record field -> the (metric, period) it holds (UserInsightsExtractor).
FIELDS: dict[str, tuple[str, str]] = {
    "follower_count": ("follower_count", "day"),
    "reach": ("reach", "day"),
    "reach_week": ("reach", "week"),
    "reach_days_28": ("reach", "days_28"),
    "online_followers": ("online_followers", "lifetime"),
}
STATE_SHIFT = dt.timedelta(days=3)
Message = dict[str, Any]


def messages(path: Path) -> list[Message]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def records(msgs: list[Message], stream: str) -> list[dict[str, Any]]:
    return [
        m["record"]["data"]
        for m in msgs
        if m["type"] == "RECORD" and m["record"]["stream"] == stream
    ]


def last_state(msgs: list[Message]) -> Message | None:
    """The last ``user_insights`` STATE message's ``state``."""
    found = [
        m["state"]
        for m in msgs
        if m["type"] == "STATE"
        and m["state"]["stream"]["stream_descriptor"]["name"] == "user_insights"
    ]
    return found[-1] if found else None


def cursors_of(state: Message | None) -> dict[str, str]:
    """account -> cursor date of a ``user_insights`` state (per-partition)."""
    if state is None:
        return {}
    return {
        s["partition"]["business_account_id"]: s["cursor"]["date"]
        for s in state["stream"]["stream_state"].get("states", [])
    }


def write_state(state: Message, path: Path, shift: dt.timedelta) -> dict[str, str]:
    """Write ``state`` with every cursor moved back by ``shift``, for ``read --state``."""
    moved = json.loads(json.dumps(state))
    for entry in moved["stream"]["stream_state"]["states"]:
        at = dt.datetime.fromisoformat(entry["cursor"]["date"]) - shift
        entry["cursor"]["date"] = at.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    path.write_text(json.dumps([moved]))
    return cursors_of(moved)


@dataclass
class ReadCheck:
    """One read's records against the truth."""

    records: int = 0
    equal: int = 0
    dateless: int = 0
    dropped: int = 0  # age,gender results the connector's mapping loses
    dated: Counter[str] | None = None  # dated user_insights records per account
    newest: dict[str, int] | None = None  # newest end_time per account


class Truth:
    """The job's truth as Airbyte's records carry it."""

    def __init__(self, job: J.Job) -> None:
        first = job.today - dt.timedelta(days=J.HISTORY_DAYS + 5)
        self.job = job
        self.series = {
            (account, metric, period): J.series_truth(
                job, account, metric, period, first, job.today
            )
            for account in job.accounts
            for metric, period in J.SERIES
        }
        self.newest = {a: max(self.series[(a, "reach", "day")]) for a in job.accounts}

    def check(self, msgs: list[Message]) -> ReadCheck:
        out = ReadCheck(dated=Counter(), newest={})
        assert out.dated is not None and out.newest is not None
        for row in records(msgs, "user_insights"):
            out.records += 1
            account = row["business_account_id"]
            if "date" not in row:
                out.dateless += 1
                out.equal += not any(name in row for name in FIELDS)
                continue
            end = J.end_key(row["date"])
            out.dated[account] += 1
            out.newest[account] = max(end, out.newest.get(account, end))
            expected = {
                name: self.series[(account, *series)].get(end) for name, series in FIELDS.items()
            }
            out.equal += {name: row.get(name) for name in FIELDS} == expected
        for row in records(msgs, "user_lifetime_insights"):
            out.records += 1
            results = J.demographic_truth(
                self.job, row["business_account_id"], row["breakdown"], None
            )
            first_key = row["breakdown"].split(",")[0]
            mapped = {dims[first_key]: value for dims, value in results}
            out.dropped += len(results) - len(mapped)
            out.equal += row.get("value") == mapped
        return out


def write_catalog(discovered: list[Message], path: Path) -> None:
    streams = {
        s["name"]: s for m in discovered if m["type"] == "CATALOG" for s in m["catalog"]["streams"]
    }
    chosen = [
        {
            "stream": streams["user_insights"],
            "sync_mode": "incremental",
            "cursor_field": ["date"],
            "destination_sync_mode": "append",
        },
        {
            "stream": streams["user_lifetime_insights"],
            "sync_mode": "full_refresh",
            "destination_sync_mode": "overwrite",
        },
    ]
    path.write_text(json.dumps({"streams": chosen}))


def from_cursor(calls: list[Call], cursors: dict[str, str]) -> bool:
    """Every ranged insights call asks ``since`` at the account's cursor or later."""
    return all(
        J.end_key(call.params["since"]) >= J.end_key(cursors[call.account])
        for call in calls
        if call.route == "insights" and "since" in call.params and call.account in cursors
    )


class Steps:
    """Runs the connector's commands, each in the bed, keeping its calls and messages."""

    def __init__(self, outcome: Outcome, exe: str, emu: Emulator, work: Path, token: str) -> None:
        self.outcome, self.exe, self.emu, self.work, self.token = outcome, exe, emu, work, token
        self.env = client_env(emu, work / "blocked.log")
        self.calls: dict[str, list[Call]] = {}

    def __call__(self, name: str, *args: str) -> list[Message]:
        mark = self.emu.mark()
        done = run([self.exe, *args], env=self.env, cwd=self.work, name=name, timeout_s=TIMEOUT_S)
        calls = self.calls[name] = self.emu.calls(mark)
        self.outcome.seconds += done.seconds
        self.outcome.add_calls(calls)
        self.outcome.expect(
            done.returncode == 0,
            f"{name}: exit {done.returncode} {done.stopped} {last_line(done.stderr, [self.token])}",
        )
        failed = sum(c.failed for c in calls)
        self.outcome.expect(failed == 0, f"{name}: {failed} error answers")
        return messages(done.stdout)

    def insights(self, name: str) -> int:
        return sum(1 for c in self.calls[name] if c.route == "insights")


def run_airbyte(installed: Installed, emu: Emulator, job: J.Job, work: Path) -> Outcome:
    outcome = Outcome(f"airbyte-source-instagram {installed.version}", installed.version)
    step = Steps(outcome, str(installed.venv.bin(COMMAND)), emu, work, job.token)
    config = work / "config.json"
    config.write_text(
        json.dumps({"access_token": job.token, "start_date": f"{job.first}T00:00:00Z"})
    )

    spec = step("spec", "spec")
    outcome.expect(any(m["type"] == "SPEC" for m in spec), "spec: no SPEC message")
    check = step("check", "check", "--config", str(config))
    status = [m["connectionStatus"]["status"] for m in check if m["type"] == "CONNECTION_STATUS"]
    outcome.expect(status == ["SUCCEEDED"], f"check: {status or 'no status'}")
    discovered = step("discover", "discover", "--config", str(config))
    write_catalog(discovered, work / "catalog.json")
    read = ["read", "--config", str(config), "--catalog", str(work / "catalog.json")]
    truth = Truth(job)

    read1 = step("read1", *read)
    one = truth.check(read1)
    state = last_state(read1)
    cursors = cursors_of(state)
    assert one.newest is not None and one.dated is not None
    outcome.expect(
        one.newest == truth.newest
        and {a: J.end_key(c) for a, c in cursors.items()} == truth.newest,
        "read1: the state does not hold each account's newest end_time",
    )
    dates = min(one.dated.values(), default=0)

    reads = [one]
    if state is not None:
        write_state(state, work / "state2.json", dt.timedelta(0))
        read2 = step("read2", *read, "--state", str(work / "state2.json"))
        two = truth.check(read2)
        outcome.expect(
            not two.dated,
            f"read2: {sum((two.dated or Counter()).values())} dated records, none new",
        )
        outcome.expect(
            from_cursor(step.calls["read2"], cursors), "read2: a window starts before the cursor"
        )
        old = write_state(state, work / "state3.json", STATE_SHIFT)
        read3 = step("read3", *read, "--state", str(work / "state3.json"))
        three = truth.check(read3)
        outcome.expect(
            three.newest == truth.newest
            and all(
                # a spring DST day can hide one date in a 24-hour window (a note, not ours)
                STATE_SHIFT.days - 1 <= (three.dated or Counter())[a] <= STATE_SHIFT.days
                for a in job.accounts
            ),
            f"read3: dated records per account {sorted(set((three.dated or Counter()).values()))}, "
            f"expected the {STATE_SHIFT.days} days after the old cursor",
        )
        outcome.expect(
            from_cursor(step.calls["read3"], old), "read3: a window starts before the cursor"
        )
        reads += [two, three]
    outcome.records = sum(r.records for r in reads)
    outcome.equal = sum(r.equal for r in reads)
    outcome.expect(outcome.equal == outcome.records, "records differ from truth")

    outcome.notes.append(
        f"check: SUCCEEDED through /me/accounts and {sum(c.route == 'node' for c in step.calls['check'])} "
        f"Page reads; read 1: {one.records} records, {sum(one.dated.values())} dated "
        f"user_insights ({dates} end_time dates per account, the connector's 30-day reach back), "
        f"state at each account's newest end_time"
    )
    if len(reads) == 3:
        two, three = reads[1], reads[2]
        outcome.notes.append(
            f"read 2 (read 1's state): {step.insights('read2')} insights requests, all from the "
            f"cursor on, {sum((two.dated or Counter()).values())} dated records; read 3 (that state "
            f"3 days older): {step.insights('read3')} requests, {sum((three.dated or Counter()).values())} "
            f"dated records, {STATE_SHIFT.days} per account"
        )
    dateless = sum(r.dateless for r in reads)
    outcome.notes.append(
        f"{dateless} user_insights records carry no date and no value: the connector emits one "
        "for each window answered with empty data (under 100 followers: no online_followers)"
    )
    if one.dropped:
        outcome.notes.append(
            f"user_lifetime_insights age,gender: {one.dropped} of Meta's results per read are "
            "lost, the connector keys each result by its first dimension (age) only"
        )
    outcome.traffic = traffic_of(step.calls["read1"], len(job.accounts), dates)
    return outcome
