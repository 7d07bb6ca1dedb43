"""Running turns: each conversation's current turn, so a newer message or `/stop` can interrupt it.

In one process the interrupt is immediate. With a shared store (Redis, PostgreSQL)
the turn also records itself under ``turn-running``; a stop from another process
writes ``turn-stop`` for the turn's id and publishes the id on the store's
``turn-stop`` channel (Redis pub/sub, PostgreSQL NOTIFY), which one subscription
per process hears. A stop published while the subscription was down is lost, so
each (re)subscription reads the stop records of the turns running here; and since a
connection can also be dropped without a word (an idle timeout, PgBouncer in
transaction mode), the stop signal is still read once per refresh tick while turns
run, so a lost push delays a stop by at most `TICK` (2.5 s). A shared store that
cannot publish is polled instead: one read of the stop signal per `WATCH_INTERVAL`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
from agent_framework import FunctionInvocationContext, FunctionMiddleware

from ._errors import StateUnavailableError
from ._remote import Signals, spawn_detached

if TYPE_CHECKING:
    from ._state import StateStore

logger = logging.getLogger("agent_framework.hosting")

RUNNING = "turn-running"
STOP = "turn-stop"
STOP_SIGNAL = "turn-stop-signal"
SIGNAL_KEY = "any"  # changes with every stop request: watchers read it, not each turn's stop record
WATCH_INTERVAL = 0.05
RUNNING_TTL = 15.0
TICK = RUNNING_TTL / 6  # with stops pushed: the watcher's interval (its safety-net read of the stop signal)
REFRESH_AGE = RUNNING_TTL / 3  # a running record older than this is refreshed at the next tick: at an age of at most
# REFRESH_AGE + TICK, and two failed writes in a row (a tick each) still leave it alive
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

    def end(self) -> None:
        """The turn is over: nothing is left to cancel (its callback refers back to the turn's stream)."""
        self._cancel = None

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


class _Running:
    """`RunningTurns.running`: a plain object rather than a generator, as every turn enters one."""

    __slots__ = ("_turns", "_control")

    def __init__(self, turns: RunningTurns, key: str) -> None:
        self._turns = turns
        self._control = TurnControl(key)

    async def __aenter__(self) -> TurnControl:
        try:
            await self._turns._start(self._control)
        except BaseException:  # cancelled while recording itself: leave nothing that says it runs
            await self._turns._end(self._control)
            raise
        return self._control

    async def __aexit__(self, *exc_info: object) -> None:
        await self._turns._end(self._control)


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
        # A store that publishes (Redis, PostgreSQL) pushes stops; any other shared store is polled.
        self._signals = state if self.shared and isinstance(state, Signals) else None
        self.pushed = self._signals is not None
        self._local: dict[str, TurnControl] = {}
        self._refreshed: dict[str, float] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self.subscribed = False
        """Whether the stop subscription was made (and the stop records it may have missed were read)."""
        # The stop signal as last read, kept from one watcher to the next: a stop always writes a new value (and an
        # absent signal means no stop record is left either), so only a change calls for reading the stop records.
        self._seen: object = None

    def __contains__(self, key: str) -> bool:
        return key in self._local

    def running(self, key: str) -> AbstractAsyncContextManager[TurnControl]:
        """Register the turn the caller is about to run for `key` (the caller holds the key's turn lock)."""
        return _Running(self, key)

    async def _start(self, control: TurnControl) -> None:
        self._local[control.key] = control
        if self.shared:
            self._listen()
            self._refreshed[control.id] = time.monotonic()
            try:
                await self.state.set(RUNNING, control.key, {"id": control.id}, ttl=RUNNING_TTL)
            except StateUnavailableError:
                logger.warning("could not record the running turn of %s; other processes cannot stop it", control.key)
            self._watch()

    async def _end(self, control: TurnControl) -> None:
        control.end()
        if self._local.get(control.key) is control:
            del self._local[control.key]
        if self.shared:
            self._refreshed.pop(control.id, None)
            with anyio.CancelScope(shield=True):
                await self._forget(control)

    async def _forget(self, control: TurnControl) -> None:
        try:
            await self.state.discard(RUNNING, control.key, match={"id": control.id})
        except StateUnavailableError:
            logger.debug("could not clear the running-turn record of %s", control.key)

    def _listen(self) -> None:
        """Subscribe to stops once for the process (again in a new event loop); the store keeps it until it closes."""
        listener, signals = self._listener, self._signals
        if signals is None:
            return
        if listener is None or listener.done() or listener.get_loop() is not asyncio.get_running_loop():
            try:
                self._listener = signals.listen(STOP, self._heard)
            except StateUnavailableError:  # the store is closed: the watcher's signal reads still see stops
                self._listener = None

    async def _heard(self, message: str | None) -> None:
        """A stop for the turn with id `message`; None: (re)subscribed, so read the stop records we may have missed."""
        if message is not None:
            for control in list(self._local.values()):
                if control.id == message:
                    control.interrupt()
            return
        await self._check_stops()
        self.subscribed = True

    async def _check_stops(self) -> None:
        for control in list(self._local.values()):
            if not control.requested and await self.state.get(STOP, control.key) == control.id:
                control.interrupt()

    def _watch(self) -> None:
        """Start the process's one watcher unless it runs (in a fresh context: it must not carry a turn's leases)."""
        if self._watcher is None or self._watcher.done():
            self._watcher = spawn_detached(self._watching())

    async def _watching(self) -> None:
        """While turns run here: read the stop signal (one read per interval for all of them; with stops pushed,
        the safety net for a push that was lost) and check the turns' stop records when it changed, and keep the
        turns' running records fresh."""
        interval = TICK if self.pushed else WATCH_INTERVAL
        while self._local:
            await asyncio.sleep(interval)
            try:
                signal = await self.state.get(STOP_SIGNAL, SIGNAL_KEY)
                if signal != self._seen:
                    await self._check_stops()
                    self._seen = signal  # the value read before the checks: a stop recorded after it changes it
                await self._refresh()
            except StateUnavailableError:
                continue

    async def _refresh(self) -> None:
        now = time.monotonic()
        for control in list(self._local.values()):
            if now - self._refreshed.get(control.id, now) < REFRESH_AGE:
                continue
            await self.state.set(RUNNING, control.key, {"id": control.id}, ttl=RUNNING_TTL)
            if self._local.get(control.key) is control:
                self._refreshed[control.id] = now
            else:  # the turn ended during the write, which may have landed after its record was cleared
                await self._forget(control)

    async def aclose(self) -> None:
        """Wait for the watcher to notice that no turn runs any more (it stops by itself); the subscription is the
        store's, which closes it."""
        self._listener = None
        watcher, self._watcher = self._watcher, None
        if watcher is not None and watcher.get_loop() is asyncio.get_running_loop():  # (another loop's: it ended)
            if self.pushed:
                watcher.cancel()  # it only sleeps between refreshes
            done, _ = await asyncio.wait({watcher}, timeout=WATCH_STOP_TIMEOUT)
            if not done:
                watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    async def interrupt(self, key: str) -> bool:
        """Interrupt the turn running for `key`, here or in another process; False when none runs."""
        local = self._local.get(key)
        if local is not None:
            local.interrupt()
            return True
        if not self.shared:
            return False
        running = await self.state.get(RUNNING, key)
        if isinstance(running, dict):
            running = running.get("id")
        if not isinstance(running, str):  # (a plain id: written by an older version)
            return False
        # The record first: a process whose subscription is being remade reads it once subscribed again.
        await self.state.set(STOP, key, running, ttl=RUNNING_TTL)
        if self._signals is not None:
            await self._signals.publish(STOP, running)
        # The polled signal too, for processes of an older version (during a rolling upgrade) and stores without push.
        await self.state.set(STOP_SIGNAL, SIGNAL_KEY, uuid.uuid4().hex, ttl=RUNNING_TTL)
        return True
