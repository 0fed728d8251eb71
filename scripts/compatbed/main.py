"""Real Graph API clients, unmodified, against the emulator: do they get what Meta would give?

    scripts/compat [--traffic] [--only NAME ...] [--work DIR]

Installs each client in a virtualenv of its own under ``.compat/`` (kept between
runs; see ``installs.py``), starts ``ig-collector emulator`` on ``scenario.toml`` (one
agency token, 20 accounts), and runs every client on the same job (``job.py``):

- airbyte-source-instagram 4.1.0: spec, check, discover, three incremental reads
  (``airbyte.py``);
- tap-instagram 0.4.6 on Python 3.10, bounded (``tap.py``);
- the current pyfacebook and facebook-business, through a short script each (``sdks.py``);
- the collector itself, ``ig-collector run`` (``ours.py``).

Only each client's environment changes (``redirect/sitecustomize.py``): its requests to
graph.facebook.com reach the emulator. Prints, per client, requests, records, records
equal to truth and error answers, with notes on what it does; ``--traffic`` adds the
requests per account-month of the job. Exit 0 when every client that ran met its
expectations (a client that cannot be installed here is skipped with the reason), 1
otherwise. Tokens are never printed: the clients' own error lines are redacted.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import airbyte
import job as J
import sdks
import tap
from bed import Emulator, Outcome, blocked_hosts, emulator, redact
from installs import COMPAT_DIR, ClientVenv, Installed, ensure
from ours import run_collector
from report import print_outcome, print_table, print_traffic

NAMES = ("airbyte", "tap", "pyfacebook", "facebook-business", "collector")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/compat", description=__doc__.split("\n")[0])
    parser.add_argument("--traffic", action="store_true", help="print requests per account-month")
    parser.add_argument("--only", nargs="+", choices=NAMES, help="run only these clients")
    parser.add_argument(
        "--work", type=Path, help="keep the clients' files here (default: a temp dir)"
    )
    args = parser.parse_args(argv)
    chosen = args.only or list(NAMES)
    started = time.monotonic()

    ready: dict[str, Installed | str] = {}
    venvs: dict[str, ClientVenv] = {
        "airbyte": airbyte.VENV,
        "tap": tap.VENV,
        "pyfacebook": sdks.PYFACEBOOK,
        "facebook-business": sdks.FACEBOOK_BUSINESS,
    }
    for name in chosen:
        if name in venvs:
            print(f"compat: {name}: preparing {COMPAT_DIR.name}/{venvs[name].name}", flush=True)
            try:
                ready[name] = ensure(venvs[name])
            except (OSError, ValueError, subprocess.SubprocessError) as exc:
                ready[name] = f"cannot prepare its venv: {exc}"
    job = J.load_job()
    with tempfile.TemporaryDirectory(prefix="compat-") as temp:
        work = args.work or Path(temp)
        work.mkdir(parents=True, exist_ok=True)
        outcomes = run_all(chosen, ready, job, work)
    for outcome in outcomes:
        print_outcome(outcome)
    print()
    print_table(outcomes)
    if args.traffic:
        print()
        print_traffic(outcomes, job)
    failed = sum(1 for o in outcomes if o.problems)
    skipped = sum(1 for o in outcomes if o.skipped)
    print(
        f"\ncompat: {time.monotonic() - started:.0f} s; a client passes when it met every expectation"
    )
    # The plain closing line CI readers count: passed, failed and skipped clients.
    print(f"compat: {len(outcomes) - failed - skipped} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


def run_all(
    chosen: list[str], ready: dict[str, Installed | str], job: J.Job, work: Path
) -> list[Outcome]:
    truth = J.job_truth(job)
    runners: dict[str, Callable[[Installed, Emulator, Path], Outcome]] = {
        "airbyte": lambda i, e, w: airbyte.run_airbyte(i, e, job, w),
        "tap": lambda i, e, w: tap.run_tap(i, e, job, w),
        "pyfacebook": lambda i, e, w: sdks.run_sdk(i, e, job, w, truth),
        "facebook-business": lambda i, e, w: sdks.run_sdk(i, e, job, w, truth),
    }
    outcomes: list[Outcome] = []
    with emulator(J.SCENARIO_PATH, work / "emulator.log") as emu:
        print(
            f"compat: emulator on {emu.base_url}, {len(job.accounts)} accounts, "
            f"end_time dates {job.first}..{job.last}",
            flush=True,
        )
        for name in chosen:
            folder = work / name
            folder.mkdir(exist_ok=True)
            print(f"compat: {name}: running", flush=True)
            installed = ready.get(name)
            if isinstance(installed, str):
                outcomes.append(Outcome(name, skipped=installed))
                continue
            try:
                if installed is None:
                    outcomes.append(run_collector(emu, job, folder, truth))
                    continue
                outcomes.append(runners[name](installed, emu, folder))
            except Exception as exc:  # one client's surprise must not stop the others
                failed = Outcome(name)
                why = redact(f"{type(exc).__name__}: {exc}", [job.token])
                failed.problems.append(f"the bed could not follow it: {why}")
                outcomes.append(failed)
                continue
            hosts = blocked_hosts(folder)
            outcomes[-1].notes.append(
                f"other hosts it tried (refused): {', '.join(hosts)}"
                if hosts
                else "it tried no host but the Graph API"
            )
    return outcomes


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
