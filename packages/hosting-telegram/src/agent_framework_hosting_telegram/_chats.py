"""Running updates one chat at a time, chats in parallel, with no idle per-chat state."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

logger = logging.getLogger("agent_framework.hosting.telegram")
Job = Callable[[], Awaitable[None]]
Spawn = Callable[[Coroutine[Any, Any, Any]], Any]


class ChatQueues:
    """Runs jobs in submission order per chat key; different keys run concurrently.

    A chat's worker exists only while it has work, so memory is bounded by the
    number of busy chats. Jobs handle their own errors; anything that escapes is logged.
    """

    def __init__(self, spawn: Spawn) -> None:
        self._spawn = spawn
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
        """How many chats have work queued or running."""
        return len(self._queues)

    async def _drain(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue:
                await self._run(queue[0])
                queue.popleft()
        finally:
            if len(queue) > 1:
                logger.warning("telegram: dropping %d queued update(s) for chat %s", len(queue) - 1, key)
            del self._queues[key]

    @staticmethod
    async def _run(job: Job) -> None:
        try:
            await job()
        except Exception:
            logger.exception("telegram: processing an update failed")
