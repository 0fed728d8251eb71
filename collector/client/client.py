"""The collector as a library: pyfacebook's ``get_user_insights`` contract, async.

::

    async with InsightsClient(access_token=TOKEN, api_version="v22.0") as client:
        rows = await client.get_user_insights(user_id, "day", ["reach", "follower_count"],
                                              since=1764000000, until=1766000000)

The call runs on the collector's engine, the same one as a run's pool: a
:class:`~collector.engine.runtime.Runtime` (the Graph client, the app budget fed
by the usage headers, the redactor) and its
:meth:`~collector.engine.caller.Caller.call` (the retry policy's decisions and
pauses). Unlike pyfacebook, a ``since..until`` longer
than 30 days is split into requests the API accepts and their answers merged,
with exactly the values one unsplit request would return (the rule is in
:mod:`collector.client.query`); the windows of a call go out concurrently, up
to ``concurrency`` requests in flight per client.

Errors are the collector's typed Graph errors (:mod:`collector.errors`): an
:class:`~collector.errors.ApiError` carries ``code``, ``subcode``,
``is_transient`` and ``fbtrace_id``. No message carries a token or the app secret.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Sequence
from typing import Any, Literal, overload

from collector.client.models import Insight, checked_entries, insight_of, merge_entries
from collector.client.query import InsightsQuery, insights_query
from collector.clock import Clock, SystemClock
from collector.engine.caller import Target
from collector.engine.runtime import Runtime
from collector.errors import ApiError, GraphError
from collector.graph.catalogue import parse_version
from collector.graph.transport import GraphRequest, HttpTransport, Transport
from collector.logs import redact_text
from collector.pacing.retry import RetryPolicy
from collector.pacing.settings import BudgetSettings
from collector.tasks import all_or_nothing

APP = "library"  # the name of the client's one app budget
WINDOW_TASK = "insights-window"  # its windows' tasks are named insights-window-0, -1, ...


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
        owned: HttpTransport | None = None
        if transport is None:
            owned = transport = HttpTransport(
                base_url, api_version, timeout_s=timeout_s, token_in=token_in, pool_size=concurrency
            )
        self._runtime = Runtime(
            transport,
            {APP: BudgetSettings(calls_per_hour=calls_per_hour)},
            clock or SystemClock(),
            concurrency=concurrency,
            policy=retry_policy,
            owned=owned,
            secrets=[s for s in (access_token, app_secret) if s],
        )
        self._rng = random.Random(seed)

    def __repr__(self) -> str:
        return f"InsightsClient(api_version={self.api_version!r})"

    async def __aenter__(self) -> InsightsClient:
        await self._runtime.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session the client opened (not an injected transport)."""
        await self._runtime.close()

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
        # One task per window in a TaskGroup: the first failure (or a cancel of this
        # call) cancels and awaits the others, so no request outlives the call.
        fetches = [self._fetch(query, window, token) for window in query.windows()]
        answers = await all_or_nothing(fetches, name=WINDOW_TASK)
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
        target = Target(APP, query.user_id, token)
        try:
            return await self._runtime.caller.call(target, request, self._rng, checked_entries)
        except GraphError as error:
            raise _without_secrets(error, (token, self._app_secret)) from None


def _without_secrets(error: GraphError, secrets: Sequence[str | None]) -> GraphError:
    """``error`` with every secret and credential-shaped text blanked from its message.

    The collector's own messages never quote credentials, but an API message is
    Meta's text: should it ever echo a token, it must not reach the caller's logs.
    """
    text = str(error)
    clean = redact_text(text, secrets)
    if clean != text:
        error.args = (clean,)
        if isinstance(error, ApiError):
            error.body = dataclasses.replace(
                error.body, message=redact_text(error.body.message, secrets)
            )
    return error
