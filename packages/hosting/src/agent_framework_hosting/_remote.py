"""What the stores kept on a server (Redis, PostgreSQL) share: their own URL options, outage handling, and
subscriptions to the server's notifications."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar, runtime_checkable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._errors import StateUnavailableError

logger = logging.getLogger("agent_framework.hosting")

T = TypeVar("T")
Handler = Callable[[str | None], Awaitable[None]]
"""Called with each message of a channel, and with None each time the subscription is (re)made."""
Subscribe = Callable[[str], AbstractAsyncContextManager[AsyncIterator[str | None]]]
"""Subscribes to a channel: its messages, with None first and after each resubscription the driver made itself."""


@runtime_checkable
class Signals(Protocol):
    """A shared store that carries messages between processes (Redis pub/sub, PostgreSQL NOTIFY)."""

    async def publish(self, channel: str, message: str) -> None: ...

    def listen(self, channel: str, handler: Handler) -> asyncio.Task[None]: ...


RESUBSCRIBE_MIN = 0.1
RESUBSCRIBE_MAX = 2.0
LISTEN_STOP_TIMEOUT = 5.0
SUBSCRIPTION_IDLE = 30.0
"""Seconds a subscription may stay silent before it is pinged; unanswered for as long again, it counts as dropped
(a load balancer's or NAT's idle timeout drops a connection without telling either end)."""


def spawn_detached(coroutine: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """A task in a fresh context: it outlives the turn that started it and must not carry that turn's leases."""
    return contextvars.Context().run(asyncio.get_running_loop().create_task, coroutine)


def split_own_options(url: str, names: Collection[str]) -> tuple[str, dict[str, str]]:
    """Take the store's own settings (`names`) out of `url`'s query; the rest stays for the driver."""
    parts = urlsplit(url)
    kept: list[tuple[str, str]] = []
    own: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in names:
            own[name] = value
        else:
            kept.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(kept))), own


class Outages:
    """Turns a server's connection errors into `StateUnavailableError`, logging each outage once."""

    def __init__(self, location: str, errors: tuple[type[BaseException], ...]) -> None:
        self.location = location
        self.errors = errors
        self.down = False

    async def guard(self, operation: Awaitable[T]) -> T:
        try:
            result = await operation
        except self.errors as error:
            if not self.down:
                logger.warning("state store %s is unavailable: %s", self.location, error)
            self.down = True
            raise StateUnavailableError("the state store is unavailable; retry shortly") from None
        if self.down:
            self.down = False
            logger.warning("state store %s is reachable again", self.location)
        return result


def _cancelling() -> bool:
    """Whether the running task has been asked to cancel (Python 3.11+; always False before)."""
    task = asyncio.current_task()
    return task is not None and bool(getattr(task, "cancelling", lambda: 0)())


class Listeners:
    """A store's subscriptions to its server's notification channels, each kept by a task until `aclose()`.

    A message sent while a subscription is down is lost, so the handler hears None each time the
    subscription is (re)made, and then checks the records the messages would have told it about.
    Only a broken connection makes the task try again (with backoff); an idle subscription costs one ping per
    `SUBSCRIPTION_IDLE`, which is how a connection dropped without a word is noticed.
    """

    def __init__(self, subscribe: Subscribe, errors: tuple[type[BaseException], ...]) -> None:
        self._subscribe = subscribe
        self._errors: tuple[type[BaseException], ...] = (*errors, StateUnavailableError)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def open(self) -> None:
        """Allow subscriptions again after `aclose()` (the store was opened again)."""
        self._closed = False

    def start(self, channel: str, handler: Handler) -> asyncio.Task[None]:
        """Subscribe in a task of its own; a closed store raises `StateUnavailableError` (nothing would close it)."""
        if self._closed:
            raise StateUnavailableError("the state store is closed")
        task = spawn_detached(self._listen(channel, handler))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _listen(self, channel: str, handler: Handler) -> None:
        delay = RESUBSCRIBE_MIN
        while True:
            try:
                async with self._subscribe(channel) as messages:
                    async for message in messages:
                        delay = RESUBSCRIBE_MIN
                        await handler(message)
            except self._errors as error:
                logger.debug("subscription to %s broke (%s); subscribing again in %.1f s", channel, error, delay)
            except Exception:
                logger.exception("subscription to %s failed; subscribing again in %.1f s", channel, delay)
            # A driver that fails while closing a subscription raises its own error in place of the cancellation
            # that was closing it: without these checks the task would subscribe again and never end.
            if self._closed or _cancelling():
                raise asyncio.CancelledError
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESUBSCRIBE_MAX)

    async def aclose(self) -> None:
        """Stop every subscription of the running event loop (those of a closed loop are dropped); no new ones until
        `open()`."""
        self._closed = True
        loop = asyncio.get_running_loop()
        tasks = [task for task in self._tasks if task.get_loop() is loop]
        for task in self._tasks - set(tasks):  # another loop's (still running: a closed one cancelled them itself)
            if not task.get_loop().is_closed():
                task.get_loop().call_soon_threadsafe(task.cancel)
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=LISTEN_STOP_TIMEOUT)


class Listening:
    """`listen()` of a store whose `listeners` keep its subscriptions and whose `_channel` names server channels."""

    listeners: Listeners

    def _channel(self, channel: str) -> str:
        raise NotImplementedError

    def listen(self, channel: str, handler: Handler) -> asyncio.Task[None]:
        """Call `handler` with each message published on `channel`, and with None whenever the subscription
        is (re)made (messages sent while it was down are lost); runs until this store closes."""
        return self.listeners.start(self._channel(channel), handler)
