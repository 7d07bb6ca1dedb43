"""Background work that channels start after acknowledging a webhook."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

logger = logging.getLogger("agent_framework.hosting")


class BackgroundTasks:
    """Tracks tasks so shutdown can wait for them, up to a timeout, then cancel the rest."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task %s failed", task.get_name(), exc_info=task.exception())

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float) -> None:
        """Wait for running tasks; cancel whatever is still running after `timeout` seconds."""
        if not self._tasks:
            return
        pending = set(self._tasks)
        _, still_running = await asyncio.wait(pending, timeout=timeout)
        for task in still_running:
            logger.warning("cancelling background task %s at shutdown", task.get_name())
            task.cancel()
        if still_running:
            await asyncio.wait(still_running, timeout=5)
