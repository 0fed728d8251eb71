"""Unit tests for collector.graph.transport: HttpTransport over loopback and checked_body."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from collector.errors import (
    BadResponse,
    ConnectionFailed,
    GraphError,
    InvalidRequest,
    PermissionDenied,
    RequestTimeout,
    Throttled,
    TokenInvalid,
    TransientApiError,
)
from collector.graph.transport import (
    GraphRequest,
    GraphResponse,
    HttpTransport,
    appsecret_proof,
    checked_body,
)

TOKEN = "tok-SECRET-9f8e7d6c5b4a"
APP_SECRET = "appsecret-0123456789abcdef"
VERSION = "v22.0"
PARAMS = (("metric", "reach,views"), ("period", "day"), ("since", "1"), ("until", "2"))


def request(path: str = "17841400000000001/insights", secret: str | None = None) -> GraphRequest:
    return GraphRequest(path, PARAMS, TOKEN, secret)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


async def _echo(req: web.Request) -> web.Response:
    """Echo what arrived, with usage headers (a 200 insights-like answer)."""
    return _json(
        {
            "path": req.path,
            "query": [[k, v] for k, v in req.query.items()],
            "authorization": req.headers.get("Authorization"),
        },
        headers={
            "X-App-Usage": '{"call_count":28,"total_time":25,"total_cputime":25}',
            "X-Business-Use-Case-Usage": '{"1": [{"type": "instagram", "call_count": 95}]}',
        },
    )


async def _error_190(_req: web.Request) -> web.Response:
    return _json(
        {"error": {"message": "Session has expired", "type": "OAuthException", "code": 190}},
        status=400,
    )


async def _html_502(_req: web.Request) -> web.Response:
    return web.Response(
        text="<html><body>502 Bad Gateway</body></html>", status=502, content_type="text/html"
    )


async def _truncated(_req: web.Request) -> web.Response:
    return web.Response(body=b'{"data": [{"name": "rea', content_type="application/json")


async def _empty(_req: web.Request) -> web.Response:
    return web.Response(body=b"", content_type="application/json")


async def _slow(_req: web.Request) -> web.Response:
    await asyncio.sleep(1.0)
    return _json({"data": []})


@pytest.fixture
async def server() -> AsyncIterator[str]:
    """A tiny Graph-like server on loopback; yields its base URL."""
    app = web.Application()
    app.router.add_get(f"/{VERSION}/{{id}}/insights", _echo)
    app.router.add_get(f"/{VERSION}/dead/token", _error_190)
    app.router.add_get(f"/{VERSION}/proxy/html", _html_502)
    app.router.add_get(f"/{VERSION}/cut/json", _truncated)
    app.router.add_get(f"/{VERSION}/empty/body", _empty)
    app.router.add_get(f"/{VERSION}/slow/answer", _slow)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    try:
        yield str(test_server.make_url("/"))
    finally:
        await test_server.close()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _raw_server(handler: Handler) -> tuple[asyncio.Server, str]:
    raw = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = raw.sockets[0].getsockname()[1]
    return raw, f"http://127.0.0.1:{port}/"


async def _read_head(reader: asyncio.StreamReader) -> None:
    await reader.readuntil(b"\r\n\r\n")


async def _close_without_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_head(reader)
    writer.close()


async def _close_mid_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_head(reader)
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
        b'{"data": [{"name":'
    )
    await writer.drain()
    writer.close()


def _independent_proof(token: str, secret: str) -> str:
    return hmac.HMAC(secret.encode("utf-8"), token.encode("utf-8"), hashlib.sha256).hexdigest()


# -- what goes on the wire ----------------------------------------------------------------------


async def test_request_goes_to_version_and_path_with_its_params(server: str) -> None:
    """The URL is base/version/path, and the parameters arrive as given."""
    async with HttpTransport(server, VERSION) as transport:
        response = await transport.send(request())
    assert response.status == 200
    assert response.body["path"] == f"/{VERSION}/17841400000000001/insights"
    assert [tuple(p) for p in response.body["query"]] == list(PARAMS)


async def test_token_in_header_is_an_oauth_authorization(server: str) -> None:
    """token_in="header" sends ``Authorization: OAuth <token>`` and no access_token parameter."""
    async with HttpTransport(server, VERSION, token_in="header") as transport:
        body = (await transport.send(request())).body
    assert body["authorization"] == f"OAuth {TOKEN}"
    assert "access_token" not in dict(body["query"])


async def test_token_in_query_is_an_access_token_parameter(server: str) -> None:
    """token_in="query" sends ``access_token=<token>`` and no Authorization header."""
    async with HttpTransport(server, VERSION, token_in="query") as transport:
        body = (await transport.send(request())).body
    assert dict(body["query"])["access_token"] == TOKEN
    assert body["authorization"] is None


async def test_appsecret_proof_is_the_hmac_of_the_token(server: str) -> None:
    """With an app secret, appsecret_proof is hex HMAC-SHA256(token) keyed by the secret."""
    async with HttpTransport(server, VERSION) as transport:
        body = (await transport.send(request(secret=APP_SECRET))).body
    assert dict(body["query"])["appsecret_proof"] == _independent_proof(TOKEN, APP_SECRET)


async def test_no_app_secret_no_proof(server: str) -> None:
    """Without an app secret no appsecret_proof is sent."""
    async with HttpTransport(server, VERSION) as transport:
        body = (await transport.send(request())).body
    assert "appsecret_proof" not in dict(body["query"])


async def test_usage_headers_are_kept_raw(server: str) -> None:
    """X-App-Usage and X-Business-Use-Case-Usage come back as the server sent them."""
    async with HttpTransport(server, VERSION) as transport:
        response = await transport.send(request())
    assert response.app_usage == '{"call_count":28,"total_time":25,"total_cputime":25}'
    assert response.buc_usage == '{"1": [{"type": "instagram", "call_count": 95}]}'


async def test_send_starts_the_session_on_first_use(server: str) -> None:
    """send works without an explicit start, and close can follow."""
    transport = HttpTransport(server, VERSION)
    try:
        assert (await transport.send(request())).status == 200
    finally:
        await transport.close()


def test_token_in_must_be_header_or_query() -> None:
    """Any other token placement is refused at construction."""
    with pytest.raises(ValueError):
        HttpTransport("http://127.0.0.1:1/", VERSION, token_in="cookie")


def test_appsecret_proof_matches_an_independent_hmac() -> None:
    """appsecret_proof equals a separately computed lowercase hex HMAC-SHA256."""
    proof = appsecret_proof("EAAB-token", "s3cret")
    assert proof == _independent_proof("EAAB-token", "s3cret")
    assert proof == proof.lower() and len(proof) == 64


# -- answers that are not usable --------------------------------------------------------------


async def test_error_body_is_returned_not_raised(server: str) -> None:
    """send returns a Graph error body as a response; raising is checked_body's job."""
    async with HttpTransport(server, VERSION) as transport:
        response = await transport.send(request("dead/token"))
    assert response.status == 400
    with pytest.raises(TokenInvalid):
        checked_body(response)


