"""``ig-collector``'s command line, declared: argparse subparsers with shared parent options.

The global options (:data:`GLOBAL_OPTIONS`) are accepted before or after the
command: ``ig-collector --log-format json run ...`` and ``ig-collector run ...
--log-format json`` mean the same. They sit on the top parser and, through a
parent parser whose defaults are suppressed, on every command, so a value given
after the command is not overwritten by the command's own defaults.

``emulator`` takes the global options like any command and hands everything
else, untouched, to the emulator's own parser (:mod:`collector.emulator.cli`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from collector import __version__
from collector.cli.db import add_db_arguments
from collector.errors import EXIT_USAGE

LOG_FORMATS = ("auto", "json", "console")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
GLOBAL_OPTIONS = ("--log-format", "--log-level", "--debug")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message}; see `{self.prog} --help`\n")


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    # On the commands the defaults are SUPPRESS: an option not given after the
    # command leaves what the top parser read before it.
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=default,
        help="override [log].format (default: console on a terminal, else JSON lines)",
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        type=str.lower,
        default=default,
        help="override [log].level",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="print the traceback of an error (default: one line)",
    )


def build_parser() -> Parser:
    """The whole command line: global options and one subparser per command."""
    parser = Parser(
        prog="ig-collector",
        description="Collect Instagram account insights from the Graph API for many accounts.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"ig-collector {__version__}")
    _global_options(parser, suppress=False)
    common = Parser(add_help=False, allow_abbrev=False)
    _global_options(common, suppress=True)

    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, *, add_help: bool = True) -> Parser:
        return sub.add_parser(
            name, help=help_text, parents=[common], allow_abbrev=False, add_help=add_help
        )

    run = command("run", "pull insights for every account of a config")
    run.add_argument("--config", required=True, type=Path)
    _store_url(run)
    _range_options(run)
    run.add_argument("--ndjson", help="NDJSON output path (.gz for gzip; empty: off)")
    run.add_argument("--sqlite", help="SQLite output path")
    run.add_argument("--no-progress", action="store_true", help="no progress bar on a terminal")
    run.add_argument(
        "--deadline",
        type=float,
        metavar="SECONDS",
        help="schedule no retry past this many seconds; such requests fail with their cause",
    )

    check = command("check-config", "validate a config and its registry; send nothing")
    check.add_argument("--config", required=True, type=Path)
    check.add_argument(
        "--suggest",
        nargs="?",
        const="",
        metavar="VERSION",
        help="print [collect] rewritten for VERSION (default: [graph].api_version if v22+, "
        "else v24.0): retired metrics become their heirs; the config is not validated",
    )

    plan = command("plan", "show the requests a run would send; send nothing")
    plan.add_argument("--config", required=True, type=Path)
    _range_options(plan)

    status = command("status", "freshness, ledger, queue and lag of a store (read-only)")
    status.add_argument("--sqlite", type=Path, help="the SQLite store (opened read-only)")
    status.add_argument("--config", type=Path, help="the config's store and apps")
    status.add_argument("--json", action="store_true", help="the figures as one JSON object")
    status.add_argument(
        "--tokens", action="store_true",
        help="also check --config's tokens by debug_token (as `tokens check`) and list those "
        "dead or expiring within --warn-days",
    )  # fmt: skip
    status.add_argument("--warn-days", type=float, default=7.0, help="with --tokens (default 7)")

    daemon = command(
        "daemon", "keep every account fresh on a schedule until SIGTERM (SIGHUP reloads)"
    )
    daemon.add_argument("--config", required=True, type=Path)
    _store_url(daemon)

    _export_command(command("export", "write stored points to a CSV, Parquet or NDJSON file"))
    _report_command(command("report", "a self-contained HTML report per account, from the store"))
    add_db_arguments(command("db", "create or upgrade a store's tables (db upgrade)"), common)

    demo = command("demo", "start the bundled emulator and pull config/demo.toml")
    demo.add_argument("--config", type=Path, default=None, help="default: config/demo.toml")
    demo.add_argument("--out", type=Path, default=Path("out"), help="output folder (default out/)")
    demo.add_argument("--keep", action="store_true", help="keep earlier demo output (resume)")

    worker = command("worker", "work the shared queue until SIGTERM (drains, then exits 0)")
    worker.add_argument("--config", required=True, type=Path)
    _store_url(worker)
    worker.add_argument("--sqlite", help="the store (SQLite path) to work")
    worker.add_argument(
        "--grace", type=float, default=30.0, metavar="SECONDS",
        help="on SIGTERM, let requests in flight finish this long (default 30)",
    )  # fmt: skip

    pull = command("pull", "enqueue an on-demand job (before the routine); print its id")
    pull.add_argument("--config", required=True, type=Path)
    _store_url(pull)
    _range_options(pull)
    pull.add_argument("--metrics", help="only these metrics, comma-separated")
    pull.add_argument("--sqlite", help="the store (SQLite path) to enqueue into")
    pull.add_argument(
        "--wait", action="store_true",
        help="follow the job until done; work it here while no worker is alive",
    )  # fmt: skip
    pull.add_argument("--poll", type=float, default=2.0, help=argparse.SUPPRESS)

    jobs = command("jobs", "list the newest jobs of the queue with their progress")
    jobs.add_argument("--config", required=True, type=Path)
    _store_url(jobs)
    jobs.add_argument("--sqlite", help="the store (SQLite path)")
    jobs.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    jobs.add_argument("--json", action="store_true", help="one JSON object per job")

    cancel = command("cancel", "cancel a job: its unsent requests are not sent")
    cancel.add_argument("job", type=int, metavar="JOB")
    cancel.add_argument("--config", required=True, type=Path)
    _store_url(cancel)
    cancel.add_argument("--sqlite", help="the store (SQLite path)")

    accounts = command("accounts", "find the IG accounts a token reaches (accounts discover)")
    _accounts_command(accounts, common)
    tokens = command("tokens", "long-lived tokens: tokens exchange, tokens check")
    _tokens_command(tokens, common)

    # No -h of its own: `emulator --help` is the emulator parser's help.
    command("emulator", "run the Graph API emulator (see `emulator --help`)", add_help=False)
    return parser


def _export_command(export: argparse.ArgumentParser) -> None:
    # Formats are repeated here, not imported: the parser must not load the exporter.
    export.add_argument("--format", required=True, choices=("csv", "parquet", "ndjson"))
    export.add_argument("--out", required=True, type=Path, help="the file to write")
    _store_options(export)
    _day_options(export, required=False)
    export.add_argument(
        "--account", action="append", metavar="ID[,ID...]", help="only these accounts"
    )
    export.add_argument("--metrics", action="append", metavar="M[,M...]", help="only these metrics")
    export.add_argument(
        "--wide",
        action="store_true",
        help="one row per account and day, a column per metric (breakdowns as metric.value)",
    )
    export.add_argument("--no-progress", action="store_true", help="no progress bar")
    export.add_argument(
        "--follow",
        action="store_true",
        help="ndjson only: append every point as it commits, each once, resuming from "
        "<out>.checkpoint, until SIGTERM (with a shared store: the NDJSON stream)",
    )
    export.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)


def _report_command(report: argparse.ArgumentParser) -> None:
    who = report.add_mutually_exclusive_group(required=True)
    who.add_argument("--account", metavar="ID", help="the account to report on")
    who.add_argument("--label", help="the account whose label (in --config) this is")
    who.add_argument(
        "--all", action="store_true", help="every account: --out is a folder, with index.html"
    )
    _day_options(report, required=True)
    report.add_argument(
        "--out", required=True, type=Path, help="the HTML file (with --all: a folder)"
    )
    _store_options(report)


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sqlite", type=Path, help="the store (default: --config's [output])")
    parser.add_argument("--config", type=Path, help="a config: its store and account labels")


def _day_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    # The days values describe (Meta's end_time is the midnight ending the day), inclusive.
    what = "day described: YYYY-MM-DD or Nd (N days ago, Pacific)"
    parser.add_argument("--since", required=required, help=f"first {what}")
    parser.add_argument("--until", required=required, help=f"last {what}")


def _store_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store", metavar="URL",
        help="a shared PostgreSQL store (postgresql://..., or env:NAME / file:PATH holding it); "
        "overrides [store].url",
    )  # fmt: skip


def _accounts_command(accounts: argparse.ArgumentParser, common: Parser) -> None:
    sub = accounts.add_subparsers(dest="action", metavar="ACTION", required=True)
    discover = sub.add_parser(
        "discover", parents=[common], help="merge the accounts of GET /me/accounts into a registry"
    )
    discover.add_argument("--token", required=True, help="the user token: env:VAR or file:PATH")
    discover.add_argument("--app", help="the [[apps]] name the rows get (default: the only one)")
    discover.add_argument("--config", type=Path, help="the config (its API host and version)")
    discover.add_argument(
        "--registry",
        required=True,
        type=Path,
        help="the registry: a CSV, or a .toml whose [[accounts]] list them",
    )
    discover.add_argument(
        "--secrets", required=True, type=Path,
        help="folder (0700) for the Page tokens, one 0600 file per account",
    )  # fmt: skip
    discover.add_argument("--yes", action="store_true", help="write without asking")


def _tokens_command(tokens: argparse.ArgumentParser, common: Parser) -> None:
    sub = tokens.add_subparsers(dest="action", metavar="ACTION", required=True)
    exchange = sub.add_parser(
        "exchange", parents=[common], help="trade a short-lived token for a 60-day one"
    )
    exchange.add_argument("--app", required=True, help="the [[apps]] name")
    exchange.add_argument("--token", required=True, help="the short token: env:VAR or file:PATH")
    exchange.add_argument("--out", type=Path, help="write it here (0600) instead of stdout")
    exchange.add_argument("--config", required=True, type=Path)
    check = sub.add_parser(
        "check", parents=[common], help="each token's expiry and scopes (debug_token)"
    )
    check.add_argument("--config", required=True, type=Path)
    check.add_argument(
        "--warn-days", type=float, default=7.0,
        help="exit 1 when a token expires within this many days (default 7)",
    )  # fmt: skip


def _range_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", help="first end_time date: YYYY-MM-DD or Nd (N days ago)")
    parser.add_argument("--until", help="last end_time date: YYYY-MM-DD or Nd")
    parser.add_argument("--accounts", help="only these account ids, comma-separated")


def parse(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    """The parsed command line and, for ``emulator`` only, the arguments it hands on.

    Any other command with an argument it does not know is a usage error (exit 2).
    """
    parser = build_parser()
    args, rest = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    if rest and args.command != "emulator":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return args, rest
