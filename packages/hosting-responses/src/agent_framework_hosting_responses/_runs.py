"""Background responses running in this process: their event logs, followers and cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any


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