async def test_html_502_is_a_bad_response(server: str) -> None:
    """A proxy's HTML 502 page raises BadResponse carrying status 502."""
    async with HttpTransport(server, VERSION) as transport:
        with pytest.raises(BadResponse) as caught:
            await transport.send(request("proxy/html"))
    assert caught.value.status == 502


async def test_truncated_json_is_a_bad_response(server: str) -> None:
    """A complete HTTP answer whose JSON is cut short raises BadResponse."""
    async with HttpTransport(server, VERSION) as transport:
        with pytest.raises(BadResponse):
            await transport.send(request("cut/json"))


async def test_empty_body_is_a_bad_response(server: str) -> None:
    """An empty body is not JSON: BadResponse."""
    async with HttpTransport(server, VERSION) as transport:
        with pytest.raises(BadResponse):
            await transport.send(request("empty/body"))


async def test_slow_answer_is_a_request_timeout(server: str) -> None:
    """An answer slower than timeout_s raises RequestTimeout."""
    async with HttpTransport(server, VERSION, timeout_s=0.1) as transport:
        with pytest.raises(RequestTimeout):
            await transport.send(request("slow/answer"))


async def test_connection_closed_without_answer_is_connection_failed() -> None:
    """A server that hangs up before answering raises ConnectionFailed."""
    raw, url = await _raw_server(_close_without_answer)
    try:
        async with HttpTransport(url, VERSION) as transport:
            with pytest.raises(ConnectionFailed):
                await transport.send(request())
    finally:
        raw.close()
        await raw.wait_closed()


async def test_connection_dropped_mid_body_is_connection_failed() -> None:
    """A body cut short of its Content-Length by a dropped connection raises ConnectionFailed."""
    raw, url = await _raw_server(_close_mid_body)
    try:
        async with HttpTransport(url, VERSION) as transport:
            with pytest.raises(ConnectionFailed):
                await transport.send(request())
    finally:
        raw.close()
        await raw.wait_closed()


