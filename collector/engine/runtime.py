"""What outlives a bounded run: the wire, the pacing and the secrets the logs must hide.

One place builds them for ``run``, ``daemon`` and the library client, so all
three send through the same :class:`~collector.engine.caller.Caller`. A daemon
keeps one :class:`Runtime` for its whole life (budgets, pauses and the last
usage readings carry from one run to the next); ``run_once`` without one
builds its own for the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from urllib.parse import urlsplit

from collector.clock import Clock
from collector.config.load import Config
from collector.engine.caller import Caller, Pacing
from collector.graph.batch import BatchingTransport
from collector.graph.transport import GraphRequest, GraphResponse, HttpTransport, Transport
from collector.logs import REDACTOR
from collector.pacing.retry import RetryPolicy
from collector.pacing.settings import BudgetSettings

Tune = Callable[[BudgetSettings], BudgetSettings]
"""Adjusts every app's budget settings (tests shrink Meta's minute and hour)."""


class Runtime:
    """The transport (maybe batching), the process's :class:`Pacing` and its :class:`Caller`.

    Use as an async context manager, or call :meth:`start` and :meth:`close`. A
    transport passed in (tests) is neither started nor closed here.
    """

    def __init__(
        self,
        transport: Transport,
        budgets: Mapping[str, BudgetSettings],
        clock: Clock,
        *,
        concurrency: int,
        policy: RetryPolicy | None = None,
        owned: HttpTransport | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        REDACTOR.add(secrets)
        self.clock = clock
        self.pacing = Pacing(budgets, clock)
        self.caller = Caller(transport, self.pacing, clock, concurrency=concurrency, policy=policy)
        self._owned = owned

    @classmethod
    def for_config(
        cls,
        config: Config,
        clock: Clock,
        *,
        transport: Transport | None = None,
        policy: RetryPolicy | None = None,
        tune: Tune | None = None,
    ) -> Runtime:
        """The runtime ``config`` asks for: its Graph settings, its apps' budgets, its secrets."""
        graph = config.graph
        owned: HttpTransport | None = None
        wire: Transport
        if transport is None:
            owned = HttpTransport(
                graph.base_url,
                graph.api_version,
                timeout_s=graph.timeout_s,
                token_in=graph.token_in,
                pool_size=graph.concurrency,
            )
            wire = owned
            if graph.batch_size > 1:
                # Batch mode (SPEC 7): requests in flight together share one POST.
                batches = BatchingTransport(owned, batch_size=graph.batch_size, clock=clock)
                wire = HostSplit(batches, owned)
        else:
            wire = transport
        return cls(
            wire,
            budgets_of(config, tune),
            clock,
            concurrency=graph.concurrency,
            policy=policy,
            owned=owned,
            secrets=config_secrets(config),
        )

    def reconfigure(self, config: Config, tune: Tune | None = None) -> None:
        """Take a reloaded config: new secrets are hidden, changed budgets start afresh."""
        REDACTOR.add(config_secrets(config))
        self.pacing.configure(budgets_of(config, tune))

    @property
    def connections_opened(self) -> int:
        """TCP connections the runtime's own HTTP session has made (0 for a given transport)."""
        return 0 if self._owned is None else self._owned.connections_opened

    async def start(self) -> None:
        if self._owned is not None:
            await self._owned.start()

    async def close(self) -> None:
        """Flush a batching transport and close the HTTP session this runtime opened."""
        wire = self.caller.transport
        try:
            if isinstance(wire, HostSplit):
                await wire.batches.close()
        finally:  # a cancel while the batches drain still closes the session
            if self._owned is not None:
                await self._owned.close()

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class HostSplit:
    """Batch mode's wire: a request for another host (an Instagram Login app's, its
    ``base_url`` set) goes alone, the rest into graph.facebook.com's batch POSTs."""

    def __init__(self, batches: BatchingTransport, alone: Transport) -> None:
        self.batches = batches
        self._alone = alone

    async def send(self, request: GraphRequest) -> GraphResponse:
        if request.base_url is not None:
            return await self._alone.send(request)
        return await self.batches.send(request)


def budgets_of(config: Config, tune: Tune | None = None) -> dict[str, BudgetSettings]:
    """Per app name, the budget settings ``config`` gives it (``tune`` applied)."""
    out = {app.name: config.budget_of(app.name) for app in config.apps}
    return {name: tune(s) for name, s in out.items()} if tune else out


def config_secrets(config: Config) -> list[str]:
    """Every token and app secret of ``config``, and its store's password, for the redactor."""
    secrets = [account.token for account in config.accounts]
    secrets += [app.app_secret for app in config.apps if app.app_secret]
    if config.store.url is not None:
        password = urlsplit(config.store.url).password
        if password:
            secrets.append(password)
    return secrets
