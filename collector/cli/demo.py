"""``ig-collector demo``: the bundled emulator, config/demo.toml, a full pull, a summary.

This is an entry point, like the CLI: it is the one place outside the tests that
starts the emulator, in-process, on a free loopback port, and points the demo
config's ``[graph].base_url`` at it. The summary goes to stdout, like ``run``'s. The collector itself does not know it is
talking to an emulator.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import structlog

from collector.config.load import load_config
from collector.engine import speed
from collector.reporting.summary import render_table
from collector.storage.inspect import check_outputs

log = structlog.get_logger("collector.cli.demo")


def find_demo_config() -> Path:
    """config/demo.toml in the working directory, else beside the package's checkout."""
    here = Path("config/demo.toml")
    if here.exists():
        return here
    return Path(__file__).resolve().parent.parent / "config" / "demo.toml"


def demo_outputs(out: Path) -> tuple[Path, Path]:
    """The demo's SQLite and NDJSON files in ``out``."""
    return out / "demo.sqlite", out / "demo.ndjson"


def _clear(out: Path, names: tuple[str, ...]) -> None:
    for name in names:
        for suffix in ("", "-wal", "-shm"):
            (out / f"{name}{suffix}").unlink(missing_ok=True)


async def _demo(config_path: Path, out: Path, keep: bool) -> int:
    from collector.emulator.testing import running_emulator
    from collector.engine.run import run_once

    config = load_config(config_path)
    for warning in config.warnings:
        log.warning("config_warning", detail=warning)
    sqlite, ndjson = demo_outputs(out)
    async with running_emulator() as emulator:
        log.info("emulator_started", base_url=emulator.base_url)
        config = dataclasses.replace(
            config,
            graph=dataclasses.replace(config.graph, base_url=emulator.base_url),
            output=dataclasses.replace(config.output, ndjson=ndjson, sqlite=sqlite),
        )
        summary = await run_once(config)
    print(render_table(summary))
    print(
        f"\ndemo: {summary.points_written:,} points from {summary.calls:,} requests "
        f"(plan: {summary.planned:,}) in {summary.duration_s:.2f} s -> {ndjson}, {sqlite}"
    )
    return summary.exit_code


def run_demo(*, config_path: Path | None, out: Path, keep: bool) -> int:
    """Run the demo; the exit code of the pull (0 when everything was collected).

    Raises :class:`~collector.errors.OutputError` before anything is started or
    removed when ``out`` or the demo's files in it cannot be used.
    """
    check_outputs(*demo_outputs(out))
    out.mkdir(parents=True, exist_ok=True)
    if not keep:
        _clear(out, ("demo.ndjson", "demo.sqlite"))
    speed.tune_gc()
    return speed.run(_demo(config_path or find_demo_config(), out, keep))
