"""ig-collector: Instagram account insights for many accounts, fast, exact and resumable.

As a library::

    from collector import InsightsClient

    async with InsightsClient(access_token=TOKEN, api_version="v22.0") as client:
        rows = await client.get_user_insights(user_id, "day", "reach,follower_count")

The names below are imported on first use, so ``import collector`` (which the
CLI and every module do) stays free of aiohttp and the Graph client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from collector.client.client import InsightsClient
    from collector.client.models import Insight, InsightValue
    from collector.errors import (
        ApiError,
        GraphError,
        InvalidRequest,
        PermissionDenied,
        Throttled,
        TokenInvalid,
        TransientApiError,
        TransportError,
    )

_LAZY: dict[str, str] = {
    "InsightsClient": "collector.client.client",
    "Insight": "collector.client.models",
    "InsightValue": "collector.client.models",
    "GraphError": "collector.errors",
    "ApiError": "collector.errors",
    "TransportError": "collector.errors",
    "TransientApiError": "collector.errors",
    "Throttled": "collector.errors",
    "InvalidRequest": "collector.errors",
    "PermissionDenied": "collector.errors",
    "TokenInvalid": "collector.errors",
}

__all__ = [
    "ApiError",
    "GraphError",
    "Insight",
    "InsightValue",
    "InsightsClient",
    "InvalidRequest",
    "PermissionDenied",
    "Throttled",
    "TokenInvalid",
    "TransientApiError",
    "TransportError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module the first time it is asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'collector' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
