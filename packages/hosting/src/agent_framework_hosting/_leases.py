"""Leases shared by processes through a database: turn locks with fencing, and leader election.

A backend (PostgreSQL rows, Redis keys) supplies three atomic operations (`try_acquire`, `renew`, `release`);
this module adds waiting, background renewal, the leases the current task holds
(for fenced writes) and leader terms.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol

import anyio

from ._errors import SessionBusyError, StateUnavailableError
from ._state import KeyedLocks

logger = logging.getLogger("agent_framework.hosting")

POLL_MIN = 0.005
POLL_MAX = 0.1
RELEASE_TIMEOUT = 5.0


@dataclass(eq=False)
class SharedLease:
    """A held lease: its owner `token`, its `fence` (grows with every acquisition), and whether it may be lost."""

    owner: object
    name: str
    token: str
    fence: int
    ttl: float
    expires_at: float
    lost: bool = False
    released: bool = field(default=False)


class LeaseBackend(Protocol):
    """The atomic lease operations of a shared store."""

    async def try_acquire(self, name: str, ttl: float) -> tuple[str, int] | None:
        """Take `name` for `ttl` seconds when free or lapsed: (token, fence), or None when held."""
        ...

    async def renew(self, name: str, token: str, ttl: float) -> bool: ...

    async def release(self, name: str, token: str) -> None: ...


_HELD: ContextVar[tuple[SharedLease, ...]] = ContextVar("afh_shared_leases", default=())


def held_by(owner: object) -> list[SharedLease]:
    """The leases the current task holds from `owner` (a store), for fencing its writes."""
    return [lease for lease in _HELD.get() if lease.owner is owner and not lease.released]


class Leases:
    """Locks and leader terms over a `LeaseBackend`; in-process waiters queue locally first."""

    def __init__(self, owner: object, backend: LeaseBackend) -> None:
        self.owner = owner
        self.backend = backend
        self._local = KeyedLocks()

    async def try_acquire(self, name: str, ttl: float) -> SharedLease | None:
        started = time.monotonic()
        taken = await self.backend.try_acquire(name, ttl)
        if taken is None:
            return None
        return SharedLease(self.owner, name, taken[0], taken[1], ttl, started + ttl)

    @asynccontextmanager
    async def hold(self, name: str, ttl: float, *, wait: float | None) -> AsyncIterator[SharedLease]:
        """Hold `name` (renewed while held); `SessionBusyError` after waiting `wait` seconds."""
        deadline = None if wait is None else time.monotonic() + wait
        async with self._local.hold(name, wait=wait):
            lease = await self._acquire(name, ttl, deadline)
            renewal = asyncio.ensure_future(self.keep(lease))
            _HELD.set((*_HELD.get(), lease))
            try:
                yield lease
            finally:
                lease.released = True
                _HELD.set(tuple(held for held in _HELD.get() if held is not lease))
                renewal.cancel()
                with anyio.move_on_after(RELEASE_TIMEOUT, shield=True):
                    await asyncio.gather(renewal, return_exceptions=True)
                    await self.release(lease)

    async def _acquire(self, name: str, ttl: float, deadline: float | None) -> SharedLease:
        delay = POLL_MIN
        while True:
            lease = await self.try_acquire(name, ttl)
            if lease is not None:
                return lease
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                raise SessionBusyError(f"{name!r} is busy with another turn")
            pause = delay * (0.5 + random.random())
            await asyncio.sleep(pause if deadline is None else min(pause, deadline - now))
            delay = min(delay * 2, POLL_MAX)

    async def renew(self, lease: SharedLease) -> bool:
        started = time.monotonic()
        renewed = await self.backend.renew(lease.name, lease.token, lease.ttl)
        if renewed:
            lease.expires_at = started + lease.ttl
        return renewed

    async def keep(self, lease: SharedLease) -> None:
        """Renew `lease` every third of its ttl until released, cancelled or lost."""
        # `released` as well as the cancel: redis-py can swallow a cancellation (its `can_read` under asyncio.timeout).
        while not lease.released:
            await asyncio.sleep(lease.ttl / 3)
            try:
                if await self.renew(lease):
                    continue
            except StateUnavailableError:
                if time.monotonic() < lease.expires_at:
                    continue
            lease.lost = True
            logger.warning("lost the lease %s; another process may take it over", lease.name)
            return

    async def release(self, lease: SharedLease) -> None:
        try:
            await self.backend.release(lease.name, lease.token)
        except StateUnavailableError:
            logger.warning("could not release %s; it expires within %.0f s", lease.name, lease.ttl)


class Leader:
    """Leader election by lease: `acquire()` becomes or stays leader, `release()` steps down.

    Call ``await leader.acquire()`` before each unit of leader-only work; while
    leading, the lease is renewed in the background, yet a process that dies
    loses leadership within `ttl` seconds. Store trouble reads as "not leader".
    """

    def __init__(self, leases: Leases, name: str, ttl: float) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.leases = leases
        self.name = name
        self.ttl = ttl
        self._lease: SharedLease | None = None
        self._keeper: asyncio.Future[None] | None = None

    @property
    def is_leader(self) -> bool:
        lease = self._lease
        return lease is not None and not lease.lost and time.monotonic() < lease.expires_at

    @property
    def fence(self) -> int | None:
        return self._lease.fence if self._lease is not None else None

    async def acquire(self) -> bool:
        try:
            if self._lease is not None and await self.renew():
                return True
            lease = await self.leases.try_acquire(self.name, self.ttl)
        except StateUnavailableError:
            return False
        if lease is not None:
            self._lease = lease
            self._keeper = asyncio.ensure_future(self.leases.keep(lease))
        return lease is not None

    async def renew(self) -> bool:
        lease = self._lease
        if lease is None:
            return False
        if not lease.lost and await self.leases.renew(lease):
            return True
        self._lease = None
        await self._stop_keeper()
        return False

    async def release(self) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            lease.released = True
        await self._stop_keeper()
        if lease is not None:
            await self.leases.release(lease)

    async def _stop_keeper(self) -> None:
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

    async def __aenter__(self) -> Leader:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        with anyio.move_on_after(RELEASE_TIMEOUT, shield=True):
            await self.release()
