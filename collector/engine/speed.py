"""Process settings for a long job: which event loop runs it, and how the cyclic GC behaves.

- The event loop: uvloop when it is installed (``pip install 'ig-collector[fast]'``)
  and ``IG_COLLECTOR_LOOP`` is not ``asyncio``; the standard loop otherwise. The
  run summary names the loop that ran (:func:`loop_name`).
- The cyclic GC (:func:`tune_gc`): a run keeps tens of thousands of long-lived
  objects (config, plan, caches, aiohttp) and makes a few hundred short-lived
  containers per answer (the JSON's dicts; a point is a tuple since issue 17,
  when the GC's share fell from 0.6 to 0.14 ms a request with Python's own
  settings, and to 0.02 with these: docs/benchmarks.md, section 9, where the
  difference in CPU is within the machine's noise). ``gc.freeze()`` after
  start-up moves what exists into a generation the collector never walks, and for a job that ends (``run``,
  ``pull --wait``) a first threshold of 50,000 lets the answers' garbage (freed
  by reference counting anyway: JSON holds no cycles) pass between
  collections. A process that never ends (``daemon``, ``worker``) keeps
  Python's thresholds: with 50,000 the cycles its tasks and errors leave grow
  its RSS by ~9 MiB over the soak test's 40 s before a collection catches up.

Only the command-line entry points call these: a library user keeps control of
their own process.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Callable, Coroutine
from typing import Any, Final, TypeVar

__all__ = ["GC_THRESHOLDS", "loop_factory", "loop_name", "run", "tune_gc"]

T = TypeVar("T")

# (generation 0, 1, 2) for a job that ends: see the module docstring; docs/benchmarks.md.
GC_THRESHOLDS: Final = (50_000, 20, 20)


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory when it is installed and not turned off; else ``None``."""
    if os.environ.get("IG_COLLECTOR_LOOP", "").lower() == "asyncio":
        return None
    try:
        import uvloop  # the optional [fast] extra
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop :func:`loop_factory` picks."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)


def loop_name(loop: asyncio.AbstractEventLoop | None = None) -> str:
    """``uvloop`` or ``asyncio``: the event loop running now (or ``loop``)."""
    loop = loop or asyncio.get_running_loop()
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def tune_gc(*, long_lived: bool = False) -> None:
    """Freeze what start-up made; raise the GC's thresholds unless the process is
    ``long_lived`` (module docstring)."""
    gc.collect()
    gc.freeze()
    if not long_lived:
        gc.set_threshold(*GC_THRESHOLDS)
