"""One writer per output: a process that writes an SQLite or NDJSON file holds its lock.

Two processes appending to one NDJSON file each keep their own offset and
overwrite each other's lines; their checkpoints then disagree with the file.
So whoever writes an output first takes an exclusive ``flock`` on
``<output>.lock`` beside it and keeps it until done; a second process is
refused at once, in one line that names the holder (its pid and since when): :class:`~collector.errors.OutputError`, exit 2, before any request.

Queue workers that write the store but no NDJSON file share it: they take the
same lock *shared* (``shared=True``), so any number of them work one SQLite
file side by side (the queue keeps them apart), while a process that streams
NDJSON, which needs to see every commit, is refused beside them, and they
beside it.

The lock is the kernel's: it goes when its holder ends, however it ends (a
SIGKILL included), so a stale lock file never blocks anyone; its text only
says who holds it. Within one process the lock is re-entrant (a daemon holds
it for its life and each of its runs takes it again).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from collector.errors import OutputError

_held: dict[Path, tuple[int, int]] = {}


class OutputBusy(OutputError):
    """Another process holds an output's lock (its text names the holder)."""


# lock path -> (fd, depth), this process's


def lock_path(output: Path) -> Path:
    """Where the lock of ``output`` lives: ``<output>.lock`` beside it."""
    return output.with_name(output.name + ".lock")


@contextlib.contextmanager
def output_locks(outputs: Iterable[Path | None], *, shared: bool = False) -> Iterator[None]:
    """Hold the write lock of every output given (``None``s are skipped) for the block.

    ``shared``: a queue worker's lock, compatible with other shared holders.
    Raises :class:`OutputError` naming the holder when another process has one
    that conflicts.
    """
    with contextlib.ExitStack() as stack:
        for output in outputs:
            if output is not None:
                stack.enter_context(_locked(output, shared))
        yield


@contextlib.contextmanager
def _locked(output: Path, shared: bool) -> Iterator[None]:
    path = lock_path(output.absolute())
    if path in _held:
        fd, depth = _held[path]
        _held[path] = (fd, depth + 1)
    else:
        _held[path] = (_acquire(output, path, shared), 1)
    try:
        yield
    finally:
        fd, depth = _held[path]
        if depth > 1:
            _held[path] = (fd, depth - 1)
        else:
            del _held[path]
            os.close(fd)  # closing the descriptor releases the flock


def held_elsewhere(output: Path) -> bool:
    """Whether another process holds ``output``'s lock now (probed without keeping it)."""
    path = lock_path(output.absolute())
    if path in _held or not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock taken by the probe
    return False


def _acquire(output: Path, path: Path, shared: bool) -> int:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise OutputError(
            f"{output}: its lock file {path.name} cannot be opened ({error.strerror}); "
            "fix: make the folder writable or choose another output path"
        ) from error
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise OutputBusy(
            f"{output} is being written by {holder}; fix: use `ig-collector pull` to add "
            "work to it, wait for it to finish, or give this run other outputs"
        ) from None
    since = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    holder = f"pid {os.getpid()} since {since}"
    if shared:
        holder = f"queue workers (one is {holder})"
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{holder}\n".encode(), 0)
    return fd


def _holder(fd: int) -> str:
    """Who holds the lock of ``fd``, as the holder wrote it.

    A holder writes its line just after it takes the lock: a file still empty is
    read again for up to a tenth of a second before it is called "another process".
    """
    for _ in range(10):
        text = os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
        if text:
            return text
        time.sleep(0.01)
    return "another process"
