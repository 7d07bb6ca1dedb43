"""Tasks running in this process: their event logs, followers and cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from a2a.types import Task, TaskArtifactUpdateEvent, TaskStatusUpdateEvent

Event = Task | TaskStatusUpdateEvent | TaskArtifactUpdateEvent


class LiveTask:
    """The growing event log of one running task; any number of followers read it from the start."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        self.events: list[Event] = []
        self.handle: asyncio.Task[None] | None = None
        self.result: Task | None = None  # the task as it ended, for the SendMessage call waiting on it
        self.cancel_requested = False  # a client's CancelTask, as opposed to the host shutting down
        self.finished = asyncio.Event()
        self._changed = asyncio.Event()

    def append(self, event: Event) -> None:
        self.events.append(event)
        self._wake()

    def finish(self) -> None:
        self.finished.set()
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def follow(self) -> AsyncIterator[Event]:
        """Every event of the task, as it comes, until the task ends."""
        position = 0
        while True:
            while position < len(self.events):
                position += 1
                yield self.events[position - 1]
            if self.finished.is_set():
                return
            await self._changed.wait()


class LiveTasks:
    """The tasks this process runs, by id."""

    def __init__(self) -> None:
        self._runs: dict[str, LiveTask] = {}

    def start(self, task_id: str) -> LiveTask:
        run = LiveTask(task_id)
        self._runs[task_id] = run
        return run

    def get(self, task_id: str) -> LiveTask | None:
        return self._runs.get(task_id)

    def end(self, run: LiveTask) -> None:
        run.finish()
        if self._runs.get(run.task_id) is run:
            del self._runs[run.task_id]

    def __len__(self) -> int:
        return len(self._runs)
