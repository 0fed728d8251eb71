"""Onboarding commands: ``accounts discover``, ``tokens exchange`` and ``tokens check`` (SPEC 8).

A token given on the command line is a secret reference (``env:VAR`` or ``file:PATH``),
never the value, so it stays out of the shell's history. What these commands print is
ids, usernames, counts, dates and fingerprints; a token is written only to a file
(0600, :mod:`collector.config.secret_files`) or, for ``tokens exchange`` without
``--out``, once to stdout, which the operator redirects.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from collector.cli.args import load
from collector.config.load import Config
from collector.config.registry_write import Discovered, merge_registry
from collector.config.schema import read_sections
from collector.config.secret_files import secret_dir, write_secret
from collector.config.secrets import SecretError, SecretKind, SecretResolver, parse_reference
from collector.config.settings import DEFAULT_BASE_URL, AppConfig
from collector.daemon.tokens import Health, TokenVerdict, check_tokens
from collector.errors import EXIT_OK, EXIT_PARTIAL, UsageError
from collector.graph.transport import GraphRequest, HttpTransport, checked_body
from collector.logs import REDACTOR

DEFAULT_VERSION = "v24.0"  # without --config (SPEC 9: available until 2028-02-18)
ME_ACCOUNTS_FIELDS = "name,access_token,instagram_business_account{id,username,followers_count}"
PAGE_SIZE = "100"


def _secret(reference: str) -> str:
    """The value of an ``env:``/``file:`` reference from the command line (registered as secret)."""
    try:
        if parse_reference(reference).kind is SecretKind.LITERAL:
            raise UsageError("--token takes env:VAR or file:PATH, never the token itself")
        value = SecretResolver(os.environ).resolve(reference, base_dir=Path.cwd())
    except SecretError as error:
        raise UsageError(f"--token: {error}") from None
    REDACTOR.add([value])
    return value


def _wire(config: Config, app: AppConfig | None) -> HttpTransport:
    """A transport to ``app``'s host and version (``None``: ``[graph]``'s)."""
    base = (app.base_url if app else None) or config.graph.base_url
    version = (app.api_version if app else None) or config.graph.api_version
    return HttpTransport(base, version, timeout_s=config.graph.timeout_s, token_in="query")


def _app(config: Config, name: str) -> AppConfig:
    try:
        return config.app(name)
    except KeyError:
        names = ", ".join(a.name for a in config.apps)
        raise UsageError(f"--app {name}: not in the config's [[apps]] ({names})") from None


async def _pages(wire: HttpTransport, token: str) -> list[dict[str, Any]]:
    """Every Page ``/me/accounts`` lists, following ``paging.cursors.after``."""
    pages: list[dict[str, Any]] = []
    after: str | None = None
    async with wire:
        while True:
            params = [("fields", ME_ACCOUNTS_FIELDS), ("limit", PAGE_SIZE)]
            if after:
                params.append(("after", after))
            body = checked_body(await wire.send(GraphRequest("me/accounts", tuple(params), token)))
            data = body.get("data") or []
            pages.extend(p for p in data if isinstance(p, dict))
            paging = body.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not data or not after or "next" not in paging:
                return pages


def _graph_and_app(path: Path | None, name: str | None) -> tuple[str, str, str]:
    """Discovery's host, API version and app name, read from the config's [graph] and
    [[apps]] alone: the registry it is about to write may not exist yet."""
    if path is None:
        if name is None:
            raise UsageError("give --app NAME (or --config with one app)")
        return DEFAULT_BASE_URL, DEFAULT_VERSION, name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise UsageError(f"{path}: cannot read the config ({error})") from None
    sections, _ = read_sections(data, path)
    apps = [a for a in sections.apps or () if a is not None and a.login == "facebook"]
    chosen = [a for a in apps if name is None or a.name == name]
    if len(chosen) != 1:
        names = ", ".join(a.name for a in apps) or "none"
        raise UsageError(f"name one Facebook Login app of the config with --app ({names})")
    graph = sections.graph
    base = chosen[0].base_url or (graph.base_url if graph else DEFAULT_BASE_URL)
    version = chosen[0].api_version or (graph.api_version if graph else DEFAULT_VERSION)
    return base, version, chosen[0].name


def discover_command(args: argparse.Namespace) -> int:
    """``accounts discover``: list the token's IG accounts and merge them into the registry."""
    base, version, app_name = _graph_and_app(args.config, args.app)
    wire = HttpTransport(base, version, timeout_s=30.0, token_in="query")
    token = _secret(args.token)
    pages = asyncio.run(_pages(wire, token))
    registry: Path = args.registry
    secrets: Path = args.secrets
    found: list[Discovered] = []
    page_tokens: dict[str, str] = {}
    for page in pages:
        ig = page.get("instagram_business_account")
        if not isinstance(ig, dict) or not ig.get("id"):
            continue
        ig_id = str(ig["id"])
        ref = args.token
        if isinstance(page.get("access_token"), str):
            REDACTOR.add([page["access_token"]])
            page_tokens[ig_id] = page["access_token"]
            ref = f"file:{_relative(secrets / f'{ig_id}.token', registry.parent)}"
        followers = ig.get("followers_count")
        found.append(Discovered(ig_id, app_name, ref, str(ig.get("username") or ""), followers))
    for account in found:
        count = "?" if account.followers is None else f"{account.followers:,}"
        print(f"{account.id}  {account.label or '-':<24} {count:>12} followers")
    merge = merge_registry(registry, found)
    if not merge.added:
        print(f"{registry}: nothing to add ({len(found)} accounts found, all listed)")
        return EXIT_OK
    print(merge.diff(registry), end="")
    if not args.yes and not _confirm(f"add {len(merge.added)} accounts to {registry}?"):
        print("nothing written")
        return EXIT_PARTIAL
    folder = secret_dir(secrets) if page_tokens else None
    for account in merge.added:
        if folder is not None and account.id in page_tokens:
            write_secret(folder / f"{account.id}.token", page_tokens[account.id])
    registry.parent.mkdir(parents=True, exist_ok=True)
    temp = registry.with_name(f".{registry.name}.tmp")
    temp.write_text(merge.after, encoding="utf-8")
    temp.replace(registry)
    print(f"{registry}: {len(merge.added)} accounts added; Page tokens in {secrets}/ (0600)")
    return EXIT_OK


