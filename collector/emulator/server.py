"""The emulator's HTTP face: aiohttp.web routes over the edge, limits, faults and the call log.

Routes (SPEC 1, 7, 8; the table in docs/emulator.md): insights GET/POST with or
without a version, batches, ``debug_token``, ``me/accounts``, ``oauth/access_token``,
the Page / IG User / ``/me`` nodes (trailing ``/`` allowed), and graph.instagram.com's
insights, ``access_token`` and ``refresh_access_token`` below :data:`INSTAGRAM_PREFIX`;
the call log (:mod:`collector.emulator.control`); anything else is code 2500.

The pipeline of one insights call or batch item (:meth:`EmulatorState.serve_edge`):

1. authenticate (E1's :func:`edge.authenticate`); a failure whose token is known
   to the scenario still counts against that token's app (Meta counts every call
   an app makes); it draws no call number and no fault;
2. number the call, then count it against every allowance
   (:mod:`collector.emulator.limits`); a refused call answers the limit's error;
3. decide its fault (:mod:`collector.emulator.faults`); a Graph-level fault
   answers its error instead of the data;
4. answer (:func:`answers.answer_insights`) with the usage headers;
5. log the call (:mod:`collector.emulator.calllog`);
6. wait the seeded latency (and ``slow_s`` for the ``slow`` fault), then send,
   bending the bytes for a transport fault.

Every JSON answer is encoded with orjson and sent as ``application/json``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from collector.emulator import batch, control, faults, nodes, oauth, tokens
from collector.emulator.answers import answer_insights
from collector.emulator.calllog import CallLog, CallRecord, Route, fingerprint, public_params
from collector.emulator.clock import EmulatorClock, SystemClock
from collector.emulator.edge import (
    EdgeAnswer,
    EdgeRequest,
    authenticate,
    graph_error,
    token_of,
)
from collector.emulator.faults import GRAPH_FAULT_ERRORS, TRANSPORT_FAULTS, FaultPlan
from collector.emulator.limits import LIMIT_ERRORS, Limiter, saturated_headers, usage_headers
from collector.emulator.reply import send
from collector.emulator.scenario import Account, Scenario, TokenInfo, default_scenario

DEFAULT_VERSION = "v17.0"  # what an unversioned insights path is served as
VERSION_PATTERN = r"v\d+\.\d+"
SHUTDOWN_TIMEOUT_S = 0.5  # stalled (``slow``) answers must not hold a shutdown
# graph.instagram.com, served on the same port below this prefix: a collector's
# ``base_url`` for an Instagram Login app is ``http://HOST:PORT/graph.instagram.com``.
INSTAGRAM_PREFIX = "/graph.instagram.com"


@dataclass(frozen=True)
class Served:
    """One answer decided, before latency and transport faults.

    ``fault`` is the kind drawn for the call (Graph-level ones are already in
    ``body``); ``call_number`` is ``None`` for calls that failed authentication.
    """

    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    fault: str | None = None
    call_number: int | None = None

    @property
    def transport_fault(self) -> str | None:
        return self.fault if self.fault in TRANSPORT_FAULTS else None


@dataclass
class EmulatorState:
    """Everything a running emulator holds; tests may swap ``clock`` or inject faults.

    ``state.faults.inject(kind, count=1, account=None)`` makes the next matching
    calls fail; ``state.calls`` is the call log.
    """

    scenario: Scenario
    clock: EmulatorClock
    limiter: Limiter
    faults: FaultPlan
    calls: CallLog = field(default_factory=CallLog)
    requests: int = 0  # HTTP requests seen; seeds the latency of each
    in_flight: int = 0  # answers being waited on or sent (latency, ``slow``)

    @classmethod
    def create(
        cls,
        scenario: Scenario | None = None,
        *,
        clock: EmulatorClock | None = None,
        seed: int | None = None,
    ) -> EmulatorState:
        """A fresh state: the default scenario, the system clock and the scenario's seed."""
        scenario = scenario if scenario is not None else default_scenario()
        if seed is not None:
            scenario = scenario.with_seed(seed)
        return cls(
            scenario=scenario,
            clock=clock if clock is not None else SystemClock(),
            limiter=Limiter(scenario.limits),
            faults=FaultPlan(scenario.faults, scenario.seed),
        )

    def now(self) -> float:
        return self.clock.now()

    def mint(self, info: TokenInfo) -> None:
        """Make a token issued by an exchange or refresh known from now on."""
        self.scenario = dataclasses.replace(self.scenario, tokens=(*self.scenario.tokens, info))

    def serve_edge(self, req: EdgeRequest, route: Route, *, in_batch: bool = False) -> Served:
        """Steps 1-5 of the pipeline for one insights call or batch item.

        In a batch (``in_batch``) an item may come back with status 0 and fault
        ``batch_null``: the ``batch_null_rate`` draw ("no time for it"), answered ``null``.
        Calls refused by a limit draw no fault (their call number is spent).
        """
        now = self.now()
        token = token_of(req)
        caller = authenticate(self.scenario, req, now)
        if isinstance(caller, EdgeAnswer):
            info = self.scenario.token_info(token) if token else None
            headers: dict[str, str] = {}
            if info is not None:
                usage = self.limiter.count_app_only(info.app, now)
                headers = usage_headers(usage, None, self.scenario.limits)
            served = Served(caller.status, caller.body, headers)
            app = info.app if info else None
            self._log(served, route, now, req, app=app, account=None, token=token)
            return served

        account = caller.account
        number = self.faults.number_call()
        usage = self.limiter.admit(
            app=caller.app.name,
            account=account.id,
            token=caller.token,
            now=now,
            buc_calls=account.buc_calls,
        )
        headers = usage_headers(usage, account, self.scenario.limits)
        if usage.refused is not None:
            limit = LIMIT_ERRORS[usage.refused]
            answer = graph_error(limit.code, limit.message, status=limit.status)
            served = Served(answer.status, answer.body, headers, call_number=number)
            self._log(
                served,
                route,
                now,
                req,
                app=caller.app.name,
                account=account.id,
                token=token,
                throttled=True,
            )
            return served

        if in_batch and self.faults.batch_null(number):
            served = Served(0, {}, headers, fault="batch_null", call_number=number)
        else:
            kind = self.faults.decide(number, account.id)
            if kind is not None and kind in GRAPH_FAULT_ERRORS:
                served = self._graph_fault(kind, headers, account, number)
            else:
                answer = answer_insights(self.scenario, req, caller, now)
                served = Served(answer.status, answer.body, headers, kind, number)
        self._log(served, route, now, req, app=caller.app.name, account=account.id, token=token)
        return served

    def _graph_fault(
        self, kind: str, headers: dict[str, str], account: Account, number: int
    ) -> Served:
        error = GRAPH_FAULT_ERRORS[kind]
        answer = graph_error(
            error.code,
            error.message,
            status=error.status,
            subcode=error.subcode,
            is_transient=error.is_transient,
        )
        if kind == "throttle_burst":
            headers = {**headers, **saturated_headers(account)}
        return Served(answer.status, answer.body, headers, fault=kind, call_number=number)

    def log_plain(
        self, route: Route, answer: EdgeAnswer, req: EdgeRequest, token: str | None
    ) -> None:
        """Log an uncounted call (token endpoints, nodes, unknown paths, refused batches);
        ``token`` is the caller's token to fingerprint (``None``: none worth naming)."""
        served = Served(answer.status, answer.body, {})
        info = self.scenario.token_info(token) if token else None
        app = info.app if info else None
        self._log(served, route, self.now(), req, app=app, account=None, token=token)

    def _log(
        self,
        served: Served,
        route: Route,
        now: float,
        req: EdgeRequest,
        *,
        app: str | None,
        account: str | None,
        token: str | None,
        throttled: bool = False,
    ) -> None:
        error = served.body.get("error") if isinstance(served.body, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        self.calls.append(
            CallRecord(
                at=now,
                real=time.monotonic(),
                route=route,
                status=served.status,
                app=app,
                account=account,
                token_fp=fingerprint(token),
                code=code if isinstance(code, int) else None,
                throttled=throttled,
                fault=served.fault,
                counted=app is not None and route in (Route.INSIGHTS, Route.BATCH_ITEM),
                call_number=served.call_number,
                path=req.path,
                params=public_params(req.params),
            )
        )

    def latency_s(self) -> float:
        """The seeded wait before this HTTP request's answer (SPEC-free: the scenario's choice)."""
        self.requests += 1
        lat = self.scenario.latency
        return faults.latency_s(self.scenario.seed, self.requests, lat.fixed_ms, lat.jitter_ms)


STATE_KEY: web.AppKey[EmulatorState] = web.AppKey("emulator_state", EmulatorState)


async def _params(request: web.Request) -> dict[str, str]:
    """Query parameters, overridden by form fields for a POST (SPEC 1: both carry params)."""
    params = {k: v for k, v in request.query.items()}
    if request.method == "POST" and request.can_read_body:
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def _edge_request(request: web.Request, params: dict[str, str], ig_user_id: str) -> EdgeRequest:
    return EdgeRequest(
        version=request.match_info.get("version", DEFAULT_VERSION),
        ig_user_id=ig_user_id,
        params=params,
        authorization=request.headers.get("Authorization"),
        base_url=str(request.url.origin()),
        path=request.path,
        host="instagram" if request.path.startswith(INSTAGRAM_PREFIX) else "facebook",
    )


async def handle_insights(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    req = _edge_request(request, await _params(request), request.match_info["ig_user_id"])
    served = state.serve_edge(req, Route.INSIGHTS)
    return await send(
        request, state, served.status, served.body, served.headers, served.transport_fault
    )


async def handle_batch(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    params = await _params(request)
    req = _edge_request(request, params, "")
    outcome = batch.answer_batch(
        params,
        version=req.version,
        authorization=req.authorization,
        base_url=req.base_url,
        serve_item=lambda item: state.serve_edge(item, Route.BATCH_ITEM, in_batch=True),
    )
    if outcome.error is not None:
        state.log_plain(Route.BATCH, outcome.error, req, token_of(req))
        return await send(request, state, outcome.error.status, outcome.error.body, {}, None)
    return await send(request, state, 200, outcome.items, outcome.headers, outcome.transport_fault)


async def handle_debug_token(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    req = _edge_request(request, await _params(request), "debug_token")
    answer = tokens.debug_token(state.scenario, req, state.now())
    state.log_plain(Route.DEBUG_TOKEN, answer, req, None)  # the app token is no user's
    return await send(request, state, answer.status, answer.body, {}, None)


async def handle_me_accounts(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    req = _edge_request(request, await _params(request), "me")
    answer = tokens.me_accounts(state.scenario, req, request.path, state.now())
    state.log_plain(Route.ME_ACCOUNTS, answer, req, token_of(req))
    return await send(request, state, answer.status, answer.body, {}, None)


async def handle_oauth(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    req = _edge_request(request, await _params(request), "")
    refresh = request.path.rstrip("/").endswith("refresh_access_token")
    answer, minted = oauth.exchange(state.scenario, req, state.now(), refresh=refresh)
    if minted is not None:
        state.mint(minted)
    state.log_plain(Route.OAUTH, answer, req, None)  # neither token is worth naming
    return await send(request, state, answer.status, answer.body, {}, None)


async def handle_node(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    node_id = request.match_info["node_id"]
    req = _edge_request(request, await _params(request), node_id)
    answer = nodes.answer_node(state.scenario, req, node_id, state.now())
    state.log_plain(Route.NODE, answer, req, token_of(req))
    return await send(request, state, answer.status, answer.body, {}, None)


async def handle_unknown(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    answer = graph_error(2500, f"Unknown path components: {request.path}")
    state.log_plain(Route.UNKNOWN, answer, _edge_request(request, await _params(request), ""), None)
    return await send(request, state, answer.status, answer.body, {}, None)


def build_app(state: EmulatorState) -> web.Application:
    """The aiohttp application serving ``state``."""
    app = web.Application()
    app[STATE_KEY] = state
    v = f"{{version:{VERSION_PATTERN}}}"
    r = app.router
    control.add_routes(r, state.calls)
    ig = INSTAGRAM_PREFIX
    for prefix in (f"{ig}/{v}", ig):  # Instagram Login's host (see INSTAGRAM_PREFIX)
        r.add_route("GET", f"{prefix}/access_token", handle_oauth)
        r.add_route("GET", f"{prefix}/refresh_access_token", handle_oauth)
        r.add_route("GET", f"{prefix}/{{ig_user_id}}/insights", handle_insights)
        r.add_route("POST", f"{prefix}/{{ig_user_id}}/insights", handle_insights)
    for prefix in (f"/{v}", ""):
        for slash in ("", "/"):
            r.add_route("GET", f"{prefix}/oauth/access_token{slash}", handle_oauth)
            r.add_route("GET", f"{prefix}/debug_token{slash}", handle_debug_token)
            r.add_route("GET", f"{prefix}/me/accounts{slash}", handle_me_accounts)
            r.add_route("GET", f"{prefix}/{{ig_user_id}}/insights{slash}", handle_insights)
            r.add_route("POST", f"{prefix}/{{ig_user_id}}/insights{slash}", handle_insights)
    for prefix in (f"/{v}", ""):
        for slash in ("", "/"):
            r.add_route("GET", f"{prefix}/{{node_id:[0-9A-Za-z_]+}}{slash}", handle_node)
    r.add_route("POST", f"/{v}/", handle_batch)
    r.add_route("POST", f"/{v}", handle_batch)
    r.add_route("POST", "/", handle_batch)
    r.add_route("*", "/{tail:.*}", handle_unknown)
    return app


async def start_server(
    state: EmulatorState, host: str = "127.0.0.1", port: int = 0
) -> tuple[web.AppRunner, str]:
    """Serve ``state`` on ``host:port`` (0: a free port); return the runner and the base URL.

    Handlers are cancelled when their client disconnects (aiohttp's
    ``handler_cancellation``), so a ``slow`` answer stops with its client.
    Call ``await runner.cleanup()`` to stop.
    """
    runner = web.AppRunner(
        build_app(state),
        handler_cancellation=True,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        access_log=None,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]  # the real port when ``port`` was 0
    return runner, f"http://{host}:{bound}"
