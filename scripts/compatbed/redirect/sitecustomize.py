"""Point a Graph API client at the emulator through its environment only.

Python imports ``sitecustomize`` at start-up from the first folder on ``sys.path``
that has one; ``scripts/compat`` puts this file's folder on ``PYTHONPATH`` of every
client it runs, so the client's own code stays as published. Environment:

- ``COMPAT_GRAPH_URL`` (required to do anything): the emulator's base URL, e.g.
  ``http://127.0.0.1:41234``. Every request to ``https://graph.facebook.com`` (or
  ``graph.instagram.com``) goes there instead, path and query unchanged. The rewrite
  sits where a URL becomes a connection: ``requests`` (``HTTPAdapter.send``),
  ``urllib3`` (``PoolManager.urlopen``) and ``aiohttp`` (``ClientSession._request``),
  each patched when the client first imports it.
- ``COMPAT_BLOCKED_LOG`` (optional): a file. Any other host name that is not
  loopback is refused at name resolution (``socket.getaddrinfo``) and appended
  there, one line each, so telemetry or registry look-ups fail fast and show up in
  the report instead of waiting on a closed network.

Nothing here prints; tokens in URLs are never written anywhere (the blocked log
holds host names only).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import socket
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

GRAPH_HOSTS = frozenset({"graph.facebook.com", "graph.instagram.com"})
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "ip6-localhost"})
TARGET = os.environ.get("COMPAT_GRAPH_URL", "").rstrip("/")
BLOCKED_LOG = os.environ.get("COMPAT_BLOCKED_LOG", "")


def rewrite(url: Any) -> Any:
    """``url`` with a Graph host replaced by the emulator; anything else unchanged."""
    text = str(url)
    parts = urlsplit(text)
    if (parts.hostname or "").lower() not in GRAPH_HOSTS:
        return url
    target = urlsplit(TARGET)
    return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))


def _patch_requests(module: ModuleType) -> None:
    adapter = module.HTTPAdapter
    original = adapter.send

    def send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        request.url = rewrite(request.url)
        return original(self, request, *args, **kwargs)

    adapter.send = send


def _patch_urllib3(module: ModuleType) -> None:
    manager = module.PoolManager
    original = manager.urlopen

    def urlopen(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        return original(self, method, rewrite(url), *args, **kwargs)

    manager.urlopen = urlopen


def _patch_aiohttp(module: ModuleType) -> None:
    session = module.ClientSession
    original = session._request

    def _request(self: Any, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
        return original(self, method, rewrite(url), *args, **kwargs)

    session._request = _request


PATCHES: dict[str, Callable[[ModuleType], None]] = {
    "requests.adapters": _patch_requests,
    "urllib3.poolmanager": _patch_urllib3,
    "aiohttp.client": _patch_aiohttp,
}


class _PatchingLoader(importlib.abc.Loader):
    """Runs the real loader, then the patch for that module."""

    def __init__(self, loader: Any, patch: Callable[[ModuleType], None]) -> None:
        self._loader = loader
        self._patch = patch

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._patch(module)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds the modules of :data:`PATCHES` with the other finders and wraps their loader."""

    def find_spec(
        self, name: str, path: Any, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        patch = PATCHES.get(name)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _PatchingLoader(spec.loader, patch)
                return spec
        return None


def _guard_resolution() -> None:
    original = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host or "localhost")
        if name.lower() in LOOPBACK or name.startswith("127."):
            return original(host, *args, **kwargs)
        if BLOCKED_LOG:
            with open(BLOCKED_LOG, "a", encoding="utf-8") as handle:
                handle.write(f"{name}\n")
        raise socket.gaierror(socket.EAI_NONAME, f"{name}: refused by scripts/compat")

    socket.getaddrinfo = getaddrinfo


if TARGET:
    sys.meta_path.insert(0, _AfterImport())
    _guard_resolution()
