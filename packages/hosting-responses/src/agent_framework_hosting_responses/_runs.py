"""Responses running in this process: background event logs and followers, and deliveries into open streams."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import anyio

T = TypeVar("T")


class LiveRun:
    """The growing event log of one background response; followers wait for more."""

    def __init__(self, response_id: str) -> None:
        self.response_id = response_id
        self.events: list[dict[str, Any]] = []
        self.done = False
        self.cancel_requested = False
        self.task: asyncio.Future[Any] | None = None
        self._changed = asyncio.Event()
        self.finished = asyncio.Event()

    def append(self, events: list[dict[str, Any]]) -> None:
        if events:
            self.events.extend(events)
            self._wake()

    def finish(self) -> None:
        self.done = True
        self.finished.set()
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def follow(self, starting_after: int | None) -> AsyncIterator[dict[str, Any]]:
        """Events with a sequence number above `starting_after`, as they come, until the run ends."""
        position = 0
        while True:
            while position < len(self.events):
                event = self.events[position]
                position += 1
                if starting_after is None or event["sequence_number"] > starting_after:
                    yield event
            if self.done:
                return
            await self._changed.wait()


class LiveRuns:
    """The background responses this process is running, by response id."""

    def __init__(self) -> None:
        self._runs: dict[str, LiveRun] = {}

    def start(self, response_id: str) -> LiveRun:
        run = LiveRun(response_id)
        self._runs[response_id] = run
        return run

    def get(self, response_id: str) -> LiveRun | None:
        return self._runs.get(response_id)

    def end(self, run: LiveRun) -> None:
        run.finish()
        if self._runs.get(run.response_id) is run:
            del self._runs[run.response_id]

    def __len__(self) -> int:
        return len(self._runs)


Listener = Callable[[dict[str, Any]], None]


class OpenStreams:
    """The responses running in each conversation of this process, so a delivered message reaches them."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[Listener]] = {}

    @contextlib.contextmanager
    def open(self, conversation_id: str | None, listener: Listener) -> Iterator[None]:
        """Hand `listener` every message item delivered into the conversation until the block ends."""
        if conversation_id is None:
            yield
            return
        self._listeners.setdefault(conversation_id, []).append(listener)
        try:
            yield
        finally:
            listeners = self._listeners[conversation_id]
            listeners.remove(listener)
            if not listeners:
                del self._listeners[conversation_id]

    def deliver(self, conversation_id: str, item: dict[str, Any]) -> int:
        """Give `item` to every response running in the conversation; how many there were."""
        listeners = list(self._listeners.get(conversation_id, ()))
        for listener in listeners:
            listener(item)
        return len(listeners)


class Inbox:
    """Events of delivered messages waiting for a foreground stream to send them."""

    def __init__(self) -> None:
        self._events: list[dict[str, Any]] = []
        self._waiter: asyncio.Future[None] | None = None

    def put(self, events: list[dict[str, Any]]) -> None:
        if events:
            self._events.extend(events)
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(None)

    def take(self) -> list[dict[str, Any]]:
        events, self._events = self._events, []
        return events

    def waiter(self) -> asyncio.Future[None]:
        """A future that is done once there are events to take."""
        if self._waiter is None or (self._waiter.done() and not self._events):
            self._waiter = asyncio.get_running_loop().create_future()
        if self._events and not self._waiter.done():
            self._waiter.set_result(None)
        return self._waiter


_END = object()


async def _next(iterator: AsyncIterator[T]) -> T | object:
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return _END


async def interleaved(updates: AsyncIterable[T], inbox: Inbox) -> AsyncIterator[T | list[dict[str, Any]]]:
    """`updates`, with the inbox's event batches in between as soon as they arrive (not after the next update).

    One `__anext__` is kept in flight across deliveries: cancelling it would abandon the run.
    """
    iterator = aiter(updates)
    pending: asyncio.Task[T | object] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(_next(iterator))
            waiting: set[asyncio.Future[Any]] = {pending, inbox.waiter()}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            delivered = inbox.take()
            if delivered:
                yield delivered
            if pending.done():
                step, pending = pending, None
                update = step.result()
                if update is _END:
                    return
                yield update  # type: ignore[misc]
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with anyio.CancelScope(shield=True):
                await asyncio.wait({pending})
