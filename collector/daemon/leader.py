"""Which daemon schedules: one leader per shared store, the others work its queue.

Several daemons may run on one PostgreSQL store (on several machines). All of
them work the queue; exactly one, the *leader*, decides the refreshes and
history and enqueues them. Leadership is a named lease in the store
(:meth:`~collector.storage.queue.WorkQueue.lead`): the leader renews it every
``renew_s``; when the leader dies its lease runs out after ``lease_s`` and the
next daemon to ask takes it, so the schedule goes on within ``lease_s +
renew_s`` seconds (25 s by default, "within a minute"). A daemon that loses
the lease (a network partition, a long stall) stops scheduling at its next
step; the store's fencing keeps even a stale leader's commits exact.

On a SQLite store a daemon holds the file alone (its output lock), so it
leads without asking.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final, Protocol

import structlog

from collector.clock import Clock, wait_event
from collector.config.load import Config
from collector.engine.jobs import store_address, worker_id
from collector.storage.opening import open_store

log = structlog.get_logger("collector.daemon.leader")

__all__ = ["LEASE_NAME", "Leadership", "LeaseStore", "leadership"]

LEASE_NAME: Final = "daemon-scheduler"


class Leadership:
    """This daemon's claim to schedule (see the module docstring).

    ``open_store`` gives a store connection for the lease (kept for the
    loop's life); ``None`` means the store is this daemon's alone: it leads.
    """

    def __init__(
        self,
        open_store: Callable[[], Awaitable[LeaseStore]] | None,
        owner: str,
        clock: Clock,
        *,
        lease_s: float = 20.0,
        renew_s: float = 5.0,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._open = open_store
        self._owner = owner
        self._clock = clock
        self._lease_s = lease_s
        self._renew_s = renew_s
        self._on_change = on_change
        self.leading = open_store is None

    async def run(self, stop: asyncio.Event) -> None:
        """Take or renew the lease every ``renew_s`` until ``stop``; a store error is
        logged and counts as not leading until the next try."""
        if self._open is None:
            return
        store = await self._open()
        try:
            while not stop.is_set():
                try:
                    leading = await store.lead(LEASE_NAME, self._owner, self._lease_s)
                except Exception as error:  # the store is away: never schedule blind
                    log.error("leader_check_failed", error=type(error).__name__)
                    leading = False
                self._set(leading)
                await wait_event(self._clock, stop, self._renew_s)
        finally:
            self._set(False)
            await store.close()

    def _set(self, leading: bool) -> None:
        if leading != self.leading:
            self.leading = leading
            log.info("leader_acquired" if leading else "leader_lost", owner=self._owner)
            self._on_change()


class LeaseStore(Protocol):
    """What leadership needs of the store: the named lease, and closing it."""

    async def lead(self, name: str, owner: str, lease_s: float) -> bool: ...

    async def close(self) -> None: ...


def leadership(config: Config, clock: Clock, *, on_change: Callable[[], None]) -> Leadership:
    """The leadership of a daemon of ``config``: asked of a PostgreSQL store; on SQLite,
    whose file the daemon holds alone, granted without asking."""
    if config.store.url is None:
        return Leadership(None, "", clock)
    address = store_address(config)

    async def open_lease_store() -> LeaseStore:
        return await open_store(address, clock=clock)

    return Leadership(open_lease_store, worker_id(), clock, on_change=on_change)
