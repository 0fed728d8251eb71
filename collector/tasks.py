"""Who owns the tasks the collector starts: structured concurrency, so nothing outlives a cancel.

Every task the collector starts has an owner that awaits it on every way out,
a cancel included:

- tasks that live within one call run in an :class:`asyncio.TaskGroup`: the
  pool's workers, a run's grace timer, and the two shapes below;
  :func:`all_or_nothing` (the library client's windows, the daemon's token
  checks) and :func:`beside` (the daemon's stats loop and preempt timer);
- a task that outlives the call that started it cannot sit in a TaskGroup
  (the group would have to be left open between calls), so its object owns it
  and awaits it with :func:`wait_out` in its ``close``: the sink writer's task,
  the batch transport's POSTs and linger timer.

:class:`asyncio.TaskGroup` reports even a single failure as an
:class:`ExceptionGroup`; the helpers here raise the failure itself, so a
caller's ``except GraphError`` (or the CLI's ``except CollectorError``) still
sees it. Model: Trio's nurseries (https://trio.readthedocs.io, "Tasks let you
do multiple things at once"), which asyncio's TaskGroup follows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


async def all_or_nothing(calls: Sequence[Coroutine[Any, Any, T]], *, name: str) -> list[T]:
    """Every call's result in order, the calls running at once in one TaskGroup.

    The tasks are named ``{name}-{i}`` (a single call runs in the caller's task).
    On the first failure the other calls are cancelled and awaited, and that
    failure is raised as itself; a cancel of the caller cancels and awaits
    every call before it propagates. Either way no call is left running.
    """
    if len(calls) == 1:
        return [await calls[0]]
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c, name=f"{name}-{i}") for i, c in enumerate(calls)]
    except BaseExceptionGroup as failed:
        error = failed.exceptions[0]  # the group lists its tasks' failures as they came
    else:
        return [task.result() for task in tasks]
    raise error


async def beside(main: Awaitable[T], helper: Coroutine[Any, Any, object], *, name: str) -> T:
    """``main``'s result, while ``helper`` runs beside it in a TaskGroup task named ``name``.

    ``main`` runs in the calling task. When it ends, however it ends, ``helper``
    is cancelled and awaited; then ``main``'s result is returned or its
    exception (a cancel included) propagates as itself. A ``helper`` that
    returns early leaves ``main`` running alone; one that fails cancels
    ``main``, and its failure propagates as itself.
    """
    try:
        async with asyncio.TaskGroup() as group:
            side = group.create_task(helper, name=name)
            try:
                return await main
            finally:
                side.cancel()
    except BaseExceptionGroup as failed:
        error = failed.exceptions[-1]  # the group lists the block's own failure last
    raise error


def first_failure(failed: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first failure a (possibly nested) exception group holds, as itself.

    A TaskGroup inside a TaskGroup (a run's pool inside the run) nests its
    group in the outer one; the caller wants the error that started it.
    """
    error: BaseException = failed
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


async def wait_out(
    futures: Iterable[asyncio.Future[Any]], *, on_cancel: Callable[[], object] | None = None
) -> None:
    """Wait until every one of ``futures`` has ended; their results and errors stay in them.

    For the owner of tasks that outlive one call (see the module docstring). A
    cancel of the caller does not cut the wait short: ``on_cancel`` is called
    once, at the first cancel, to make them end (typically: cancel them); the
    wait goes on, and that cancel is raised once every one has ended, as a
    TaskGroup's exit does. So the owner never returns while a task of its own
    still runs; a task that never ends holds it (and its cancel) forever.
    """
    pending = {future for future in futures if not future.done()}
    interrupted: asyncio.CancelledError | None = None
    while pending:
        try:
            await asyncio.wait(pending)
        except asyncio.CancelledError as error:
            if interrupted is None:
                interrupted = error
                if on_cancel is not None:
                    on_cancel()
        pending = {future for future in pending if not future.done()}
    if interrupted is not None:
        raise interrupted