async def test_refused_connection_is_connection_failed() -> None:
    """Nothing listening on the port raises ConnectionFailed."""
    probe = await asyncio.start_server(_close_without_answer, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    async with HttpTransport(f"http://127.0.0.1:{port}/", VERSION) as transport:
        with pytest.raises(ConnectionFailed):
            await transport.send(request())


# -- secrets never leak through errors ---------------------------------------------------------


def _everything_said_about(error: BaseException) -> str:
    return "\n".join([str(error), repr(error), *traceback.format_exception(error)])


@pytest.mark.parametrize("token_in", ["header", "query"])
@pytest.mark.parametrize("path", ["proxy/html", "cut/json", "slow/answer", "dead/token"], ids=str)
async def test_errors_never_quote_token_secret_or_proof(
    server: str, token_in: str, path: str
) -> None:
    """No failure's message, repr or traceback contains the token, app secret or proof."""
    async with HttpTransport(server, VERSION, timeout_s=0.1, token_in=token_in) as transport:
        with pytest.raises(GraphError) as caught:
            checked_body(await transport.send(request(path, secret=APP_SECRET)))
    text = _everything_said_about(caught.value)
    for secret in (TOKEN, APP_SECRET, _independent_proof(TOKEN, APP_SECRET)):
        assert secret not in text


@pytest.mark.parametrize("token_in", ["header", "query"])
async def test_connection_errors_never_quote_the_token(token_in: str) -> None:
    """A dropped connection's error says nothing of the token, secret or proof."""
    raw, url = await _raw_server(_close_mid_body)
    try:
        async with HttpTransport(url, VERSION, token_in=token_in) as transport:
            with pytest.raises(ConnectionFailed) as caught:
                await transport.send(request(secret=APP_SECRET))
    finally:
        raw.close()
        await raw.wait_closed()
    text = _everything_said_about(caught.value)
    for secret in (TOKEN, APP_SECRET, _independent_proof(TOKEN, APP_SECRET)):
        assert secret not in text


def test_request_repr_and_loggable_hide_credentials() -> None:
    """GraphRequest's repr and loggable text show path and params, never token or secret."""
    graph_request = request(secret=APP_SECRET)
    for text in (repr(graph_request), graph_request.loggable):
        assert TOKEN not in text and APP_SECRET not in text
    assert graph_request.loggable == (
        "17841400000000001/insights?metric=reach,views&period=day&since=1&until=2"
    )


def test_loggable_without_params_is_the_path() -> None:
    """A request without parameters logs as its bare path."""
    assert GraphRequest("me/accounts", (), TOKEN).loggable == "me/accounts"


# -- checked_body ------------------------------------------------------------------------------


def _error(code: int, subcode: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": "m", "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


def test_checked_body_returns_a_successful_body() -> None:
    """A 2xx answer without an error body gives its body back unchanged."""
    body = {"data": []}
    assert checked_body(GraphResponse(200, body)) is body


@pytest.mark.parametrize(
    ("status", "code", "subcode", "expected"),
    [
        (400, 190, 463, TokenInvalid),
        (403, 4, None, Throttled),
        (500, 2, None, TransientApiError),
        (400, 10, None, PermissionDenied),
        (400, 100, None, InvalidRequest),
        # The class follows the code, whatever the status says.
        (200, 190, None, TokenInvalid),
        (500, 100, None, InvalidRequest),
        (429, 2, None, TransientApiError),
    ],
)
def test_checked_body_maps_error_bodies_by_code(
    status: int, code: int, subcode: int | None, expected: type[Exception]
) -> None:
    """An error body raises the typed error for its code, never chosen by HTTP status."""
    with pytest.raises(expected):
        checked_body(GraphResponse(status, _error(code, subcode)))


def test_checked_body_error_keeps_the_status() -> None:
    """The raised ApiError records the HTTP status it arrived with."""
    with pytest.raises(Throttled) as caught:
        checked_body(GraphResponse(403, _error(4)))
    assert caught.value.status == 403


@pytest.mark.parametrize("status", [301, 404, 500, 502])
def test_checked_body_non_2xx_without_error_body_is_bad_response(status: int) -> None:
    """A non-2xx JSON answer that is not a Graph error body is a BadResponse."""
    with pytest.raises(BadResponse) as caught:
        checked_body(GraphResponse(status, {"data": []}))
    assert caught.value.status == status
