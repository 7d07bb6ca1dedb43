"""One live-edit loop for channels that show a streamed answer by sending or editing a message as it grows.

A platform plugs in with one coroutine, `show(text)`, that puts ALL the text so
far on screen (send the first time, edit after; a Teams streaming chunk; a
Telegram draft). It returns None, or a number of seconds to hold further
updates (a 429's ``retry_after``; `STOP` ends live updates for this answer).
The loop calls it from its own task, never two at once, at most once per
`min_interval`; `add()` never waits, so a slow platform never holds back the
agent's stream, and text that arrives while a call is in flight is coalesced
into the next one::

    async with LiveEdit(show, min_interval=1.0, limit=4096) as live:
        async for update in stream:
            live.add(update.text)
    await live.flush()           # the last edit is the final answer; or, to send a final message yourself:
    # await live.settle()        # keep the platform's pace, then
    # await send_final(live.text)

Leaving the block stops live updates and waits for the call in flight, so an
interim edit can never land after the final answer.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from types import TracebackType

import anyio
from anyio.abc import TaskGroup

ShowText = Callable[[str], Awaitable["float | None"]]
STOP = math.inf
"""Returned by `show` to end live updates for this answer (the platform refused the stream)."""

logger = logging.getLogger("agent_framework.hosting.streaming")


class EditThrottle:
    """Accumulates streamed text and tells when the next edit is due (at most one per `min_interval`)."""

    def __init__(self, min_interval: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.min_interval = min_interval
        self._clock = clock
        self._parts: list[str] = []
        self._sent = ""
        self._last = float("-inf")

    def add(self, text: str) -> None:
        if text:
            self._parts.append(text)

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def sent(self) -> str:
        """The text of the last edit that was made."""
        return self._sent

    @property
    def last(self) -> float:
        """When the last edit was made (the clock's time)."""
        return self._last

    @property
    def pending(self) -> bool:
        """Whether there is text the last edit did not show."""
        return self.text.strip() != self._sent.strip()

    def due(self) -> bool:
        """True when there is new text and `min_interval` has passed since the last edit."""
        return self.pending and self._clock() - self._last >= self.min_interval

    def mark_sent(self, text: str | None = None) -> None:
        self._sent = self.text if text is None else text
        self._last = self._clock()


class LiveEdit:
    """Shows a growing text through `show`, from one background task, paced and coalesced.

    `min_interval` is the platform's minimum time between two calls; `limit`
    (characters, None for none) ends live updates once the text outgrows it,
    leaving the rest to the channel's final send. A `show` that raises is
    logged and the next update tries again.
    """

    def __init__(
        self,
        show: ShowText,
        *,
        min_interval: float,
        limit: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._show = show
        self._throttle = EditThrottle(min_interval, clock=clock)
        self._limit = limit
        self._clock = clock
        self._hold_until = float("-inf")
        self._wake = anyio.Event()
        self._closed = False
        self._stopped = False
        self._group: TaskGroup | None = None

    @property
    def text(self) -> str:
        """All text added so far."""
        return self._throttle.text

    @property
    def shown(self) -> str:
        """The text of the last call to `show`."""
        return self._throttle.sent

    @property
    def stopped(self) -> bool:
        """True once live updates ended early (`show` returned `STOP`, or the text outgrew `limit`)."""
        return self._stopped

    def add(self, text: str) -> None:
        """Append streamed text; returns at once (the loop shows it when the platform's pace allows)."""
        if not text or self._closed:
            return
        self._throttle.add(text)
        self._wake.set()

    async def __aenter__(self) -> LiveEdit:
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._run)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> bool | None:
        self._closed = True
        self._wake.set()
        assert self._group is not None
        if kind is not None and not isinstance(error, Exception):
            # Cancelled (or interrupted): cancel the call in flight with everything else.
            return await self._group.__aexit__(kind, error, traceback)
        # Otherwise let the call in flight finish, so it cannot land after the final answer
        # (the loop sees `_closed` and ends after it; a cancellation meanwhile cancels it too).
        await self._group.__aexit__(None, None, None)
        return None

    async def settle(self, *, interval: bool = True) -> None:
        """Wait until the platform's pace allows another call: past any hold and (with `interval`) the interval."""
        paced = self._throttle.last + self._throttle.min_interval if interval else float("-inf")
        ready = max(paced, self._hold_until)
        wait = ready - self._clock()
        if wait > 0:
            await anyio.sleep(wait)

    async def flush(self) -> bool:
        """After the block: make the last call show all the text, at the platform's pace.

        For platforms whose final answer is just the last edit. False when it
        cannot (live updates stopped, the text outgrew `limit`, or the call
        failed): the channel then sends the final text its own way.
        """
        if self._stopped or (self._limit is not None and len(self.text) > self._limit):
            return False
        if not self._throttle.pending:
            return True
        await self.settle()
        return await self._show_now()

    async def _run(self) -> None:
        while not self._closed and not self._stopped:
            wait = self._next_wait()
            if wait is None:
                await self._wake.wait()
                self._wake = anyio.Event()
                continue
            if wait > 0:
                with anyio.move_on_after(wait):
                    await self._wake.wait()
                if self._wake.is_set():
                    self._wake = anyio.Event()
                continue
            await self._show_now()

    def _next_wait(self) -> float | None:
        """Seconds until the next call is due; None when there is nothing new to show."""
        if not self._throttle.pending:
            return None
        now = self._clock()
        ready = max(self._throttle.last + self._throttle.min_interval, self._hold_until)
        return max(0.0, ready - now)

    async def _show_now(self) -> bool:
        text = self._throttle.text
        if self._limit is not None and len(text) > self._limit:
            self._stopped = True
            return False
        shown = True
        try:
            hold = await self._show(text)
        except Exception:
            logger.exception("a live update failed")
            hold, shown = None, False
        # The interval runs from the end of a call: a slow platform is not sent a burst after it.
        self._throttle.mark_sent(text)
        if hold is not None and hold > 0:
            if hold == STOP:
                self._stopped = True
                return False
            self._hold_until = self._clock() + hold
        return shown
