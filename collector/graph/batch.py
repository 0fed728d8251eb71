"""Batch mode: the :class:`~collector.graph.transport.Transport` seam served by Graph batch POSTs.

SPEC section 7: ``POST /{version}/`` with a form field ``batch``, a JSON list of
at most 50 ``{"method": "GET", "relative_url": "<id>/insights?..."}``, answers a
list in request order of ``{"code", "headers": [{"name", "value"}], "body":
"<JSON text>"}``, or ``null`` for an item the server had no time for.

:class:`BatchingTransport` keeps the pool's view unchanged: ``send(request)``
queues the request and returns *its own* :class:`GraphResponse` (status = the
item's code, body = the item's parsed body, usage headers = the item's), so the
pool's retry and error handling work per item. A flusher cuts the queue into
groups: a group leaves as soon as it holds ``batch_size`` requests, or when its
oldest request has waited ``linger_s`` on the injected clock (the "linger"
of a Nagle-style write buffer: a short wait buys fuller POSTs).

Failure rules:

- a ``null`` item is queued again for a later POST; after ``max_tries`` POSTs
  without an answer its request fails with :class:`BatchItemDropped`;
- a POST that brings no trustworthy answer (timeout, HTML 502, dropped or
  truncated body, a list of the wrong length) fails every request of the group
  with the same kind of :class:`~collector.errors.TransportError`: each was
  possibly served and counted, and the pool retries each on its own;
- a POST refused as a whole with a Graph error body answers the request whose
  token signed the POST (the first; see below) with that error, and queues the
  others again like ``null`` items: the refusal may name that token only
  (a code 190 must not stop the accounts of the other tokens).

Credentials: each item carries its own token as ``access_token`` inside its
``relative_url``, plus its own ``appsecret_proof`` when its request has an app
secret; the top-level ``access_token`` (and proof) are the first item's, because
Meta wants one for the POST itself. All of it travels in the POST *body*: never
in a URL, a log event or an exception message.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import orjson
import structlog

from collector.clock import Clock, SystemClock
from collector.errors import BadResponse, ErrorBody, TransportError
from collector.graph.transport import GraphRequest, GraphResponse, appsecret_proof
from collector.tasks import wait_out

log = structlog.get_logger("collector.graph.batch")

MAX_BATCH_SIZE = 50  # Meta: "at most 50" requests per batch (SPEC section 7)
DEFAULT_LINGER_S = 0.005
DEFAULT_MAX_TRIES = 5


class FormPoster(Protocol):
    """What the batching transport needs of the HTTP client (``HttpTransport`` fits)."""

    async def post_form(self, path: str, form: Mapping[str, str]) -> GraphResponse:
        """POST ``form`` to ``path`` below the API version; the parsed answer.

        Raises :class:`TransportError` when no trustworthy JSON answer arrived.
        """
        ...


class BatchItemDropped(TransportError):
    """A request went out in ``max_tries`` batch POSTs and never got an answer of its own."""

    reason = "batch_null"


@dataclass
class BatchStats:
    """Counters of one transport's life, for the run summary."""

    posts: int = 0  # batch POSTs sent
    items: int = 0  # items sent, re-sent ones included (each counts as a call, SPEC 7)
    null_items: int = 0  # items answered ``null`` (sent again or dropped)
    requeued: int = 0  # items queued again after their POST was refused for another token
    dropped: int = 0  # requests failed with BatchItemDropped
    failed_posts: int = 0  # POSTs that failed as a whole with a TransportError


@dataclass(eq=False)
class _Entry:
    """One queued request: its waiter, when it was queued, how many POSTs carried it."""

    request: GraphRequest
    future: asyncio.Future[GraphResponse]
    queued_at: float
    tries: int = 0


