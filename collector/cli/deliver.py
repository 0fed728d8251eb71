"""``ig-collector export`` and ``ig-collector report``: the store's data, delivered.

Both read the store read-only (``--sqlite``, or the ``[output].sqlite`` of
``--config``) through :func:`collector.storage.inspect.open_point_reader` and
send nothing to the Graph API. ``--since``/``--until`` name the days the values
describe (``YYYY-MM-DD`` or ``Nd``, N days before today in Pacific time).
A mistake on the command line ends the command with one line, exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import signal
from pathlib import Path

from collector.clock import SystemClock
from collector.config.checks import parse_date_spec
from collector.config.load import Config, load_config
from collector.errors import EXIT_OK, UsageError
from collector.graph.pacific import pacific_date
from collector.logs import json_lines
from collector.reporting.summary import BarProgress, stderr_is_terminal
from collector.storage.opening import StoreAddress, opened_point_reader

__all__ = ["export_command", "report_command"]


def export_command(args: argparse.Namespace) -> int:
    """Write the selected points to ``--out``; one line on stdout says how many."""
    from collector.engine.summary import ProgressReporter
    from collector.reporting.export.exporter import ExportRequest, export
    from collector.reporting.export.formats import require

    require(args.format)  # a missing extra is refused before the store is opened
    # the config only names the store here: not loaded (nor its secrets resolved) without need
    config = load_config(args.config) if args.config and args.sqlite is None else None
    if args.follow:
        return _follow(args, config)
    first, last = _days(args.since, args.until)
    request = ExportRequest(
        fmt=args.format,
        out=args.out,
        wide=args.wide,
        first=first,
        last=last,
        accounts=_listed(args.account),
        metrics=_listed(args.metrics),
    )

    def bar(total: int) -> ProgressReporter:
        return BarProgress(total, description="points")

    terminal = not args.no_progress and stderr_is_terminal() and not json_lines()

    async def go() -> tuple[int, int]:
        async with opened_point_reader(_address(args, config)) as reader:
            result = await export(reader, request, progress=bar if terminal else None)
        return result.points, result.rows

    points, rows = asyncio.run(go())
    shape = "wide" if args.wide else "long"
    print(f"{args.out}: {rows:,} {shape} rows ({points:,} points), {args.format}")
    return EXIT_OK


def report_command(args: argparse.Namespace) -> int:
    """Write one account's report to ``--out``, or with ``--all`` every account's and an index."""
    from collector.reporting.report.build import write_all, write_report
    from collector.reporting.report.figures import Period

    config = load_config(args.config) if args.config else None
    labels = {a.id: a.label for a in config.accounts} if config else {}
    first, last = _days(args.since, args.until)
    assert first is not None and last is not None  # both are required by the parser
    period = Period(first, last)
    generated = SystemClock().now().astimezone(dt.UTC)

    async def go() -> list[Path]:
        async with opened_point_reader(_address(args, config)) as reader:
            if args.all:
                ids = sorted(set(await reader.accounts()) | labels.keys())
                accounts = [(i, labels.get(i, "")) for i in ids]
                return await write_all(reader, accounts, period, args.out, generated)
            account = _account(args, labels)
            await write_report(reader, account, period, args.out, generated)
            return [args.out]

    written = asyncio.run(go())
    print(f"{written[-1]}: {len(written)} file(s) written")
    return EXIT_OK


def _follow(args: argparse.Namespace, config: Config | None) -> int:
    """``export --format ndjson --follow``: the committed points, each once, until SIGTERM."""
    from collector.engine.jobs import store_address
    from collector.reporting.export.follow import follow
    from collector.storage.opening import StoreAddress, open_store

    if (
        args.format != "ndjson"
        or args.wide
        or any((args.since, args.until, args.account, args.metrics))
    ):
        raise UsageError(
            "--follow streams every committed point as NDJSON; fix: use --format ndjson "
            "without --wide, --since, --until, --account or --metrics"
        )

    async def go() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        clock = SystemClock()
        address = StoreAddress(_store(args, config))
        if config is not None and args.sqlite is None:
            address = store_address(config)  # the config's store: maybe PostgreSQL
        store = await open_store(address, clock=clock)
        try:
            return await follow(
                store, args.out, clock, keep_following=True, stop=stop, poll_s=args.poll
            )
        finally:
            await store.close()

    points = asyncio.run(go())
    print(f"{args.out}: {points:,} points appended")
    return EXIT_OK


def _address(args: argparse.Namespace, config: Config | None) -> StoreAddress:
    """The store to read: ``--sqlite``, else the config's (its SQLite file or PostgreSQL)."""
    if args.sqlite is None and config is not None and config.store.url is not None:
        from collector.engine.jobs import store_address

        return store_address(config)
    return StoreAddress(_store(args, config))


def _store(args: argparse.Namespace, config: Config | None) -> Path:
    if args.sqlite is not None:
        return Path(args.sqlite)
    if config is not None:
        return config.output.sqlite
    raise UsageError(f"{args.command}: which store? fix: give --sqlite PATH or --config FILE")


def _account(args: argparse.Namespace, labels: dict[str, str]) -> tuple[str, str]:
    """(id, label) of ``--account`` or ``--label``; a label must name exactly one account."""
    if args.account is not None:
        return args.account, labels.get(args.account, "")
    if not labels:
        raise UsageError("--label needs --config, whose accounts carry the labels")
    matches = [i for i, label in labels.items() if label == args.label]
    if len(matches) != 1:
        what = "no account" if not matches else f"{len(matches)} accounts ({', '.join(matches)})"
        raise UsageError(
            f'--label "{args.label}" names {what} in {args.config}; fix: give --account ID'
        )
    return matches[0], args.label


def _days(since: str | None, until: str | None) -> tuple[dt.date | None, dt.date | None]:
    """``--since``/``--until`` as days (``None`` when not given); refuses since > until."""
    today = pacific_date(SystemClock().now())
    days: list[dt.date | None] = []
    for flag, value in (("--since", since), ("--until", until)):
        if value is None:
            days.append(None)
            continue
        try:
            days.append(parse_date_spec(value).resolve(today))
        except ValueError as error:
            raise UsageError(f"{flag}: {error}; fix: write YYYY-MM-DD or Nd") from None
    first, last = days
    if first is not None and last is not None and first > last:
        raise UsageError(f"--since {first} is after --until {last}; fix: swap them")
    return first, last


def _listed(values: list[str] | None) -> tuple[str, ...]:
    """Repeated and comma-separated values (``--account a,b --account c``), in order, once."""
    items = (item.strip() for value in values or () for item in value.split(","))
    return tuple(dict.fromkeys(item for item in items if item))
