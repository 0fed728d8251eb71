"""The queue's commands: ``worker``, ``pull``, ``jobs`` and ``cancel``.

- ``worker`` works the shared queue until SIGTERM/SIGINT (it drains for a
  grace period, releases what it had not sent and exits 0);
- ``pull`` enqueues an on-demand job (it goes before the daemon's routine)
  and prints its id; ``--wait`` follows its progress until it is done and,
  when no worker is alive, works it in this process;
- ``jobs`` lists the newest jobs with their progress; ``cancel`` stops one.

None of them reads a token from the store: workers send with the tokens of
their own config's registry.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import signal
import sys

import orjson
import structlog

from collector.cli.args import load
from collector.clock import SystemClock
from collector.config.load import Config, ConfigError
from collector.daemon.endpoint import serve_endpoint
from collector.daemon.observed import WorkerWatch, worker_served
from collector.engine import speed
from collector.engine.jobs import QueueMode, enqueue_run, store_address
from collector.engine.run import plan_specs, run_once
from collector.engine.runtime import Runtime
from collector.errors import EXIT_OK, EXIT_PARTIAL, OutputError
from collector.graph.pacific import pacific_date
from collector.storage.inspect import check_outputs
from collector.storage.lock import OutputBusy, held_elsewhere
from collector.storage.opening import open_store
from collector.storage.queue import ON_DEMAND_PRIORITY, JobInfo
from collector.tasks import beside

log = structlog.get_logger("collector.cli.queue")

__all__ = ["cancel_command", "jobs_command", "pull_command", "worker_command"]

# A worker heartbeats every third of its lease (60 s): older than this, it is gone.
_ALIVE_S = 45.0


def worker_command(args: argparse.Namespace) -> int:
    """``ig-collector worker``: work the queue until stopped; 0 after a clean drain."""
    config = load(args)
    if not config.store.url:
        check_outputs(config.output.sqlite, None)

    async def serve() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("worker_started", store=_where(config))
        clock = SystemClock()
        watch = WorkerWatch(config)
        served = worker_served(config, clock, watch)
        async with Runtime.for_config(config, clock) as runtime:
            runtime.caller.observer = served.metrics
            summary = await beside(
                run_once(
                    config,
                    clock=clock,
                    runtime=runtime,
                    queue=QueueMode("forever"),
                    stop=stop,
                    grace_s=args.grace,
                    watch=watch.watch,
                ),
                serve_endpoint(served, config.daemon.metrics_address),
                name="worker-endpoint",
            )
        log.info("worker_stopped", calls=summary.calls, failed=summary.failed)
        return EXIT_OK

    speed.tune_gc(long_lived=True)
    return speed.run(serve())


def pull_command(args: argparse.Namespace) -> int:
    """``ig-collector pull``: enqueue an on-demand job; print its id; ``--wait`` follows it."""
    config = load(args)
    if args.metrics:
        config = only_metrics(config, [m.strip() for m in args.metrics.split(",") if m.strip()])
    if not config.store.url:
        check_outputs(config.output.sqlite, None)

    async def enqueue() -> int:
        store = await open_store(store_address(config))
        try:
            specs = plan_specs(config, pacific_date(SystemClock().now()))
            return await enqueue_run(store, config, specs, priority=ON_DEMAND_PRIORITY, kind="pull")
        finally:
            await store.close()

    job = asyncio.run(enqueue())
    print(job)
    sys.stdout.flush()
    log.info("job_enqueued", job=job, accounts=len(config.accounts))
    if not args.wait:
        return EXIT_OK
    speed.tune_gc()
    return speed.run(_wait(config, job, args.poll))


async def _wait(config: Config, job: int, poll_s: float) -> int:
    """Follow ``job`` until done; work it here whenever no worker is alive.

    A process holding the store alone (a daemon between its runs) counts as
    alive: it looks at the queue every few seconds and works the job itself.
    """
    shown: tuple[str, int] | None = None
    while True:
        store = await open_store(store_address(config))
        try:
            info = await store.job(job)
            alive = await store.live_workers(_ALIVE_S)
        finally:
            await store.close()
        if info is None:
            raise OutputError(f"{_where(config)} has no job {job}")
        if shown != (info.state, info.finished):
            shown = (info.state, info.finished)
            _progress(info)
        if info.state in ("done", "cancelled"):
            return EXIT_OK if info.failed == 0 and info.state == "done" else EXIT_PARTIAL
        held = not config.store.url and held_elsewhere(config.output.sqlite)
        if not alive and not held:
            log.info("job_worked_here", job=job, reason="no live worker")
            with contextlib.suppress(OutputBusy):  # someone took the store meanwhile
                await run_once(config, queue=QueueMode("job", job))
            continue
        await asyncio.sleep(poll_s)


def _progress(info: JobInfo) -> None:
    log.info(
        "job_progress",
        job=info.id,
        state=info.state,
        finished=info.finished,
        total=info.total,
        failed=info.failed,
    )


def jobs_command(args: argparse.Namespace) -> int:
    """``ig-collector jobs``: the newest jobs and their progress (``--json``: one per line)."""
    config = load(args)

    async def read() -> list[JobInfo]:
        store = await open_store(store_address(config))
        try:
            return await store.jobs(args.limit)
        finally:
            await store.close()

    jobs = asyncio.run(read())
    if args.json:
        for info in jobs:
            print(orjson.dumps(dataclasses.asdict(info)).decode())
        return EXIT_OK
    print(f"{'job':>5}  {'kind':<8} {'state':<10} {'progress':>15}  {'failed':>6}  created")
    for info in jobs:
        progress = f"{info.finished}/{info.total}"
        print(
            f"{info.id:>5}  {info.kind:<8} {info.state:<10} {progress:>15}  {info.failed:>6}"
            f"  {info.created_at}"
        )
    return EXIT_OK


def cancel_command(args: argparse.Namespace) -> int:
    """``ig-collector cancel JOB``: stop a job; exit 2 when there is no such live job."""
    config = load(args)

    async def cancel() -> bool:
        store = await open_store(store_address(config))
        try:
            return await store.cancel(args.job)
        finally:
            await store.close()

    if not asyncio.run(cancel()):
        raise OutputError(
            f"{_where(config)}: no job {args.job} to cancel (unknown or already "
            "cancelled); fix: see `ig-collector jobs`"
        )
    print(f"job {args.job} cancelled")
    return EXIT_OK


def _where(config: Config) -> str:
    """The store as messages name it (a PostgreSQL URL never: it may hold a password)."""
    return "the PostgreSQL store" if config.store.url else str(config.output.sqlite)


def only_metrics(config: Config, names: list[str]) -> Config:
    """``config`` collecting only ``names`` (each must be one the config collects)."""
    unknown = [n for n in names if n not in config.collect.metrics]
    if unknown or not names:
        raise ConfigError(
            config.source,
            "--metrics",
            f"{', '.join(unknown) or 'nothing'} is not among [collect].metrics",
            "name metrics the config collects, comma-separated",
        )
    wanted = set(names)
    collect = config.collect
    selections = tuple(
        dataclasses.replace(s, metrics=tuple(m for m in s.metrics if m in wanted))
        for s in collect.selections
    )
    collect = dataclasses.replace(
        collect,
        metrics=tuple(m for m in collect.metrics if m in wanted),
        selections=selections,
    )
    return dataclasses.replace(config, collect=collect)
