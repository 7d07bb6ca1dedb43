"""A2A tasks in the host's state store, as plain JSON, so any process sharing the state can read them."""

from __future__ import annotations

from a2a.types import Task
from agent_framework_hosting import StateStore
from google.protobuf.json_format import MessageToDict, ParseDict

TASKS = "a2a_tasks"
DEFAULT_TASK_TTL = 7 * 24 * 3600.0


class TaskStore:
    """Tasks by id in the ``a2a_tasks`` namespace; values are copies, so a task changes only when saved."""

    def __init__(self, state: StateStore, *, ttl: float | None = DEFAULT_TASK_TTL) -> None:
        self.state = state
        self.ttl = ttl

    async def get(self, task_id: str) -> Task | None:
        if not task_id:
            return None
        value = await self.state.get(TASKS, task_id)
        if not isinstance(value, dict):
            return None
        return ParseDict(value, Task(), ignore_unknown_fields=True)

    async def save(self, task: Task) -> None:
        await self.state.set(TASKS, task.id, MessageToDict(task), ttl=self.ttl)
