"""`Handoff`: a bounded queue from one producer task to one consumer task."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Handoff(Generic[T]):
    """What `asyncio.Queue` does for one producer and one consumer, with one waiter per side.

    A streamed turn hands every update over once; `asyncio.Queue` serves any number of
    waiters and spends several Python calls on each put and get, which a turn pays per update.
    """

    __slots__ = ("_items", "_limit", "_getter", "_putter")

    def __init__(self, limit: int) -> None:
        self._items: deque[T] = deque()
        self._limit = limit
        self._getter: asyncio.Future[None] | None = None
        self._putter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, item: T) -> None:
        """Add `item`, first waiting while `limit` items are ready."""
        while len(self._items) >= self._limit:
            self._putter = asyncio.get_running_loop().create_future()
            try:
                await self._putter
            finally:
                self._putter = None
        self._items.append(item)
        _wake(self._getter)

    async def get(self) -> T:
        """The oldest item, waiting for one when none is ready."""
        while not self._items:
            self._getter = asyncio.get_running_loop().create_future()
            try:
                await self._getter
            finally:
                self._getter = None
        return self.get_nowait()

    def get_nowait(self) -> T:
        """The oldest item; `IndexError` when none is ready."""
        item = self._items.popleft()
        _wake(self._putter)
        return item


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)
