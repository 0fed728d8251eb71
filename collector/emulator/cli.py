"""``ig-collector emulator``: serve the Graph API emulator, or print its ground truth.

Usage (``argv`` is everything after the word ``emulator``)::

    ig-collector emulator [--host 127.0.0.1] [--port 8088] [--scenario FILE]
                          [--seed N] [--now UNIX|ISO]
    ig-collector emulator truth ...        (see ``ig-collector emulator truth --help``)

Serving prints one line, ``emulator listening on http://HOST:PORT``, then serves
until SIGINT or SIGTERM and exits 0. ``--now`` starts the emulator's clock at
that instant and lets it run on in real time. A scenario that cannot be used
prints the reason on stderr and exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import signal
import sys

from collector.emulator.clock import EmulatorClock, FixedClock, SystemClock
from collector.emulator.scenario import Scenario, ScenarioError, load_scenario
from collector.emulator.server import EmulatorState, start_server

EXIT_USAGE = 2


def parse_instant(text: str) -> float:
    """Unix seconds from ``1764532800`` or an ISO 8601 time (naive means UTC)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"--now: {text!r} is neither unix seconds nor an ISO 8601 time"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ig-collector emulator",
        description="Serve the Graph API emulator (IG User Insights) over HTTP. "
        "Use `ig-collector emulator truth --help` for the ground-truth tool.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8088, help="port (default 8088; 0: any free)")
    parser.add_argument("--scenario", help="scenario TOML file (default: the built-in scenario)")
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.add_argument(
        "--now",
        type=parse_instant,
        help="start the emulator's clock here (unix seconds or ISO 8601); it runs on from there",
    )
    return parser


async def serve(state: EmulatorState, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM."""
    runner, base_url = await start_server(state, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"emulator listening on {base_url}", flush=True)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await runner.cleanup()


def main(argv: list[str]) -> int:
    """Run ``ig-collector emulator`` with ``argv`` (the words after ``emulator``)."""
    if argv and argv[0] == "truth":
        from collector.emulator.truth import main as truth_main

        return truth_main(argv[1:])
    args = _parser().parse_args(argv)
    try:
        scenario: Scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        print(f"ig-collector emulator: {exc}", file=sys.stderr)
        return EXIT_USAGE
    clock: EmulatorClock = (
        FixedClock(args.now, advancing=True) if args.now is not None else SystemClock()
    )
    state = EmulatorState.create(scenario, clock=clock, seed=args.seed)
    try:
        asyncio.run(serve(state, args.host, args.port))
    except OSError as exc:
        print(
            f"ig-collector emulator: cannot listen on {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
