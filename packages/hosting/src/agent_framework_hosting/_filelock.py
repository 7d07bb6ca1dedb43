"""Cross-process locks on one machine: `fcntl.flock` on a lock file, with a fencing counter.

The kernel drops a flock when its process dies, so a crashed holder frees its
locks at once, and a stalled holder keeps them: a lock is never taken over
while its holder lives, which is what makes writes under it fenced.

A holder removes its lock file as it lets go, so a folder keeps no file per
name ever locked; a waiter that then wins the removed file tries again on the
path's new one. The fencing numbers come from one counter file shared by all
names (a number grows with every acquisition of any name, so with every
acquisition of each).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from ._errors import SessionBusyError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

POLL_MIN = 0.002
POLL_MAX = 0.05


def _open(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


def _try_lock(fd: int) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _unlock(fd: int) -> None:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _current(fd: int, path: Path) -> bool:
    """Whether the locked file `fd` is still the one at `path` (a holder removes it as it lets go)."""
    try:
        here = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return here.st_ino == mine.st_ino and here.st_dev == mine.st_dev


def _read_number(fd: int) -> int:
    raw = os.pread(fd, 32, 0).strip()
    return int(raw) if raw.isdigit() else 0


def _next_fence(fences: Path, held: int) -> int:
    """Bump the shared counter in `fences` and return it.

    Written fixed-width in place (one `pwrite`, no truncate): the counter only grows. `held` is the
    locked file, which a version that kept a counter per name may have left a larger number in.
    The counter's own flock is held only for this read and write (microseconds), so it is taken blocking.
    """
    fd = _open(fences)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        fence = max(_read_number(fd), _read_number(held)) + 1
        os.pwrite(fd, b"%020d" % fence, 0)
        return fence
    finally:
        _unlock(fd)


@asynccontextmanager
async def file_lock(path: Path, *, name: str, fences: Path, wait: float | None = None) -> AsyncIterator[int]:
    """Hold `path` exclusively across processes; yields the lock's fencing number (from the counter `fences`).

    Polls with a non-blocking flock so waiting stays cancellable; raises
    `SessionBusyError` after `wait` seconds (None: no limit).
    """
    fd = _open(path)
    deadline = None if wait is None else time.monotonic() + wait
    delay = POLL_MIN
    try:
        while True:
            if _try_lock(fd):
                if fcntl is None or _current(fd, path):
                    break
                # Won a file its holder removed on letting go: the lock is the path's current file.
                _unlock(fd)
                fd = -1
                fd = _open(path)
                continue
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise SessionBusyError(f"{name!r} is busy with another turn")
            pause = delay * (0.5 + random.random())
            await asyncio.sleep(pause if deadline is None else min(pause, deadline - now))
            delay = min(delay * 2, POLL_MAX)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        raise
    try:
        yield _next_fence(fences, fd)
    finally:
        _release(fd, path)


def _release(fd: int, path: Path) -> None:
    """Remove the lock file while still holding it (a waiter that wins it then sees it is stale), then let go."""
    try:
        os.unlink(path)
    except OSError:
        pass  # gone already, or (without flock, on Windows) a file still open cannot be removed
    finally:
        _unlock(fd)


@contextmanager
def blocking_file_lock(path: Path) -> Iterator[None]:
    """Hold `path` for a short critical section (call from a worker thread)."""
    fd = _open(path)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        _unlock(fd)
