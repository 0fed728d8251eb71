"""The config a command works on: ``--config`` parsed once, with the command line's overrides."""

from __future__ import annotations

import argparse

import structlog

from collector.config.load import Config, apply_overrides, load_config
from collector.engine.runtime import config_secrets
from collector.logs import REDACTOR, configure

log = structlog.get_logger("collector.cli.args")

__all__ = ["load"]


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
        store_url=getattr(args, "store", None),
    )
    REDACTOR.add(config_secrets(config))  # before any command logs or fails
    if args.log_format is None or args.log_level is None:
        configure(args.log_format or config.log.format, args.log_level or config.log.level)
    for warning in config.warnings:
        log.warning("config_warning", detail=warning)
    return config
