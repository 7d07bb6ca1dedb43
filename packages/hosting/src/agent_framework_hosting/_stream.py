"""`HostedStream`: a streamed turn that persists and releases its session however it ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from agent_framework import AgentResponse, AgentResponseUpdate

from ._errors import HostingError
from ._handoff import Handoff
from ._hooks import maybe_await
from ._telemetry import TurnTrace
from ._types import ChannelRequest, ChannelStreamUpdateHook, HostedRunResult

STOP_GRACE_SECONDS = 5.0
RUN_AHEAD = 16
"""How many updates the target may produce ahead of the consumer (a slow client holds the run back past that)."""
FinalResult = Callable[[], Awaitable[Any]]
"""Awaits the target's final result once its updates are consumed."""
CloseRun = Callable[[BaseException | None], Awaitable[None]]
"""Stops the target's run early (the error that stopped it, if any)."""
_END = object()
_INTERRUPTED = object()


class StreamAbandoned(HostingError):
    """The consumer stopped reading before the stream finished."""

    status_code = 499
    code = "client_closed_request"
    public_message = "the client stopped reading the answer"


class HostedStream:
    """Async-iterable over `AgentResponseUpdate`s, with `get_final_response()`.

    The target's stream runs in one pump task (so its context variables and
    spans stay consistent) and hands updates over through a short queue: the
    target may run up to `RUN_AHEAD` updates ahead of the consumer, which then
    takes what is ready without waiting (`pending` tells a channel that more is
    ready, so it can write it in one go). The run holds its session until the stream
    is consumed, `get_final_response()` returns, or `aclose()` is called; a
    consumer that is cancelled (a disconnecting client) stops the run after the
    step in flight, and what the turn produced so far is persisted.
    """

    def __init__(
        self,
        updates: AsyncIterator[AgentResponseUpdate],
        *,
        final: FinalResult,
        close: CloseRun,
        finish: Callable[[Any, BaseException | None], Awaitable[HostedRunResult[Any]]],
        trace: TurnTrace,
        update_hook: ChannelStreamUpdateHook | None = None,
        request: ChannelRequest | None = None,
    ) -> None:
        #: The request that runs (after the run hook; its session key is the one used).
        self.request = request
        self._updates = updates
        self._final = final
        self._close = close
        self._finish_turn = finish
        self._trace = trace
        self._update_hook = update_hook
        # Bounded: a target faster than its consumer waits for it once RUN_AHEAD updates are ready.
        self._queue: Handoff[Any] = Handoff(RUN_AHEAD)
        self._stop = False
        self._pump: asyncio.Task[Any] | None = None
        self._iterated = False
        self._done = False
        self._result: HostedRunResult[Any] | None = None
        self._interrupted = False
        self._forwarded = False
        self._sent: list[AgentResponseUpdate] = []
        self._ready = 0  # updates in the queue

    @property
    def result(self) -> HostedRunResult[Any] | None:
        """The hooked final result, once the stream has finished."""
        return self._result

    @property
    def session(self) -> Any:
        return None if self._result is None else self._result.session

    def _start(self) -> asyncio.Task[Any]:
        if self._pump is None:
            token = self._trace.attach()
            try:
                self._pump = asyncio.get_running_loop().create_task(self._run_pump())
            finally:
                self._trace.detach(token)
        return self._pump

    @property
    def pending(self) -> bool:
        """Whether the target's next update is ready now: reading it will not wait for the target."""
        return self._ready > 0

    @property
    def interrupted(self) -> bool:
        """Whether the turn was interrupted (`interrupt` policy or a stop request) before it finished."""
        return self._interrupted and not self._forwarded

    def interrupt(self) -> None:
        """Cancel the run now: the stream ends early and its final response is the partial answer."""
        if self._done or self._stop or self._interrupted or self._forwarded:
            return
        self._interrupted = True
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()

    async def _run_pump(self) -> Any:
        try:
            try:
                finished = await self._forward() if not self._interrupted else False
            except asyncio.CancelledError:
                if not self._interrupted:
                    raise
                _uncancel()
                finished = False
            if not finished:
                await self._close(None)
                return _INTERRUPTED if self._interrupted else None
            self._forwarded = True
            return await self._final()
        finally:
            if not self._stop:
                await self._queue.put(_END)

    async def _forward(self) -> bool:
        """Hand the target's updates to the consumer; False when stopped early."""
        async for update in self._updates:
            if self._stop:
                return False
            self._sent.append(update)
            await self._queue.put(update)
            self._ready += 1
            if self._stop:  # the consumer left while we waited for room to hand this update over
                return False
            if len(self._sent) == 1:
                await asyncio.sleep(0)  # the first update goes out at once, not after what the target has ready next
        return True

    def __aiter__(self) -> AsyncIterator[AgentResponseUpdate]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[AgentResponseUpdate]:
        if self._iterated or self._done:
            raise RuntimeError("a HostedStream can be iterated only once")
        self._iterated = True
        self._start()
        try:
            while True:
                update = await self._queue.get()
                if update is _END:
                    break
                self._ready -= 1
                if self._update_hook is not None:
                    update = await maybe_await(self._update_hook(update))
                    if update is None:
                        continue
                self._trace.first_update()
                yield update
        except BaseException as error:
            with anyio.CancelScope(shield=True):
                await self._abandon(error)
            raise
        await self.get_final_response()

    async def get_final_response(self) -> Any:
        """Finish the run (draining what is left) and return the target's final result."""
        if self._result is not None:
            return self._result.result
        if self._done:
            raise RuntimeError("the stream was closed before it finished")
        pump = self._start()
        try:
            while not pump.done():
                if await self._queue.get() is _END:
                    break
            final = await asyncio.shield(pump)
        except asyncio.CancelledError as error:
            with anyio.CancelScope(shield=True):
                await self._abandon(error)
            raise
        except BaseException as error:
            self._done = True
            with anyio.CancelScope(shield=True):
                await self._finish_turn(None, error)
            self._release()
            raise
        self._done = True
        if final is _INTERRUPTED:
            final = AgentResponse.from_updates(self._sent)
            final.additional_properties = {**(final.additional_properties or {}), "hosting": {"interrupted": True}}
        self._result = await self._finish_turn(final, None)
        self._release()
        return self._result.result

    async def _abandon(self, error: BaseException) -> None:
        if self._done:
            return
        self._done = True
        self._stop = True
        reason = error if isinstance(error, Exception) else StreamAbandoned()
        try:
            await self._stop_pump()
        finally:
            await self._finish_turn(None, reason)
            self._release()

    def _release(self) -> None:
        """Drop the run's callbacks once its turn is finished. They refer back to this stream (its turn's
        closures hold it), so keeping them would leave the whole turn to the garbage collector's cycle
        search rather than freeing it when the response is done."""
        self._updates = _spent_updates()
        self._final = self._close = self._finish_turn = _spent
        self._update_hook = None

    async def _stop_pump(self) -> None:
        pump = self._pump
        if pump is None:
            await self._close(None)
            return
        # Free a slot so a pump blocked in put() wakes, sees _stop and closes the run itself (in its
        # own task, where the target's context lives); only a pump that does not stop in time is cancelled.
        if self._queue:
            self._queue.get_nowait()
        await asyncio.wait({pump}, timeout=STOP_GRACE_SECONDS)
        if not pump.done():
            pump.cancel()
            await asyncio.wait({pump})
        if not pump.cancelled():
            pump.exception()

    async def aclose(self) -> None:
        """Stop the run early: keep what it produced so far and release the session."""
        if self._done:  # finished or closed already (the common case, after a whole answer)
            return
        with anyio.CancelScope(shield=True):
            await self._abandon(StreamAbandoned())

    def __await__(self) -> Any:
        return self.get_final_response().__await__()


async def _spent(*args: Any) -> Any:
    raise RuntimeError("the stream's turn is finished")


async def _spent_updates() -> AsyncIterator[AgentResponseUpdate]:
    raise RuntimeError("the stream's turn is finished")
    yield


def _uncancel() -> None:
    """Clear the pending cancellation of the current task (Python 3.11+), so cleanup can await."""
    task = asyncio.current_task()
    uncancel = getattr(task, "uncancel", None)
    if callable(uncancel):
        uncancel()
