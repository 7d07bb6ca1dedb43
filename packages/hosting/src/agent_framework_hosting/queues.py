"""Running a channel's work one conversation at a time, in arrival order, conversations in parallel."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

logger = logging.getLogger("agent_framework.hosting")
Job = Callable[[], Awaitable[None]]
Spawn = Callable[[Coroutine[Any, Any, Any]], Any]


class ConversationQueues:
    """Runs jobs in submission order per key; different keys run concurrently.

    A key's worker exists only while it has work, so memory is bounded by the
    number of busy conversations. Jobs handle their own errors; anything that
    escapes is logged and the next job runs.
    """

    def __init__(self, spawn: Spawn, *, label: str = "channel") -> None:
        self._spawn = spawn
        self._label = label
        self._queues: dict[str, deque[Job]] = {}

    def submit(self, key: str | None, job: Job) -> None:
        if key is None:
            self._spawn(self._run(job))
            return
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(job)
            return
        self._queues[key] = deque([job])
        self._spawn(self._drain(key))

    def busy(self) -> int:
        """How many conversations have work queued or running."""
        return len(self._queues)

    async def _drain(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue:
                await self._run(queue[0])
                queue.popleft()
        finally:
            # Only reached early when the worker is cancelled (shutdown): say what is dropped.
            if len(queue) > 1:
                logger.warning("%s: dropping %d queued job(s) for %s", self._label, len(queue) - 1, key)
            del self._queues[key]

    async def _run(self, job: Job) -> None:
        try:
            await job()
        except Exception:
            logger.exception("%s: a queued job failed", self._label)
