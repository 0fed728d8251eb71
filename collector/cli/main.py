"""``ig-collector``: the command line. Logging is configured here, once.

Exit codes: 0 everything done; 1 partial (the summary names what failed and
why); 2 a usage, config or output error, found before any request was sent.
Every error the collector knows (:class:`~collector.errors.CollectorError`)
ends a command with one message on stderr and its ``exit_code``: a plain line,
or with JSON logs one ``command_failed`` event. ``--debug`` adds the traceback.
The run's summary table goes to stdout; stderr is the logs' stream.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import traceback
from collections.abc import Callable, Sequence

import structlog

from collector.cli import queue_cmds
from collector.cli.args import load
from collector.cli.deliver import export_command, report_command
from collector.cli.parser import parse
from collector.config.load import Config
from collector.engine import speed
from collector.errors import EXIT_OK, EXIT_PARTIAL, CollectorError
from collector.logs import configure, json_lines, redact_text
from collector.storage.inspect import check_outputs

log = structlog.get_logger("collector.cli.main")

EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code."""
    args, rest = parse(argv)
    configure(args.log_format or "auto", args.log_level or "info")
    if args.command == "emulator":
        # The emulator has its own parser (serve and truth): it gets all but ours.
        from collector.emulator.cli import main as emulator_main

        return emulator_main(rest)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "run": _run,
        "check-config": _check,
        "plan": _plan,
        "status": _status,
        "daemon": _daemon,
        "demo": _demo,
        "worker": queue_cmds.worker_command,
        "pull": queue_cmds.pull_command,
        "jobs": queue_cmds.jobs_command,
        "cancel": queue_cmds.cancel_command,
        "export": export_command,
        "report": report_command,
        "db": _db,
        "accounts": _onboard,
        "tokens": _onboard,
    }
    try:
        return commands[args.command](args)
    except CollectorError as error:
        return _fail(error, error.exit_code, debug=args.debug)
    except KeyboardInterrupt:
        print("ig-collector: interrupted; re-run the same command to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # a bug: still one line, the traceback with --debug
        return _fail(error, EXIT_PARTIAL, debug=args.debug, unexpected=True)


def _fail(error: BaseException, code: int, *, debug: bool, unexpected: bool = False) -> int:
    """Report ``error`` once on stderr (redacted) and return ``code``."""
    message = redact_text(str(error)) or type(error).__name__
    if unexpected:
        message = f"unexpected {type(error).__name__}: {message}"
        if not debug:
            message += " (re-run with --debug for the traceback)"
    if json_lines():
        fields: dict[str, object] = {"error": message, "exit_code": code}
        if debug:
            fields["exception"] = redact_text("".join(traceback.format_exception(error)))
        log.error("command_failed", **fields)
        return code
    if debug:
        sys.stderr.write(redact_text("".join(traceback.format_exception(error))))
    print(f"ig-collector: {message}", file=sys.stderr)
    return code


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
    from collector.reporting.summary import progress_factory, render_table, stderr_is_terminal

    config = load(args)
    check_outputs(config.output.sqlite, config.output.ndjson)
    hook = _crash_hook(os.environ.get("IG_COLLECTOR_CRASH_AT"))
    progress = None
    if not args.no_progress:
        progress = progress_factory(terminal=stderr_is_terminal() and not json_lines())
    speed.tune_gc()
    summary = speed.run(
        run_once(config, progress=progress, writer_hook=hook, deadline_s=args.deadline)
    )
    print(render_table(summary))
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
    from collector.cli.status import status_command

    return status_command(args)


def _daemon(args: argparse.Namespace) -> int:
    from collector.daemon.service import Daemon

    def checked() -> Config:
        config = load(args)
        check_outputs(config.output.sqlite, config.output.ndjson)
        return config

    daemon = Daemon(checked(), reload=checked)

    async def serve() -> int:
        daemon.install_signals()
        return await daemon.run()

    speed.tune_gc(long_lived=True)
    try:
        return speed.run(serve())
    except asyncio.CancelledError:  # a second SIGTERM/SIGINT: cancelled without the grace
        return EXIT_INTERRUPTED


def _onboard(args: argparse.Namespace) -> int:
    from collector.cli import onboard

    actions = {
        "discover": onboard.discover_command,
        "exchange": onboard.exchange_command,
        "check": onboard.check_command,
    }
    return actions[args.action](args)


def _db(args: argparse.Namespace) -> int:
    from collector.cli.db import run_db

    return run_db(args)


def _demo(args: argparse.Namespace) -> int:
    from collector.cli.demo import run_demo

    return run_demo(config_path=args.config, out=args.out, keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
