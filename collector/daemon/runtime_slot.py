"""The daemon's one :class:`~collector.engine.runtime.Runtime`, opened for the life of ``run``."""

from __future__ import annotations

from collections.abc import Callable

from collector.config.load import Config
from collector.engine.observe import NO_OBSERVER, CallObserver
from collector.engine.runtime import Runtime


class RuntimeSlot:
    """Holds at most one open runtime; ``make`` builds one for a config (not yet started);
    every runtime's caller reports its attempts to ``observer``."""

    def __init__(
        self, make: Callable[[Config], Runtime], observer: CallObserver = NO_OBSERVER
    ) -> None:
        self._make = make
        self._observer = observer
        self._runtime: Runtime | None = None

    async def open(self, config: Config) -> None:
        """Build and start the runtime for ``config``, closing any open one first."""
        await self.close()
        runtime = self._make(config)
        runtime.caller.observer = self._observer
        await runtime.start()
        self._runtime = runtime

    async def close(self) -> None:
        runtime, self._runtime = self._runtime, None
        if runtime is not None:
            await runtime.close()

    @property
    def live(self) -> Runtime:
        """The open runtime; raises ``RuntimeError`` outside ``open`` .. ``close``."""
        if self._runtime is None:
            raise RuntimeError("the daemon's runtime is used outside Daemon.run")
        return self._runtime

    def usage_pct(self) -> dict[str, float]:
        """Per app, the latest ``X-App-Usage`` peak its budget has read ({} when closed)."""
        if self._runtime is None:
            return {}
        budgets = self._runtime.pacing.budgets
        return {name: b.usage_pct for name, b in budgets.items() if b.usage_pct is not None}
