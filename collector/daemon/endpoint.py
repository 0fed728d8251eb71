"""The HTTP face of a ``daemon`` or ``worker``: ``/metrics``, ``/healthz``, ``/readyz``.

Served by aiohttp on the process's own loop (not prometheus-client's thread
server), so it reads the same injected clock and ends with the process: it runs
as a task of the daemon's TaskGroup (or beside the worker's run) and its
``finally`` closes the listening socket and the store probe.

- ``/metrics``: :class:`~collector.daemon.metrics.ProcessMetrics` in Prometheus'
  text format; the store's figures (queue depth, lags) are read at most every
  ``VITALS_EVERY_S`` seconds of the clock, within ``STORE_TIMEOUT_S``.
- ``/healthz``: 200 ``{"alive":true}`` while the loop answers.
- ``/readyz``: 200 or 503 with ``{"ready":...,"reason":"..."}`` on one line
  (:mod:`collector.daemon.health`).

The address is ``[daemon] metrics_address`` (default ``127.0.0.1:9464``: loopback,
so nothing is exposed unless the operator asks); ``""`` serves nothing. A port
already taken (two workers of one host on one config) is logged
(``metrics_unavailable``) and the process goes on without its endpoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import orjson
import structlog
from aiohttp import web

from collector.clock import Clock, TimedOut, within
from collector.config.daemon import split_address
from collector.config.load import Config
from collector.daemon.health import PROBE_WORKER_ID, StoreProbe, readiness
from collector.daemon.metrics import CONTENT_TYPE, ProcessMetrics, Watched
from collector.engine.jobs import store_address
from collector.planning.vitals import StoreVitals, read_vitals
from collector.storage.opening import open_store

log = structlog.get_logger("collector.daemon.endpoint")

VITALS_EVERY_S = 10.0
STORE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Served:
    """What the endpoint answers for: the process's metrics and state, its store, its clock.

    ``config`` is called at each request (a daemon's config changes on reload);
    ``interval_s`` is the scheduling interval ``/readyz`` judges (``None``: none).
    """

    metrics: ProcessMetrics
    watched: Watched
    config: Callable[[], Config]
    clock: Clock
    started: float
    interval_s: Callable[[], float | None]


class Endpoint:
    """The three routes over one :class:`Served`; :meth:`serve` until cancelled."""

    def __init__(self, served: Served) -> None:
        self._served = served
        self._probe = StoreProbe(self._write_probe, served.clock, STORE_TIMEOUT_S)
        self._vitals_at = -float("inf")
        self.port: int | None = None  # the bound port, once serving (0 in the address: any)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        return app

    async def serve(self, address: str, started: asyncio.Event | None = None) -> None:
        """Listen on ``address`` ("host:port") until cancelled; then close everything."""
        host, port = split_address(address)
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            try:
                await site.start()
            except OSError as error:  # the port is taken (a second worker on the host)
                log.error("metrics_unavailable", address=address, error=str(error))
                return
            server = site._server
            sockets = getattr(server, "sockets", None) or []
            self.port = sockets[0].getsockname()[1] if sockets else port
            log.info("metrics_serving", address=f"{host}:{self.port}")
            if started is not None:
                started.set()
            await asyncio.Event().wait()  # until cancelled with the process
        finally:
            await runner.cleanup()
            await self._probe.close()

    def _now(self) -> float:
        return self._served.clock.now().timestamp()

    async def _metrics(self, request: web.Request) -> web.Response:
        served = self._served
        vitals: StoreVitals | None = None
        if self._now() - self._vitals_at >= VITALS_EVERY_S:
            vitals = await self._read_vitals()
        served.metrics.update(served.watched, vitals, self._now())
        return web.Response(body=served.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def _healthz(self, request: web.Request) -> web.Response:
        return _json(200, {"alive": True})

    async def _readyz(self, request: web.Request) -> web.Response:
        served = self._served
        verdict = readiness(
            store_error=await self._probe.check(),
            now=self._now(),
            last_cycle=served.watched.last_cycle(),
            started=served.started,
            interval_s=served.interval_s(),
            tokens_dead=served.watched.tokens_dead(),
        )
        return _json(
            200 if verdict.ready else 503, {"ready": verdict.ready, "reason": verdict.reason}
        )

    async def _read_vitals(self) -> StoreVitals | None:
        config = self._served.config()

        async def read() -> StoreVitals:
            store = await open_store(store_address(config), clock=self._served.clock)
            try:
                apps = [app.name for app in config.apps]
                accounts = [a.id for a in config.accounts]
                return await read_vitals(store, apps, accounts, self._now())
            finally:
                await store.close()

        try:
            result = await within(self._served.clock, read(), STORE_TIMEOUT_S)
        except Exception as error:  # the scrape still serves the process's own figures
            log.warning("metrics_store_unread", error=type(error).__name__)
            return None
        if isinstance(result, TimedOut):
            log.warning("metrics_store_unread", error="timeout")
            return None
        self._vitals_at = self._now()
        return result

    async def _write_probe(self) -> None:
        config = self._served.config()
        store = await open_store(store_address(config), clock=self._served.clock)
        try:
            await store.forget_worker(PROBE_WORKER_ID)
        finally:
            await store.close()


def _json(status: int, body: dict[str, object]) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(body) + b"\n", content_type="application/json"
    )


async def serve_endpoint(served: Served, address: str, endpoint: Endpoint | None = None) -> None:
    """Serve ``served`` on ``address`` until cancelled; ``""``: serve nothing (return at once)."""
    if not address:
        return
    await (endpoint or Endpoint(served)).serve(address)
