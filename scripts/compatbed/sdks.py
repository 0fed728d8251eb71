"""pyfacebook and facebook-business: the job through a short script each (``pull_*.py``).

Each script runs with its SDK's venv and the bed's environment; its points (one JSON
line each) are compared with the job's truth, key by key: every point it wrote must
equal the truth and no truth point may be missing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import job as J
from bed import HERE, Emulator, Outcome, client_env, last_line, run, traffic_of
from installs import ClientVenv, Installed

PYFACEBOOK = ClientVenv("pyfacebook", "python-facebook-api", "python-facebook-api")
FACEBOOK_BUSINESS = ClientVenv("facebook-business", "facebook-business", "facebook-business")
SCRIPTS = {
    PYFACEBOOK.name: "pull_pyfacebook.py",
    FACEBOOK_BUSINESS.name: "pull_facebook_business.py",
}
TOKEN_ENV = "COMPAT_AGENCY_TOKEN"
TIMEOUT_S = 300


def read_points(path: Path) -> tuple[dict[J.Key, Any], int, dict[str, int] | None]:
    """(points by key, lines written, the ``done`` summary or ``None`` if it never came)."""
    points: dict[J.Key, Any] = {}
    lines = 0
    done = None
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if "done" in row:
            done = row["done"]
            continue
        lines += 1
        end = J.end_key(row["end_time"]) if row["end_time"] else None
        key = (row["account"], row["metric"], row["period"], end, J.dims_text(row["dimensions"]))
        points[key] = row["value"]
    return points, lines, done


def run_sdk(
    installed: Installed, emu: Emulator, job: J.Job, work: Path, truth: dict[J.Key, Any]
) -> Outcome:
    name = installed.venv.distribution
    outcome = Outcome(f"{name} {installed.version}", installed.version)
    env = client_env(emu, work / "blocked.log")
    env[TOKEN_ENV] = job.token  # in the environment, never on a command line
    argv = [
        str(installed.venv.python),
        str(HERE / SCRIPTS[installed.venv.name]),
        "--token-env",
        TOKEN_ENV,
        "--first",
        job.first.isoformat(),
        "--last",
        job.last.isoformat(),
    ]
    mark = emu.mark()
    done = run(argv, env=env, cwd=work, name="pull", timeout_s=TIMEOUT_S)
    calls = emu.calls(mark)
    outcome.add_calls(calls)
    outcome.seconds = done.seconds
    points, lines, summary = read_points(done.stdout)
    equal, missing = J.compare(truth, points)
    outcome.records, outcome.equal = lines, equal
    outcome.expect(
        done.returncode == 0,
        f"exit {done.returncode} {done.stopped} {last_line(done.stderr, [job.token])}",
    )
    outcome.expect(lines == len(points), f"{lines - len(points)} points written twice")
    outcome.expect(equal == lines, f"{lines - equal} points differ from truth")
    outcome.expect(missing == 0, f"{missing} truth points missing")
    outcome.expect(outcome.errors == 0, f"{outcome.errors} error answers")
    if summary is not None:
        outcome.expect(
            summary["accounts"] == len(job.accounts),
            f"/me/accounts gave {summary['accounts']} accounts, not {len(job.accounts)}",
        )
    insights = sum(1 for c in calls if c.route == "insights")
    outcome.notes.append(
        f"accounts from /me/accounts: {summary['accounts'] if summary else '?'}; "
        f"{insights} insights requests (30-date windows); {len(truth)} truth points, "
        f"{missing} missing"
    )
    outcome.traffic = traffic_of(calls, len(job.accounts), (job.last - job.first).days + 1)
    return outcome
