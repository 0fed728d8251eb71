"""``ig-collector``: the command line. Logging is configured here, once.

Exit codes: 0 everything done; 1 partial (the summary names what failed and
why); 2 a config or usage error (nothing was sent).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog

from collector import __version__
from collector.config.load import Config, ConfigError, apply_overrides, load_config
from collector.logs import configure

log = structlog.get_logger("collector.cli.main")

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ig-collector",
        description="Collect Instagram account insights from the Graph API for many accounts.",
    )
    parser.add_argument("--version", action="version", version=f"ig-collector {__version__}")
    parser.add_argument(
        "--log-format",
        choices=("auto", "json", "console"),
        default=None,
        help="override [log].format (default: console on a terminal, else JSON)",
    )
    parser.add_argument("--log-level", default=None, help="override [log].level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser("run", help="pull insights for every account of a config")
    run.add_argument("--config", required=True, type=Path)
    run.add_argument("--since", help="first end_time date: YYYY-MM-DD or Nd (N days ago)")
    run.add_argument("--until", help="last end_time date: YYYY-MM-DD or Nd")
    run.add_argument("--accounts", help="only these account ids, comma-separated")
    run.add_argument("--ndjson", help="NDJSON output path (.gz for gzip)")
    run.add_argument("--sqlite", help="SQLite output path")
    run.add_argument("--no-progress", action="store_true", help="no progress bar on a terminal")
    run.add_argument(
        "--deadline",
        type=float,
        metavar="SECONDS",
        help="schedule no retry past this many seconds; such requests fail with their cause",
    )

    check = sub.add_parser("check-config", help="validate a config and its registry; send nothing")
    check.add_argument("--config", required=True, type=Path)
    check.add_argument(
        "--suggest",
        nargs="?",
        const="",
        metavar="VERSION",
        help="print [collect] rewritten for VERSION (default: [graph].api_version if v22+, "
        "else v24.0): retired metrics become their heirs; the config is not validated",
    )

    plan = sub.add_parser("plan", help="show the requests a run would send; send nothing")
    plan.add_argument("--config", required=True, type=Path)
    plan.add_argument("--since")
    plan.add_argument("--until")
    plan.add_argument("--accounts")

    status = sub.add_parser("status", help="the ledger and freshness of a SQLite output")
    status.add_argument("--sqlite", required=True, type=Path)

    daemon = sub.add_parser(
        "daemon", help="keep every account fresh on a schedule until SIGTERM (SIGHUP reloads)"
    )
    daemon.add_argument("--config", required=True, type=Path)

    demo = sub.add_parser("demo", help="start the bundled emulator and pull config/demo.toml")
    demo.add_argument("--config", type=Path, default=None, help="default: config/demo.toml")
    demo.add_argument("--out", type=Path, default=Path("out"), help="output folder (default out/)")
    demo.add_argument("--keep", action="store_true", help="keep earlier demo output (resume)")

    sub.add_parser(
        "emulator", help="run the Graph API emulator (see `emulator --help`)", add_help=False
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # The emulator has its own parser (serve and truth); hand it everything after the word.
    if "emulator" in args_list and args_list.index("emulator") == _first_positional(args_list):
        from collector.emulator.cli import main as emulator_main

        return emulator_main(args_list[args_list.index("emulator") + 1 :])
    parser = _parser()
    args = parser.parse_args(args_list)
    configure(args.log_format or "auto", args.log_level or "info")
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "check-config":
            return _check(args)
        if args.command == "plan":
            return _plan(args)
        if args.command == "status":
            return _status(args)
        if args.command == "daemon":
            return _daemon(args)
        if args.command == "demo":
            from collector.cli.demo import run_demo

            return run_demo(config_path=args.config, out=args.out, keep=args.keep)
    except ConfigError as error:
        print(f"ig-collector: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("ig-collector: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command}")


def _first_positional(args: list[str]) -> int:
    for i, arg in enumerate(args):
        if not arg.startswith("-"):
            return i
    return -1


def load(args: argparse.Namespace) -> Config:
    """The config named by ``--config`` with the command line's overrides applied."""
    config = load_config(args.config)
    accounts = getattr(args, "accounts", None)
    config = apply_overrides(
        config,
        since=getattr(args, "since", None),
        until=getattr(args, "until", None),
        accounts=accounts.split(",") if accounts else None,
        ndjson=getattr(args, "ndjson", None),
        sqlite=getattr(args, "sqlite", None),
    )
    if args.log_format is None or args.log_level is None:
        configure(args.log_format or config.log.format, args.log_level or config.log.level)
    for warning in config.warnings:
        log.warning("config_warning", detail=warning)
    return config


def _crash_hook(spec: str | None) -> Callable[[str], None] | None:
    """Test seam: ``IG_COLLECTOR_CRASH_AT=stage:N`` SIGKILLs this process at the N-th
    time the sink writer reaches ``stage`` (staged, appended, committed)."""
    if not spec:
        return None
    stage, _, count = spec.partition(":")
    remaining = [int(count or "1")]

    def hook(reached: str) -> None:
        if reached == stage:
            remaining[0] -= 1
            if remaining[0] <= 0:
                os.kill(os.getpid(), signal.SIGKILL)

    return hook


def _run(args: argparse.Namespace) -> int:
    from collector.engine.run import run_once
    from collector.reporting.summary import Progress, render_table

    config = load(args)
    hook = _crash_hook(os.environ.get("IG_COLLECTOR_CRASH_AT"))
    summary = asyncio.run(
        run_once(
            config,
            progress=None if args.no_progress else Progress,
            writer_hook=hook,
            deadline_s=args.deadline,
        )
    )
    print(render_table(summary), file=sys.stderr)
    return summary.exit_code


def _check(args: argparse.Namespace) -> int:
    if args.suggest is not None:
        from collector.config.migrate import suggest_for_file

        print(suggest_for_file(args.config, args.suggest or None))
        return EXIT_OK
    config = load(args)
    apps = ", ".join(f"{a.name} ({a.calls_per_hour:g}/h)" for a in config.apps)
    versions = ", ".join(
        f"{v}: {len(config.collect.selection(v).metrics)} metrics" for v in config.versions()
    )
    print(f"{config.source}: OK: {len(config.accounts)} accounts, apps {apps}; {versions}")
    return EXIT_OK


def _plan(args: argparse.Namespace) -> int:
    from collector.reporting.plan import render_plan

    config = load(args)
    print(render_plan(config))
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    from collector.reporting.plan import render_status

    if not args.sqlite.exists():
        print(
            f"ig-collector: {args.sqlite}: no such file; fix: give the --sqlite of a run",
            file=sys.stderr,
        )
        return EXIT_USAGE
    from collector.planning.freshness import render_freshness

    print(asyncio.run(render_freshness(args.sqlite)))
    print()
    print(asyncio.run(render_status(args.sqlite)))
    return EXIT_OK


def _daemon(args: argparse.Namespace) -> int:
    from collector.daemon.service import Daemon

    config = load(args)
    daemon = Daemon(config, reload=lambda: load(args))

    async def serve() -> int:
        daemon.install_signals()
        return await daemon.run()

    try:
        return asyncio.run(serve())
    except asyncio.CancelledError:  # a second SIGTERM/SIGINT: cancelled without the grace
        return 130


if __name__ == "__main__":
    sys.exit(main())
