"""tap-instagram 0.4.6 (Singer, Python 3.10), unmodified: what it sends and what it gets.

Config: the agency token, the 20 account ids, ``start_date`` 90 days back. The tap
calls the unversioned Graph path. Three runs, each bounded by a timeout and a
record cap (the tap may page forever):

1. ``users`` alone (``GET /{ig-user-id}?fields=id,ig_id,name,...``): its records must
   equal the emulator's IG User profiles;
2. ``users`` with the two insights streams whose metrics Meta still serves
   (``follower_count`` daily, ``online_followers``): every answer must be a success;
3. ``users`` with the three streams that ask retired metrics (``impressions`` in all
   three, ``profile_views`` and the profile taps in the daily one): Meta refuses them
   in every version today (the scenario's ``retired_metrics``, SPEC 2), so the only
   error answers allowed are code 100 to requests naming a retired metric.

What the tap makes of the answers is reported, not judged. Its own defects, seen in
its source (``streams.py``, ``UserInsightsStream``): the window end is ``since +
max_time_window.seconds``, and ``pendulum.duration(days=30).seconds`` is 0, so every
insights request has ``since == until`` (accepted as an empty range: the scenario's
default ``since_equal_until``); it then follows ``paging.next``, which for a window of
length 0 is the same window, and singer-sdk ends the run ("Loop detected in
pagination"). A 400 ends it too (``FatalAPIError``), so each run stops at its first
insights stream.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import job as J
from bed import Call, Emulator, Outcome, client_env, last_line, metric_names, run, traffic_of
from installs import ClientVenv, Installed

from collector.emulator.nodes import ig_profile

VENV = ClientVenv("tap", "tap-instagram==0.4.6", "tap-instagram", "3.10")
COMMAND = "tap-instagram"
TIMEOUT_S = 120
MAX_LINES = 5000  # record cap of a run
USER_FIELDS = ("id", "ig_id", "name", "username", "biography", "followers_count", "media_count")
# tap-instagram's insights streams by whether Meta still serves their metrics (its streams.py).
CURRENT_STREAMS = ("user_insights_followers", "user_insights_online_followers")
RETIRED_STREAMS = ("user_insights_daily", "user_insights_weekly", "user_insights_28day")


def select(catalog: dict[str, Any], wanted: set[str]) -> dict[str, Any]:
    """``catalog`` with exactly the ``wanted`` streams selected (Singer metadata)."""
    chosen: dict[str, Any] = json.loads(json.dumps(catalog))
    for stream in chosen["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] in wanted
    return chosen


def singer_records(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            message = json.loads(line)
            if message.get("type") == "RECORD":
                out.append(message)
    return out


def profile_truth(job: J.Job, account: str) -> dict[str, Any]:
    found = job.scenario.account(account)
    assert found is not None
    profile = ig_profile(job.scenario, found)
    return {k: profile[k] for k in USER_FIELDS}


def meta_would_refuse(call: Call, retired: tuple[str, ...]) -> bool:
    """An error Meta gives today: code 100 to an insights request naming a retired metric."""
    named = metric_names(call.params.get("metric", ""))
    return call.route == "insights" and call.code == 100 and any(m in retired for m in named)


class Tap:
    """Runs the tap with a catalog of chosen streams and tallies what came back."""

    def __init__(self, exe: str, emu: Emulator, job: J.Job, work: Path, outcome: Outcome) -> None:
        self.exe, self.emu, self.job, self.work, self.outcome = exe, emu, job, work, outcome
        self.env = client_env(emu, work / "blocked.log")
        self.config = work / "config.json"
        self.config.write_text(
            json.dumps(
                {
                    "access_token": job.token,
                    "ig_user_ids": [int(a) for a in job.accounts],
                    "start_date": f"{job.first}T00:00:00Z",
                }
            )
        )

    def discover(self) -> dict[str, Any] | None:
        done = run(
            [self.exe, "--config", str(self.config), "--discover"],
            env=self.env,
            cwd=self.work,
            name="discover",
            timeout_s=TIMEOUT_S,
        )
        self.outcome.seconds += done.seconds
        self.outcome.expect(done.returncode == 0, f"discover: exit {done.returncode}")
        return json.loads(done.stdout.read_text()) if done.returncode == 0 else None

    def sync(self, name: str, catalog: dict[str, Any]) -> tuple[list[Call], list[Any], str, int]:
        """(calls, records, how it ended, users records equal to truth)."""
        (self.work / f"{name}.json").write_text(json.dumps(catalog))
        mark = self.emu.mark()
        done = run(
            [self.exe, "--config", str(self.config), "--catalog", str(self.work / f"{name}.json")],
            env=self.env,
            cwd=self.work,
            name=name,
            timeout_s=TIMEOUT_S,
            max_lines=MAX_LINES,
        )
        calls = self.emu.calls(mark)
        self.outcome.add_calls(calls)
        self.outcome.seconds += done.seconds
        rows = singer_records(done.stdout)
        users = [r["record"] for r in rows if r["stream"] == "users"]
        equal = sum(1 for r in users if r == profile_truth(self.job, r["id"]))
        self.outcome.records += len(rows)
        self.outcome.equal += equal
        ended = done.stopped or f"exit {done.returncode}"
        if done.returncode not in (0, None):
            ended += f" ({last_line(done.stderr, [self.job.token])})"
        return calls, rows, ended, equal


def run_tap(installed: Installed, emu: Emulator, job: J.Job, work: Path) -> Outcome:
    outcome = Outcome(f"tap-instagram {installed.version}", installed.version)
    tap = Tap(str(installed.venv.bin(COMMAND)), emu, job, work, outcome)
    catalog = tap.discover()
    if catalog is None:
        return outcome

    calls, rows, ended, equal = tap.sync("users", select(catalog, {"users"}))
    outcome.expect(not any(c.failed for c in calls), "users: error answers")
    outcome.expect(
        equal == len(rows) == len(job.accounts), f"users: {equal} of {len(rows)} records equal"
    )
    outcome.notes.append(f"users: {len(rows)} records, {equal} equal to the IG User profiles")

    current, rows, ended, _ = tap.sync("current", select(catalog, {"users", *CURRENT_STREAMS}))
    asked = [c for c in current if c.route == "insights"]
    zero = sum(1 for c in asked if c.params.get("since") == c.params.get("until"))
    outcome.expect(not any(c.failed for c in current), "current metrics: error answers")
    outcome.notes.append(
        f"follower_count and online_followers streams: {len(asked)} insights requests, {zero} "
        f"with since == until, {sum(r['stream'] != 'users' for r in rows)} insight records; "
        f"ended with {ended}"
    )

    old, rows, ended, _ = tap.sync("retired", select(catalog, {"users", *RETIRED_STREAMS}))
    refused = [c for c in old if c.failed]
    retired = job.scenario.retired_metrics
    outcome.expect(
        all(meta_would_refuse(c, retired) for c in refused),
        "retired metrics: an error answer Meta would not give",
    )
    outcome.notes.append(
        f"impressions/profile streams: {sum(c.route == 'insights' for c in old)} insights "
        f"requests, {len(refused)} refused with code 100 (retired metrics, as Meta does "
        f"today); ended with {ended}"
    )
    outcome.traffic = traffic_of(current, len(job.accounts), 0)
    return outcome
