"""Faults: which counted calls fail, how, and how each failure looks on the wire.

SPEC 5 lists the Graph API's own transient errors and, "outside the Graph API's
own errors", what any HTTP path brings: an HTML 502 from a proxy, a dropped
connection, a truncated body, a response that never ends. The emulator serves
all of them, deterministically.

Which call fails (:meth:`FaultPlan.decide`), first match wins:

1. ``[[faults.schedule]]``: the call whose 1-based number is listed.
2. Faults a test injected at runtime (:meth:`FaultPlan.inject`), oldest first,
   optionally only for one account.
3. ``faults.rate``: call ``n`` fails when a generator seeded with ``(seed, n)``
   draws below ``rate``; its kind is drawn from ``faults.kinds``.

Call numbers are given by the server to every call that passed authentication
(insights calls and batch items alike), so a scenario with the same seed fails
the same calls whatever the timing. ``batch_null_rate`` is drawn the same way
from a separate stream.

Graph-level kinds (:data:`GRAPH_FAULTS`) become a Graph error body; transport
kinds (:data:`TRANSPORT_FAULTS`) change what goes over the socket and, inside a
batch, hit the whole batch POST.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import deque
from dataclasses import dataclass

from aiohttp import web

from collector.emulator.scenario import FAULT_KINDS, FaultSettings

GRAPH_FAULTS: frozenset[str] = frozenset(
    {"transient_1", "transient_2", "subcode_33", "throttle_burst"}
)
TRANSPORT_FAULTS: frozenset[str] = frozenset(
    {"html_502", "drop_mid_body", "truncated_json", "slow"}
)


@dataclass(frozen=True)
class FaultError:
    """A Graph-level fault as the error it answers with (SPEC 5)."""

    status: int
    code: int
    message: str
    subcode: int | None = None
    is_transient: bool | None = None


GRAPH_FAULT_ERRORS: dict[str, FaultError] = {
    "transient_1": FaultError(500, 1, "An unknown error occurred", is_transient=True),
    "transient_2": FaultError(
        500,
        2,
        "An unexpected error has occurred. Please retry your request later.",
        is_transient=True,
    ),
    # SPEC 5: "Unsupported get request", observed as a disguised throttle.
    "subcode_33": FaultError(
        400,
        100,
        "Unsupported get request. Object with ID does not exist, cannot be loaded due to"
        " missing permissions, or does not support this operation.",
        subcode=33,
    ),
    "throttle_burst": FaultError(403, 4, "(#4) Application request limit reached"),
}

PROXY_502_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>proxy</center>\r\n"
    "</body>\r\n</html>\r\n"
)


@dataclass
class _Injected:
    kind: str
    remaining: int
    account: str | None


def _check_kind(kind: str) -> None:
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}")


class FaultPlan:
    """Decides the fault (if any) of each numbered call; safe to inject into from any thread."""

    def __init__(self, settings: FaultSettings, seed: int) -> None:
        self.settings = settings
        self.seed = seed
        self._schedule = {s.call: s.kind for s in settings.schedule}
        self._injected: deque[_Injected] = deque()
        self._lock = threading.Lock()
        self._calls = 0

    def number_call(self) -> int:
        """Give the next call its 1-based number."""
        with self._lock:
            self._calls += 1
            return self._calls

    @property
    def calls_numbered(self) -> int:
        with self._lock:
            return self._calls

    def inject(self, kind: str, count: int = 1, account: str | None = None) -> None:
        """Make the next ``count`` calls (for ``account`` only, if given) fail with ``kind``."""
        _check_kind(kind)
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._injected.append(_Injected(kind, count, account))

    def clear_injected(self) -> None:
        """Forget every injected fault not yet served."""
        with self._lock:
            self._injected.clear()

    def decide(self, call: int, account: str | None) -> str | None:
        """The fault kind of call number ``call`` for ``account``, or ``None`` (see module doc)."""
        scheduled = self._schedule.get(call)
        if scheduled is not None:
            return scheduled
        with self._lock:
            for item in self._injected:
                if item.account is None or item.account == account:
                    item.remaining -= 1
                    if item.remaining == 0:
                        self._injected.remove(item)
                    return item.kind
        rate = self.settings.rate
        if rate <= 0 or not self.settings.kinds:
            return None
        rng = random.Random(f"{self.seed}:fault:{call}")
        if rng.random() >= rate:
            return None
        return self.settings.kinds[rng.randrange(len(self.settings.kinds))]

    def batch_null(self, call: int) -> bool:
        """Whether batch item number ``call`` is answered ``null`` (SPEC 7)."""
        rate = self.settings.batch_null_rate
        if rate <= 0:
            return False
        return random.Random(f"{self.seed}:null:{call}").random() < rate


def latency_s(seed: int, call: int, fixed_ms: float, jitter_ms: float) -> float:
    """Seconds to wait before answering call ``call``: fixed plus seeded uniform jitter."""
    jitter = random.Random(f"{seed}:latency:{call}").uniform(0.0, jitter_ms) if jitter_ms > 0 else 0
    return max(0.0, (fixed_ms + jitter) / 1000.0)


# --- on the wire -------------------------------------------------------------------


def html_502() -> web.Response:
    """An HTML error page from a proxy in front of the API."""
    return web.Response(status=502, text=PROXY_502_HTML, content_type="text/html")


def truncated_json(headers: dict[str, str], body: bytes) -> web.Response:
    """HTTP 200 with a JSON body cut in half; Content-Length is honest about the cut body.

    The status is 200 whatever the real answer was, as from a buffering proxy.
    """
    response = web.Response(status=200, body=body[: len(body) // 2], headers=headers)
    response.content_type = "application/json"
    return response


async def drop_mid_body(
    request: web.Request, status: int, headers: dict[str, str], body: bytes
) -> web.StreamResponse:
    """Send the status, the headers with the full Content-Length and half the body, then hang up.

    The client sees its connection close short of Content-Length (aiohttp:
    ``ClientPayloadError``).
    """
    response = web.StreamResponse(status=status, headers=headers)
    response.content_type = "application/json"
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[: len(body) // 2])
    if request.transport is not None:
        request.transport.close()
    return response


async def stall(seconds: float) -> None:
    """The ``slow`` fault: wait before answering.

    The server runs with aiohttp's ``handler_cancellation``, so a client that
    gives up cancels this wait instead of leaving it to run out.
    """
    await asyncio.sleep(seconds)
