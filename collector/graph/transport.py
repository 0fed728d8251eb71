"""The Graph API client: one seam, ``Transport.send``, and its aiohttp implementation.

``send`` turns a :class:`GraphRequest` into a :class:`GraphResponse` or raises a
:class:`~collector.errors.TransportError`; :func:`checked_body` turns a response
into the parsed body or the typed :class:`~collector.errors.ApiError`. Tests swap
the transport for a small function; everything else talks to the emulator.

The token travels in an ``Authorization: OAuth`` header (default) or as the
``access_token`` parameter; either way it never appears in an exception message,
and :attr:`GraphRequest.loggable` is the only description of a request that logs see.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import orjson

from collector.errors import (
    BadResponse,
    ConnectionFailed,
    ErrorBody,
    RequestTimeout,
    TransportError,
    api_error_from,
)


@dataclass(frozen=True, slots=True)
class GraphRequest:
    """One Graph API GET: ``path`` below the version, parameters, and credentials.

    ``token`` and ``app_secret`` are hidden from ``repr`` so that a request in a
    traceback or a log field cannot leak them. ``version`` overrides the
    transport's API version for this request (apps may be on different versions);
    ``base_url`` its host (an Instagram Login app's ``graph.instagram.com``; ``None``:
    the transport's). One session serves every host: aiohttp pools per host.
    """

    path: str
    params: tuple[tuple[str, str], ...]
    token: str = field(repr=False)
    app_secret: str | None = field(default=None, repr=False)
    version: str | None = None
    base_url: str | None = None

    @property
    def loggable(self) -> str:
        """``path?params`` without credentials, for logs."""
        query = "&".join(f"{k}={v}" for k, v in self.params)
        return f"{self.path}?{query}" if query else self.path


@dataclass(frozen=True, slots=True)
class GraphResponse:
    """An HTTP answer whose body parsed as JSON, with the usage headers kept raw."""

    status: int
    body: Any
    app_usage: str | None = None
    buc_usage: str | None = None


class Transport(Protocol):
    """The one seam between the collector and the network."""

    async def send(self, request: GraphRequest) -> GraphResponse:
        """Send ``request`` and return the parsed answer, whatever its status.

        Raises :class:`TransportError` (or a subclass) when no trustworthy JSON
        answer arrived: timeouts, dropped connections, HTML or truncated bodies.
        Never raises for a Graph error body: see :func:`checked_body`.
        """
        ...


def appsecret_proof(token: str, app_secret: str) -> str:
    """Meta's proof: lowercase hex HMAC-SHA256 of the token keyed by the app secret."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def checked_body(response: GraphResponse) -> Any:
    """The body of a successful answer; raises the typed error for an error body.

    Branches on the error ``code``, not on the HTTP status (SPEC section 5). A
    non-2xx answer without a Graph error body is a :class:`BadResponse`.
    """
    error = ErrorBody.parse(response.body)
    if error is not None:
        raise api_error_from(error, response.status)
    if not 200 <= response.status < 300:
        raise BadResponse(
            f"HTTP {response.status} without a Graph error body", status=response.status
        )
    return response.body


class HttpTransport:
    """aiohttp transport: one session, a keep-alive pool sized to the concurrency."""

    def __init__(
        self,
        base_url: str,
        version: str,
        *,
        timeout_s: float = 30.0,
        token_in: str = "header",
        pool_size: int = 32,
    ) -> None:
        if token_in not in ("header", "query"):
            raise ValueError("token_in must be 'header' or 'query'")
        self._base = base_url.rstrip("/")
        self._version = version
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._token_in = token_in
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None
        self._proofs: dict[tuple[str, str], str] = {}
        self.connections_opened = 0  # TCP connections made; every other request reused one

    async def __aenter__(self) -> HttpTransport:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._pool_size, limit_per_host=self._pool_size, keepalive_timeout=60
            )
            # Counting the connections made shows whether keep-alive holds
            # (docs/benchmarks.md: connection use); one callback per connection.
            tracing = aiohttp.TraceConfig()
            tracing.on_connection_create_end.append(self._connection_made)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                raise_for_status=False,
                trace_configs=[tracing],
            )

    async def _connection_made(self, *_: object) -> None:
        self.connections_opened += 1

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _proof(self, token: str, secret: str) -> str:
        key = (token, secret)
        proof = self._proofs.get(key)
        if proof is None:
            proof = self._proofs[key] = appsecret_proof(token, secret)
        return proof

    def _prepare(self, request: GraphRequest) -> tuple[dict[str, str], dict[str, str]]:
        params = dict(request.params)
        headers: dict[str, str] = {}
        if not request.token:
            pass  # a token exchange: its credentials are parameters (SPEC 8)
        elif self._token_in == "header":
            headers["Authorization"] = f"OAuth {request.token}"
        else:
            params["access_token"] = request.token
        if request.app_secret:
            params["appsecret_proof"] = self._proof(request.token, request.app_secret)
        return params, headers

    async def send(self, request: GraphRequest) -> GraphResponse:
        params, headers = self._prepare(request)
        return await self._exchange(
            "GET",
            request.path,
            params=params,
            headers=headers,
            version=request.version,
            base=request.base_url,
        )

    async def post_form(self, path: str, form: Mapping[str, str]) -> GraphResponse:
        """POST ``form`` (URL-encoded body) to ``path`` below the version; parse as :meth:`send`.

        For batch requests (SPEC 7): credentials travel inside ``form`` only, never
        in the URL or a header, and no exception text quotes the form. Raises
        :class:`TransportError` as :meth:`send` does.
        """
        return await self._exchange("POST", path, data=dict(form))

    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        version: str | None = None,
        base: str | None = None,
    ) -> GraphResponse:
        if self._session is None:
            await self.start()
        assert self._session is not None
        # Exception texts from aiohttp can quote the URL (and with it a query token):
        # only exception type names leave this method.
        try:
            async with self._session.request(
                method,
                f"{base or self._base}/{version or self._version}/{path}",
                params=params,
                headers=headers,
                data=data,
            ) as response:
                raw = await response.read()
                return _parse(response.status, response.headers, raw)
        except TransportError:
            raise
        except TimeoutError:
            raise RequestTimeout(f"no answer within {self._timeout.total} s") from None
        except (aiohttp.ClientError, ConnectionError, asyncio.IncompleteReadError) as exc:
            raise ConnectionFailed(f"connection failed ({type(exc).__name__})") from None


def _parse(status: int, headers: Mapping[str, str], raw: bytes) -> GraphResponse:
    content_type = headers.get("Content-Type", "")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        kind = "HTML page" if "html" in content_type.lower() else "body that is not JSON"
        raise BadResponse(
            f"HTTP {status} with a {kind} ({len(raw)} bytes)", status=status
        ) from None
    return GraphResponse(
        status=status,
        body=body,
        app_usage=headers.get("X-App-Usage"),
        buc_usage=headers.get("X-Business-Use-Case-Usage"),
    )