def _relative(path: Path, start: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), start.resolve())
    except ValueError:  # another drive (Windows): keep it absolute
        return str(path.resolve())


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise UsageError("not a terminal: pass --yes to write without asking")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def exchange_command(args: argparse.Namespace) -> int:
    """``tokens exchange``: trade a short-lived token for a long-lived one, written once."""
    config = load(args)
    app = _app(config, args.app)
    if not app.app_secret:
        raise UsageError(f"app {app.name} has no app_secret: the exchange needs it")
    short = _secret(args.token)
    params: tuple[tuple[str, str], ...]
    if app.login == "instagram":  # graph.instagram.com/access_token (SPEC 8)
        params = (("grant_type", "ig_exchange_token"), ("client_secret", app.app_secret))
        request = GraphRequest("access_token", params, short)
    else:
        params = (
            ("grant_type", "fb_exchange_token"),
            ("client_id", app.app_id),
            ("client_secret", app.app_secret),
            ("fb_exchange_token", short),
        )
        request = GraphRequest("oauth/access_token", params, "")
    body = asyncio.run(_send_once(_wire(config, app), request))
    token, lifetime = body.get("access_token"), body.get("expires_in")
    if not isinstance(token, str) or not token:
        raise UsageError("the answer holds no access_token")
    REDACTOR.add([token])
    if args.out is not None:
        write_secret(args.out, token)
        print(f"long-lived token written to {args.out} (0600)", file=sys.stderr)
    else:
        print(token)
    if isinstance(lifetime, int | float):
        until = dt.datetime.fromtimestamp(time.time() + lifetime, dt.UTC)
        days = lifetime / 86_400
        print(f"expires in {days:.0f} days, on {until:%Y-%m-%d %H:%M} UTC", file=sys.stderr)
    return EXIT_OK


async def _send_once(wire: HttpTransport, request: GraphRequest) -> dict[str, Any]:
    async with wire:
        body = checked_body(await wire.send(request))
    return body if isinstance(body, dict) else {}


def check_command(args: argparse.Namespace) -> int:
    """``tokens check``: each token's expiry and scopes by debug_token; 1 when one needs care."""
    config = load(args)
    verdicts = asyncio.run(check_config_tokens(config, args.warn_days))
    bad = 0
    print(f"{'token':<16} {'app':<14} {'accounts':>8}  {'health':<9} {'expires':<12} "
          f"{'data access':<12} scopes")  # fmt: skip
    for v in sorted(verdicts, key=lambda v: (v.app, v.fingerprint)):
        bad += v.health in (Health.INVALID, Health.EXPIRING)
        print(
            f"{v.fingerprint:<16} {v.app:<14} {v.accounts:>8}  {v.health.value:<9} "
            f"{_day(v.expires_at):<12} {_day(v.data_access_expires_at):<12} "
            f"{','.join(v.scopes) or v.detail or '-'}"
        )
    return EXIT_PARTIAL if bad else EXIT_OK


async def check_config_tokens(config: Config, warn_days: float) -> list[TokenVerdict]:
    """Every token of ``config`` checked by ``debug_token`` now, as the daemon checks them."""
    wire = _wire(config, None)
    async with wire:
        return await check_tokens(
            config.accounts, config.apps, lambda _app: wire, now=time.time(), warn_days=warn_days
        )


def _day(at: float | None) -> str:
    if at is None:
        return "?"
    return "never" if at == 0 else f"{dt.datetime.fromtimestamp(at, dt.UTC):%Y-%m-%d}"
