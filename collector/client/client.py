"""The collector as a library: pyfacebook's ``get_user_insights`` contract, async.

::

    async with InsightsClient(access_token=TOKEN, api_version="v22.0") as client:
        rows = await client.get_user_insights(user_id, "day", ["reach", "follower_count"],
                                              since=1764000000, until=1766000000)

The call runs on the collector's engine: the Graph client
(:class:`~collector.graph.transport.HttpTransport`, :func:`~collector.graph.transport.checked_body`),
the app budget (:class:`~collector.pacing.budgets.AppBudget`, fed by the usage headers
through :class:`~collector.pacing.budgets.HeaderReader`) and the retry policy
(:func:`~collector.pacing.retry.decide`). Unlike pyfacebook, a ``since..until`` longer
than 30 days is split into requests the API accepts and their answers merged,
with exactly the values one unsplit request would return (the rule is in
:mod:`collector.client.query`); the windows of a call go out concurrently, up
to ``concurrency`` requests in flight per client.

Errors are the collector's typed Graph errors (:mod:`collector.errors`): an
:class:`~collector.errors.ApiError` carries ``code``, ``subcode``,
``is_transient`` and ``fbtrace_id``. No message carries a token or the app secret.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import random
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any, Literal, TypeVar, overload

import structlog

from collector.client.models import Insight, checked_entries, insight_of, merge_entries
from collector.client.query import InsightsQuery, insights_query
from collector.clock import Clock, SystemClock
from collector.errors import ApiError, GraphError, Scope
from collector.graph.catalogue import parse_version
from collector.graph.transport import GraphRequest, HttpTransport, Transport, checked_body
from collector.pacing.budget_policy import BudgetPolicy
from collector.pacing.budgets import AppBudget, HeaderReader
from collector.pacing.retry import Action, RetryPolicy, decide

log = structlog.get_logger("collector.client.client")

_APP = "library"  # the client's one app budget, as HeaderReader names budgets
T = TypeVar("T")


def _fingerprint(token: str) -> str:
    # Pauses are keyed by this, so the client's state holds no extra copy of a token.
    return hashlib.sha256(token.encode()).hexdigest()[:12]


class InsightsClient:
    """An async client for ``GET /{ig-user-id}/insights``; use it as an async context manager.

    ``access_token`` is the default token (each call may override it);
    ``app_secret``, when given, adds ``appsecret_proof`` to every request.
    ``calls_per_hour`` is the budget this client may spend (spread per second,
    see :class:`~collector.pacing.budgets.AppBudget`); ``concurrency`` bounds the
    requests in flight. ``transport`` replaces the HTTP client (tests); the
    client then neither opens nor closes it. ``clock``, ``retry_policy`` and
    ``seed`` (of the backoff jitter) are injectable for tests.
    Raises ``ValueError`` for a malformed ``api_version`` or an empty token.
    """

    def __init__(
        self,
        access_token: str,
        app_secret: str | None = None,
        api_version: str = "v22.0",
        base_url: str = "https://graph.facebook.com",
        calls_per_hour: float = 3600.0,
        timeout_s: float = 30.0,
        concurrency: int = 4,
        *,
        token_in: Literal["header", "query"] = "header",
        transport: Transport | None = None,
        clock: Clock | None = None,
        retry_policy: RetryPolicy | None = None,
        seed: int | None = None,
    ) -> None:
        parse_version(api_version)
        if not isinstance(access_token, str) or not access_token:
            raise ValueError("access_token must be a non-empty str")
        if not calls_per_hour > 0:
            raise ValueError("calls_per_hour must be > 0")
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self._token = access_token
        self._app_secret = app_secret
        self.api_version = api_version
        self._owned = transport is None
        self._http: HttpTransport | None = None
        if transport is None:
            self._http = HttpTransport(
                base_url, api_version, timeout_s=timeout_s, token_in=token_in, pool_size=concurrency
            )
            transport = self._http
        self._transport: Transport = transport
        self._clock: Clock = clock or SystemClock()
        self._policy = retry_policy or RetryPolicy()
        self._rng = random.Random(seed)
        budget_policy = BudgetPolicy()
        self._budget = AppBudget(calls_per_hour, self._clock, budget_policy)
        self._headers = HeaderReader({_APP: self._budget}, budget_policy)
        self._slots = asyncio.Semaphore(concurrency)
        self._paused_until: dict[tuple[Scope, str], float] = {}

    def __repr__(self) -> str:
        return f"InsightsClient(api_version={self.api_version!r})"

    async def __aenter__(self) -> InsightsClient:
        if self._http is not None:
            await self._http.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session the client opened (not an injected transport)."""
        if self._http is not None:
            await self._http.close()

    @overload
    async def get_user_insights(
        self,
        user_id: str | int,
        period: str,
        metrics: str | Iterable[str],
        since: int | str | None = ...,
        until: int | str | None = ...,
        access_token: str | None = ...,
        return_json: Literal[False] = ...,
        *,
        metric_type: str | None = ...,
        breakdown: str | Iterable[str] | None = ...,
        timeframe: str | None = ...,
    ) -> list[Insight]: ...

    @overload
    async def get_user_insights(
        self,
        user_id: str | int,
        period: str,
        metrics: str | Iterable[str],
        since: int | str | None = ...,
        until: int | str | None = ...,
        access_token: str | None = ...,
        *,
        return_json: Literal[True],
        metric_type: str | None = ...,
        breakdown: str | Iterable[str] | None = ...,
        timeframe: str | None = ...,
    ) -> list[dict[str, Any]]: ...

    async def get_user_insights(
        self,
        user_id: str | int,
        period: str,
        metrics: str | Iterable[str],
        since: int | str | None = None,
        until: int | str | None = None,
        access_token: str | None = None,
        return_json: bool = False,
        *,
        metric_type: str | None = None,
        breakdown: str | Iterable[str] | None = None,
        timeframe: str | None = None,
    ) -> list[Insight] | list[dict[str, Any]]:
        """The insights of ``user_id``: one entry per metric that has data.

        ``metrics``: a comma-separated str, or a list, tuple or set (sent sorted)
        of names. ``period``: one every metric takes in the client's version.
        ``since``/``until``: Unix timestamps (int or digit str); both omitted
        send neither, which gives the API's default range (yesterday and
        today); a range of more than 30 days is split and merged (one entry per
        metric, values oldest first, each end_time once). ``access_token``
        overrides the client's token for this call. ``metric_type``,
        ``breakdown`` and ``timeframe`` (v18+) pass through to the API.

        Returns frozen :class:`~collector.client.models.Insight` models, or with
        ``return_json=True`` the API's own entry dicts, merged across windows.
        Raises ``ValueError`` before any request for a metric that does not fit
        the period or the version, a parameter the version refuses, a malformed
        timestamp, or a total/lifetime answer over more than 30 days; raises a
        :class:`~collector.errors.GraphError` subclass when the API (after the
        retries the policy allows) gives no usable answer.
        """
        if access_token is not None and (not isinstance(access_token, str) or not access_token):
            raise ValueError("access_token must be a non-empty str or None")
        query = insights_query(
            self.api_version,
            user_id,
            period,
            metrics,
            since,
            until,
            metric_type=metric_type,
            breakdown=breakdown,
            timeframe=timeframe,
        )
        token = access_token or self._token
        windows = query.windows()
        answers = await _all_or_nothing([self._fetch(query, window, token) for window in windows])
        entries = merge_entries(answers, query.metrics)
        if return_json:
            return entries
        return [insight_of(entry) for entry in entries]

    def _request(
        self, query: InsightsQuery, window: tuple[int | None, int | None], token: str
    ) -> GraphRequest:
        params: list[tuple[str, str]] = [
            ("metric", ",".join(query.metrics)),
            ("period", query.period),
        ]
        since, until = window
        if since is not None:
            params.append(("since", str(since)))
        if until is not None:
            params.append(("until", str(until)))
        params.extend(query.extra)
        return GraphRequest(f"{query.user_id}/insights", tuple(params), token, self._app_secret)

    async def _fetch(
        self, query: InsightsQuery, window: tuple[int | None, int | None], token: str
    ) -> list[dict[str, Any]]:
        """One window's entries, retried and paced as the policy and the headers say."""
        request = self._request(query, window, token)
        scopes = {Scope.APP: "", Scope.TOKEN: _fingerprint(token), Scope.ACCOUNT: query.user_id}
        attempts = throttle_waits = 0
        regain_s: float | None = None
        while True:
            await self._wait_for_pauses(scopes)
            await self._budget.acquire()
            failure: GraphError | None = None
            async with self._slots:
                attempts += 1
                try:
                    response = await self._transport.send(request)
                    lesson = self._headers.observe(_APP, response)
                    regain_s = lesson.regain_s
                    if lesson.account_wait_s > 0:
                        self._pause(Scope.ACCOUNT, query.user_id, lesson.account_wait_s)
                    return checked_entries(checked_body(response))
                except GraphError as error:
                    failure = _without_secrets(error, (token, self._app_secret))
            assert failure is not None  # the try either returned or failed
            decision = decide(
                failure,
                attempts=attempts,
                throttle_waits=throttle_waits,
                policy=self._policy,
                draw=self._rng.random(),
                regain_s=regain_s,
            )
            fields = {"error": failure.reason, "detail": str(failure), "attempt": attempts}
            if decision.action is Action.FAIL:
                log.debug("request_failed", path=request.loggable, **fields)
                raise failure
            if decision.scope is Scope.REQUEST:
                log.info("request_retried", delay_s=round(decision.delay_s, 2), **fields)
                await self._clock.sleep(decision.delay_s)
            else:
                throttle_waits += 1
                log.warning(
                    "budget_paused",
                    scope=decision.scope.value,
                    pause_s=round(decision.delay_s, 1),
                    **fields,
                )
                self._pause(decision.scope, scopes.get(decision.scope, ""), decision.delay_s)

    def _pause(self, scope: Scope, key: str, seconds: float) -> None:
        until = self._clock.monotonic() + seconds
        slot = (scope, key)
        self._paused_until[slot] = max(self._paused_until.get(slot, 0.0), until)

    async def _wait_for_pauses(self, scopes: dict[Scope, str]) -> None:
        """Wait out every pause on this request's app, token and account (they may grow)."""
        while True:
            until = max(
                (self._paused_until.get((scope, key), 0.0) for scope, key in scopes.items()),
                default=0.0,
            )
            wait = until - self._clock.monotonic()
            if wait <= 0:
                return
            await self._clock.sleep(wait)


def _without_secrets(error: GraphError, secrets: Sequence[str | None]) -> GraphError:
    """``error`` with every secret blanked from its message.

    The collector's own messages never quote credentials, but an API message is
    Meta's text: should it ever echo a token, it must not reach the caller's logs.
    """
    text = str(error)
    clean = _blank(text, secrets)
    if clean != text:
        error.args = (clean,)
        if isinstance(error, ApiError):
            error.body = dataclasses.replace(
                error.body, message=_blank(error.body.message, secrets)
            )
    return error


def _blank(text: str, secrets: Sequence[str | None]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


async def _all_or_nothing(calls: Sequence[Awaitable[T]]) -> list[T]:
    """Every result in order; on the first failure cancel the rest and raise that failure."""
    if len(calls) == 1:
        return [await calls[0]]
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
