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

    status = command("status", "the ledger and freshness of a SQLite output (read-only)")
    status.add_argument("--sqlite", required=True, type=Path)

    daemon = command(
        "daemon", "keep every account fresh on a schedule until SIGTERM (SIGHUP reloads)"
    )
    daemon.add_argument("--config", required=True, type=Path)

    add_db_arguments(command("db", "create or upgrade a store's tables (db upgrade)"), common)

    demo = command("demo", "start the bundled emulator and pull config/demo.toml")
    demo.add_argument("--config", type=Path, default=None, help="default: config/demo.toml")
    demo.add_argument("--out", type=Path, default=Path("out"), help="output folder (default out/)")
    demo.add_argument("--keep", action="store_true", help="keep earlier demo output (resume)")

    # No -h of its own: `emulator --help` is the emulator parser's help.
    command("emulator", "run the Graph API emulator (see `emulator --help`)", add_help=False)
    return parser


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