class BatchingTransport:
    """The Transport protocol over batch POSTs of up to ``batch_size`` requests.

    ``client`` is not owned: the caller starts and closes it. Call :meth:`close`
    (or use ``async with``) to send what is still queued and wait for every POST.

    The POSTs and the linger timer are this transport's own tasks (named
    ``batch-post`` and ``batch-linger``): they outlive the ``send`` that started
    them, so no TaskGroup can hold them, and :meth:`close` awaits them on every
    way out (see :mod:`collector.tasks`).
    """

    def __init__(
        self,
        client: FormPoster,
        *,
        batch_size: int = MAX_BATCH_SIZE,
        linger_s: float = DEFAULT_LINGER_S,
        max_tries: int = DEFAULT_MAX_TRIES,
        clock: Clock | None = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be 1..{MAX_BATCH_SIZE}, got {batch_size}")
        if linger_s < 0:
            raise ValueError("linger_s must be >= 0")
        if max_tries < 1:
            raise ValueError("max_tries must be >= 1")
        self._client = client
        self._batch_size = batch_size
        self._linger_s = linger_s
        self._max_tries = max_tries
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._pending: list[_Entry] = []
        self._timer: asyncio.Task[None] | None = None
        self._posts: set[asyncio.Task[None]] = set()
        self._proofs: dict[tuple[str, str], str] = {}
        self.stats = BatchStats()

    async def __aenter__(self) -> BatchingTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def send(self, request: GraphRequest) -> GraphResponse:
        """Queue ``request`` for a batch POST and return its own answer.

        Same contract as :meth:`collector.graph.transport.Transport.send`: any status comes
        back as a response; :class:`TransportError` when the POST failed or the
        item never got an answer (:class:`BatchItemDropped`).
        """
        future: asyncio.Future[GraphResponse] = asyncio.get_running_loop().create_future()
        entry = _Entry(request, future, self._clock.monotonic())
        self._pending.append(entry)
        self._schedule()
        try:
            return await future
        except asyncio.CancelledError:
            # A caller that gives up (shutdown) takes its request out of the queue;
            # one already on the wire is simply not waited for.
            if entry in self._pending:
                self._pending.remove(entry)
            raise

    async def close(self) -> None:
        """Send everything still queued now, and wait until every POST has ended.

        If the caller is cancelled meanwhile, the requests not yet sent and the
        POSTs under way are cancelled (their senders see the cancel); the cancel
        propagates once every POST and the linger timer have ended.
        """
        try:
            # (a POST that has ended leaves self._posts only when its callback has run)
            while self._pending or any(not task.done() for task in self._posts):
                self._flush(everything=True)
                await wait_out(self._posts, on_cancel=self._abandon)
        finally:
            self._abandon()  # now only the linger timer may be left
            await wait_out([*self._posts, *([self._timer] if self._timer else [])])
            self._timer = None  # a timer cancelled before it ran never cleared it

    def _abandon(self) -> None:
        """Cancel every queued request, every POST and the linger timer."""
        for entry in self._pending:
            entry.future.cancel()
        self._pending.clear()
        for task in self._posts:
            task.cancel()
        if self._timer is not None:
            self._timer.cancel()

    # --- the flusher --------------------------------------------------------------

    def _schedule(self) -> None:
        """Send full groups at once; make sure a linger timer watches the rest."""
        self._flush(everything=False)
        if self._pending and self._timer is None:
            self._timer = asyncio.get_running_loop().create_task(
                self._linger(), name="batch-linger"
            )  # owned: see close()

    async def _linger(self) -> None:
        try:
            while self._pending:
                oldest = min(entry.queued_at for entry in self._pending)
                wait = oldest + self._linger_s - self._clock.monotonic()
                if wait <= 0:
                    self._flush(everything=True)
                else:
                    await self._clock.sleep(wait)
        finally:
            self._timer = None

    def _flush(self, *, everything: bool) -> None:
        """Cut the queue into POSTs: full groups only, or (``everything``) all of it."""
        while len(self._pending) >= self._batch_size or (everything and self._pending):
            group = self._pending[: self._batch_size]
            del self._pending[: self._batch_size]
            task = asyncio.get_running_loop().create_task(self._post(group), name="batch-post")
            self._posts.add(task)
            task.add_done_callback(self._posts.discard)

    # --- one POST -----------------------------------------------------------------

    async def _post(self, group: list[_Entry]) -> None:
        for entry in group:
            entry.tries += 1
        self.stats.posts += 1
        self.stats.items += len(group)
        try:
            answer = await self._client.post_form("", self._form(group))
            self._deliver(group, answer)
        except TransportError as error:
            self.stats.failed_posts += 1
            log.debug("batch_failed", items=len(group), error=error.reason)
            for entry in group:
                _fail(entry, copy.copy(error))
        except asyncio.CancelledError:
            for entry in group:
                entry.future.cancel()
            raise
        except Exception as error:  # a bug: handed to the waiters, none may hang
            for entry in group:
                _fail(entry, error)
        if self._pending:
            self._schedule()

    def _form(self, group: Sequence[_Entry]) -> dict[str, str]:
        items = []
        for entry in group:
            credentials = self._credentials(entry.request)
            query = urlencode([*entry.request.params, *credentials])
            # A request on another API version than the POST's names it in its URL.
            version = entry.request.version
            path = f"{version}/{entry.request.path}" if version else entry.request.path
            items.append({"method": "GET", "relative_url": f"{path}?{query}"})
        form = dict(self._credentials(group[0].request))
        form["batch"] = orjson.dumps(items).decode()
        form["include_headers"] = "true"
        return form

    def _credentials(self, request: GraphRequest) -> list[tuple[str, str]]:
        pairs = [("access_token", request.token)]
        if request.app_secret:
            key = (request.token, request.app_secret)
            proof = self._proofs.get(key)
            if proof is None:
                proof = self._proofs[key] = appsecret_proof(request.token, request.app_secret)
            pairs.append(("appsecret_proof", proof))
        return pairs

    def _deliver(self, group: list[_Entry], answer: GraphResponse) -> None:
        body = answer.body
        if not isinstance(body, list):
            if ErrorBody.parse(body) is not None:
                self._refused(group, answer)
                return
            raise BadResponse(
                f"HTTP {answer.status}: a batch answer that is not a list", status=answer.status
            )
        if len(body) != len(group):
            raise BadResponse(
                f"batch answer has {len(body)} items for {len(group)} requests",
                status=answer.status,
            )
        nulls = 0
        for entry, item in zip(group, body, strict=True):
            if item is None:
                nulls += 1
                self._again(entry, null=True)
                continue
            try:
                response = item_response(item)
            except BadResponse as error:
                _fail(entry, error)
            else:
                _resolve(entry, response)
        self.stats.null_items += nulls
        log.debug("batch_done", items=len(group), nulls=nulls)

    def _refused(self, group: list[_Entry], answer: GraphResponse) -> None:
        """A POST refused as a whole: the answer is the top-level token's, i.e. the first's."""
        log.debug("batch_refused", items=len(group), status=answer.status)
        _resolve(group[0], answer)
        for entry in group[1:]:
            self.stats.requeued += 1
            self._again(entry, null=False)

    def _again(self, entry: _Entry, *, null: bool) -> None:
        """Queue ``entry`` for a later POST, or fail it once it has had ``max_tries``."""
        if entry.future.done():  # its caller gave up
            return
        if entry.tries >= self._max_tries:
            self.stats.dropped += 1
            why = "answered null" if null else "left unanswered"
            _fail(entry, BatchItemDropped(f"batch item {why} in {entry.tries} POSTs; giving up"))
            return
        entry.queued_at = self._clock.monotonic()
        self._pending.insert(0, entry)


def item_response(item: Any) -> GraphResponse:
    """One batch item ``{"code", "headers", "body"}`` as the response it stands for.

    Raises :class:`BadResponse` for an item of the wrong shape or whose ``body``
    is not JSON text (SPEC 7: the body is "JSON as a string").
    """
    if not isinstance(item, dict):
        raise BadResponse("batch item is not an object")
    code, text = item.get("code"), item.get("body")
    if not isinstance(code, int) or isinstance(code, bool) or not isinstance(text, str):
        raise BadResponse("batch item without an integer code and a text body")
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise BadResponse(
            f"batch item {code} with a body that is not JSON ({len(text)} chars)", status=code
        ) from None
    headers = _headers(item.get("headers"))
    return GraphResponse(
        status=code,
        body=body,
        app_usage=headers.get("x-app-usage"),
        buc_usage=headers.get("x-business-use-case-usage"),
    )


def _headers(raw: Any) -> dict[str, str]:
    """An item's ``[{"name", "value"}]`` list as a dict keyed by lower-case name."""
    if not isinstance(raw, list):
        return {}
    out: dict[str, str] = {}
    for pair in raw:
        if isinstance(pair, dict):
            name, value = pair.get("name"), pair.get("value")
            if isinstance(name, str) and isinstance(value, str):
                out[name.lower()] = value
    return out


def _resolve(entry: _Entry, response: GraphResponse) -> None:
    if not entry.future.done():
        entry.future.set_result(response)


def _fail(entry: _Entry, error: BaseException) -> None:
    if not entry.future.done():
        entry.future.set_exception(error)
