"""Running turns: each conversation's current turn, so a newer message or `/stop` can interrupt it.

In one process the interrupt is immediate. With a shared store (Redis) the turn
also records itself under ``turn-running`` and watches ``turn-stop`` for its own
id, so a process that does not run the turn can still stop it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
from agent_framework import FunctionInvocationContext, FunctionMiddleware

from ._errors import StateUnavailableError

if TYPE_CHECKING:
    from ._state import StateStore

logger = logging.getLogger("agent_framework.hosting")

RUNNING = "turn-running"
STOP = "turn-stop"
WATCH_INTERVAL = 0.05
RUNNING_TTL = 15.0
WATCH_STOP_TIMEOUT = 5.0


class TurnControl:
    """One running turn. `interrupt()` cancels it, but never while a tool call is in flight."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.requested = False
        self._tools = 0
        self._cancel: Callable[[], Any] | None = None

    @functools.cached_property
    def id(self) -> str:
        """A unique id, made when first asked for (only a shared store names turns by id)."""
        return uuid.uuid4().hex

    def bind(self, cancel: Callable[[], Any]) -> None:
        """Say how to cancel the turn's work; fires at once when an interrupt is already pending."""
        self._cancel = cancel
        self._fire()

    def interrupt(self) -> None:
        self.requested = True
        self._fire()

    def _fire(self) -> None:
        if self.requested and self._tools == 0 and self._cancel is not None:
            cancel, self._cancel = self._cancel, None
            cancel()

    @asynccontextmanager
    async def tool_call(self) -> AsyncIterator[None]:
        """A tool call has side effects: an interrupt that arrives meanwhile waits for it to finish."""
        self._tools += 1
        try:
            yield
        finally:
            self._tools -= 1
            self._fire()


class ToolGuard(FunctionMiddleware):
    """Function middleware that holds a turn's interrupt until the tool call in flight returns."""

    def __init__(self, control: TurnControl) -> None:
        self.control = control

    async def process(self, context: FunctionInvocationContext, call_next: Callable[[], Awaitable[None]]) -> None:
        async with self.control.tool_call():
            await call_next()


class RunningTurns:
    """The turns running in this process, and the stop signals to turns running elsewhere."""

    def __init__(self, state: StateStore) -> None:
        self.state = state
        self.shared = bool(getattr(state, "shared", False))
        self._local: dict[str, TurnControl] = {}

    def __contains__(self, key: str) -> bool:
        return key in self._local

    def running(self, key: str) -> AbstractAsyncContextManager[TurnControl]:
        """Register the turn the caller is about to run for `key` (the caller holds the key's turn lock)."""
        return self._running_shared(key) if self.shared else _LocalTurn(self._local, key)

    @asynccontextmanager
    async def _running_shared(self, key: str) -> AsyncIterator[TurnControl]:
        control = TurnControl(key)
        self._local[key] = control
        done = asyncio.Event()
        try:
            await self.state.set(RUNNING, key, control.id, ttl=RUNNING_TTL)
        except StateUnavailableError:
            logger.warning("could not record the running turn of %s; other processes cannot stop it", key)
        watcher = asyncio.ensure_future(self._watch(control, done))
        try:
            yield control
        finally:
            if self._local.get(key) is control:
                del self._local[key]
            # Let the watcher finish its read rather than cancel it mid-command (that costs the connection).
            done.set()
            with anyio.CancelScope(shield=True):
                await asyncio.wait({watcher}, timeout=WATCH_STOP_TIMEOUT)
                if not watcher.done():
                    watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
                await self._forget(control)

    async def _forget(self, control: TurnControl) -> None:
        try:
            if await self.state.get(RUNNING, control.key) == control.id:
                await self.state.delete(RUNNING, control.key)
        except StateUnavailableError:
            logger.debug("could not clear the running-turn record of %s", control.key)

    async def _watch(self, control: TurnControl, done: asyncio.Event) -> None:
        """Poll the shared store for a stop signal naming this turn (until `done`); keep its running record fresh."""
        refreshed = time.monotonic()
        while not control.requested:
            try:
                await asyncio.wait_for(done.wait(), WATCH_INTERVAL)
                return
            except asyncio.TimeoutError:
                pass
            try:
                if await self.state.get(STOP, control.key) == control.id:
                    control.interrupt()
                    return
                if time.monotonic() - refreshed > RUNNING_TTL / 3:
                    await self.state.set(RUNNING, control.key, control.id, ttl=RUNNING_TTL)
                    refreshed = time.monotonic()
            except StateUnavailableError:
                continue

    async def interrupt(self, key: str) -> bool:
        """Interrupt the turn running for `key`, here or in another process; False when none runs."""
        local = self._local.get(key)
        if local is not None:
            local.interrupt()
            return True
        if not self.shared:
            return False
        running = await self.state.get(RUNNING, key)
        if not isinstance(running, str):
            return False
        await self.state.set(STOP, key, running, ttl=RUNNING_TTL)
        return True


class _LocalTurn:
    """`RunningTurns.running` without a shared store: a dict entry, no generator (it runs once per turn)."""

    __slots__ = ("_control", "_local")

    def __init__(self, local: dict[str, TurnControl], key: str) -> None:
        self._local = local
        self._control = TurnControl(key)

    async def __aenter__(self) -> TurnControl:
        self._local[self._control.key] = self._control
        return self._control

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._local.get(self._control.key) is self._control:
            del self._local[self._control.key]
