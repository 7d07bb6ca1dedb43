"""Cross-process locks on one machine: `fcntl.flock` on a lock file, with a fencing counter.

The kernel drops a flock when its process dies, so a crashed holder frees its
locks at once, and a stalled holder keeps them: a lock is never taken over
while its holder lives, which is what makes writes under it fenced.
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


def _next_fence(fd: int) -> int:
    """Bump the counter stored in the (held) lock file and return it.

    Written fixed-width in place (one `pwrite`, no truncate): the counter only grows, so it never
    leaves a longer old number behind, and files holding a shorter older number read the same.
    """
    raw = os.pread(fd, 32, 0).strip()
    fence = (int(raw) if raw.isdigit() else 0) + 1
    os.pwrite(fd, b"%020d" % fence, 0)
    return fence


@asynccontextmanager
async def file_lock(path: Path, *, name: str, wait: float | None = None) -> AsyncIterator[int]:
    """Hold `path` exclusively across processes; yields the lock's fencing number.

    Polls with a non-blocking flock so waiting stays cancellable; raises
    `SessionBusyError` after `wait` seconds (None: no limit).
    """
    fd = _open(path)
    deadline = None if wait is None else time.monotonic() + wait
    delay = POLL_MIN
    try:
        while not _try_lock(fd):
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise SessionBusyError(f"{name!r} is busy with another turn")
            pause = delay * (0.5 + random.random())
            await asyncio.sleep(pause if deadline is None else min(pause, deadline - now))
            delay = min(delay * 2, POLL_MAX)
    except BaseException:
        os.close(fd)
        raise
    try:
        yield _next_fence(fd)
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
