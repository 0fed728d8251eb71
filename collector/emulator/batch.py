"""Batch requests (SPEC 7): ``POST /{version}/`` with a ``batch`` form field.

``batch`` is a JSON list of at most 50 ``{"method": "GET", "relative_url":
"<id>/insights?metric=..&period=..[&access_token=..]"}``. Each item goes through
the same pipeline as a single insights call (authentication, limits, Graph-level
faults, the answer) and counts as one call. The answer is a JSON list in request
order of ``{"code": status, "headers": [{"name", "value"}], "body": "<JSON text>"}``
(``headers`` left out when ``include_headers=false``), or ``null`` for an item
the server "had no time for" (``faults.batch_null_rate``).

An item without its own ``access_token`` inherits the top-level one (and its
``appsecret_proof``/``appsecret_time``, which sign that token), else the
request's ``Authorization`` header. A transport fault drawn by any item hits the
whole batch POST: the items were served and counted, and the answer is lost on
the way back, as when a proxy fails.

This module does no I/O: the server passes the pipeline in as ``serve_item``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

import orjson

from collector.emulator.edge import EdgeAnswer, EdgeRequest, graph_error
from collector.emulator.faults import TRANSPORT_FAULTS

MAX_BATCH = 50
TOO_MANY = "(#100) Too many requests in batch message. Maximum batch size is 50"
BATCH_REQUIRED = "(#100) The parameter batch is required"
BATCH_NOT_LIST = "(#100) param batch must be a JSON array of requests"
TOKEN_PARAMS = ("access_token", "appsecret_proof", "appsecret_time")
_INSIGHTS_PATH = re.compile(r"^/?(?:(v\d+\.\d+)/)?([^/?]+)/insights/?$")


class ServedItem(Protocol):
    """What the pipeline answers for one item (the server's ``Served``)."""

    @property
    def status(self) -> int: ...  # 0: answer this item with null
    @property
    def body(self) -> dict[str, Any]: ...
    @property
    def headers(self) -> dict[str, str]: ...
    @property
    def transport_fault(self) -> str | None: ...


@dataclass(frozen=True)
class BatchOutcome:
    """A refused batch (``error``) or the item list with what the POST's answer carries.

    ``headers`` are the usage headers of the last counted item; ``transport_fault``
    the first transport fault an item drew.
    """

    items: list[dict[str, Any] | None] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    transport_fault: str | None = None
    error: EdgeAnswer | None = None


def _item_entry(
    status: int, body: Mapping[str, Any], headers: Mapping[str, str], include_headers: bool
) -> dict[str, Any]:
    entry: dict[str, Any] = {"code": status}
    if include_headers:
        entry["headers"] = [
            {"name": "Content-Type", "value": "application/json; charset=UTF-8"},
            *({"name": k, "value": v} for k, v in headers.items()),
        ]
    entry["body"] = orjson.dumps(body).decode()
    return entry


def item_request(
    item: Any,
    *,
    version: str,
    top: Mapping[str, str],
    authorization: str | None,
    base_url: str,
) -> EdgeRequest | EdgeAnswer:
    """The :class:`EdgeRequest` one batch item stands for, or the error it answers with."""
    if not isinstance(item, Mapping) or not isinstance(item.get("relative_url"), str):
        return graph_error(100, "(#100) Each batch item needs a relative_url")
    method = str(item.get("method", "GET")).upper()
    if method != "GET":
        return graph_error(100, f"(#100) Unsupported {method.lower()} request.")
    parts = urlsplit(item["relative_url"])
    match = _INSIGHTS_PATH.match(parts.path)
    if match is None:
        return graph_error(2500, f"Unknown path components: /{parts.path.lstrip('/')}")
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    body = item.get("body")
    if isinstance(body, str):  # Meta lets an item carry form-encoded params in ``body``
        params.update(parse_qsl(body, keep_blank_values=True))
    own_token = "access_token" in params
    if not own_token:
        params.update({k: top[k] for k in TOKEN_PARAMS if k in top})
    return EdgeRequest(
        version=match.group(1) or version,
        ig_user_id=match.group(2),
        params=params,
        authorization=None if own_token else authorization,
        base_url=base_url,
        path="/" + parts.path.lstrip("/"),
    )


def answer_batch(
    params: Mapping[str, str],
    *,
    version: str,
    authorization: str | None,
    base_url: str,
    serve_item: Callable[[EdgeRequest], ServedItem],
) -> BatchOutcome:
    """Answer a batch POST whose merged query and form fields are ``params``."""
    raw = params.get("batch")
    if raw is None:
        return BatchOutcome(error=graph_error(100, BATCH_REQUIRED))
    try:
        items = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return BatchOutcome(error=graph_error(100, BATCH_NOT_LIST))
    if not isinstance(items, list):
        return BatchOutcome(error=graph_error(100, BATCH_NOT_LIST))
    if len(items) > MAX_BATCH:
        return BatchOutcome(error=graph_error(100, TOO_MANY))
    include_headers = params.get("include_headers", "true").lower() != "false"
    answers: list[dict[str, Any] | None] = []
    last_headers: dict[str, str] = {}
    transport: str | None = None
    for item in items:
        req = item_request(
            item, version=version, top=params, authorization=authorization, base_url=base_url
        )
        if isinstance(req, EdgeAnswer):
            answers.append(_item_entry(req.status, req.body, {}, include_headers))
            continue
        served = serve_item(req)
        if served.headers:
            last_headers = served.headers
        if transport is None and served.transport_fault in TRANSPORT_FAULTS:
            transport = served.transport_fault
        if served.status == 0:
            answers.append(None)
            continue
        answers.append(_item_entry(served.status, served.body, served.headers, include_headers))
    return BatchOutcome(items=answers, headers=last_headers, transport_fault=transport)
