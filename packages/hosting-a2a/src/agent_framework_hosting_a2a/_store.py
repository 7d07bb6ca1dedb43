"""A2A tasks in the host's state store, as plain JSON, so any process sharing the state can read them.

A record is ``{"state": <TaskState name>, "task": <the task>}``; state changes are compare-and-set
on ``state``, so a cancel in one process and a run finishing in another cannot overwrite each other.
"""

from __future__ import annotations

from a2a.types import Task, TaskState
from agent_framework_hosting import StateStore
from google.protobuf.json_format import MessageToDict, ParseDict

TASKS = "a2a_tasks"
CONTEXT_INDEX = "a2a_context:"
DEFAULT_TASK_TTL = 7 * 24 * 3600.0


def _record(task: Task) -> dict[str, object]:
    return {"state": TaskState.Name(task.status.state), "task": MessageToDict(task)}


class TaskStore:
    """Tasks by id in the ``a2a_tasks`` namespace; values are copies, so a task changes only when saved."""

    def __init__(self, state: StateStore, *, ttl: float | None = DEFAULT_TASK_TTL) -> None:
        self.state = state
        self.ttl = ttl

    async def get(self, task_id: str) -> Task | None:
        if not task_id:
            return None
        value = await self.state.get(TASKS, task_id)
        if not isinstance(value, dict) or not isinstance(value.get("task"), dict):
            return None
        task: Task = ParseDict(value["task"], Task(), ignore_unknown_fields=True)
        return task

    async def create(self, task: Task) -> None:
        """Store a new task, and index it under its context (for `ListTasks` filtered by context)."""
        await self.state.set(CONTEXT_INDEX + task.context_id, task.id, 1, ttl=self.ttl)
        await self.state.set(TASKS, task.id, _record(task), ttl=self.ttl)

    async def ids(self, context_id: str | None = None) -> list[str]:
        """The ids of every kept task, or of the tasks of one context (its index, not a scan of all tasks)."""
        return await self.state.keys(TASKS if context_id is None else CONTEXT_INDEX + context_id)

    async def many(self, task_ids: list[str]) -> list[Task]:
        """The kept tasks among `task_ids` (ones expired meanwhile are left out)."""
        found = [await self.get(task_id) for task_id in task_ids]
        return [task for task in found if task is not None]

    async def move(self, task: Task, *, from_state: TaskState) -> bool:
        """Store `task` only if the stored one is still in `from_state`; False when someone else moved it."""
        match = {"state": TaskState.Name(from_state)}
        return await self.state.replace(TASKS, task.id, _record(task), match=match)
