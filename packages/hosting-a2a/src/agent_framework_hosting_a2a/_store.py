"""A2A tasks in the host's state store, so any process sharing the state can read them.

A record is ``{"state": <TaskState name>, "proto": <the task, protobuf bytes in base64>}`` (binary protobuf
is several times cheaper to write and read than its JSON form); records of earlier versions held the
task's JSON form under ``"task"`` and are still read. State changes are compare-and-set on ``state``,
so a cancel in one process and a run finishing in another cannot overwrite each other.
"""

from __future__ import annotations

from base64 import b64decode, b64encode
from typing import Any

from a2a.types import Task, TaskState
from agent_framework_hosting import StateStore
from google.protobuf.json_format import ParseDict, ParseError
from google.protobuf.message import DecodeError

Pending = dict[str, dict[str, Any]]
TASKS = "a2a_tasks"
CONTEXT_INDEX = "a2a_task_contexts"  # keys "<contextId>\n<taskId>": one namespace, bounded like the tasks
DEFAULT_TASK_TTL = 7 * 24 * 3600.0


def _record(task: Task, pending: Pending | None = None) -> dict[str, object]:
    record: dict[str, object] = {
        "state": TaskState.Name(task.status.state),
        "proto": b64encode(task.SerializeToString()).decode(),
    }
    if pending:
        record["pending"] = pending
    return record


def _task(value: object) -> Task | None:
    if not isinstance(value, dict):
        return None
    try:
        if isinstance(value.get("proto"), str):
            decoded: Task = Task.FromString(b64decode(value["proto"], validate=True))
            return decoded
        if isinstance(value.get("task"), dict):
            task: Task = ParseDict(value["task"], Task(), ignore_unknown_fields=True)
            return task
    except (ValueError, DecodeError, ParseError):
        return None
    return None


class TaskStore:
    """Tasks by id in the ``a2a_tasks`` namespace; values are copies, so a task changes only when saved."""

    def __init__(self, state: StateStore, *, ttl: float | None = DEFAULT_TASK_TTL) -> None:
        self.state = state
        self.ttl = ttl

    async def get(self, task_id: str) -> Task | None:
        if not task_id:
            return None
        return _task(await self.state.get(TASKS, task_id))

    async def waiting(self, task_id: str) -> tuple[Task | None, Pending]:
        """The task and the approval requests (by id, as Agent Framework content) it waits for."""
        value = await self.state.get(TASKS, task_id) if task_id else None
        pending = value.get("pending") if isinstance(value, dict) else None
        return _task(value), pending if isinstance(pending, dict) else {}

    async def create(self, task: Task) -> None:
        """Store a new task, and index it under its context (for `ListTasks` filtered by context)."""
        await self.state.set(CONTEXT_INDEX, f"{task.context_id}\n{task.id}", 1, ttl=self.ttl)
        await self.state.set(TASKS, task.id, _record(task), ttl=self.ttl)

    async def ids(self, context_id: str | None = None) -> list[str]:
        """The ids of every kept task, or of one context's tasks (from the index's keys, without reading tasks)."""
        if context_id is None:
            return await self.state.keys(TASKS)
        prefix = context_id + "\n"
        found = (key[len(prefix) :] for key in await self.state.keys(CONTEXT_INDEX) if key.startswith(prefix))
        return [task_id for task_id in found if task_id and "\n" not in task_id]

    async def many(self, task_ids: list[str]) -> list[Task]:
        """The kept tasks among `task_ids` (ones expired meanwhile are left out)."""
        found = [await self.get(task_id) for task_id in task_ids]
        return [task for task in found if task is not None]

    async def move(self, task: Task, *, from_state: TaskState, pending: Pending | None = None) -> bool:
        """Store `task` only if the stored one is still in `from_state`; False when someone else moved it.

        `pending`: the approval requests the task now waits for (any move drops the earlier ones).
        """
        match = {"state": TaskState.Name(from_state)}
        return await self.state.replace(TASKS, task.id, _record(task, pending), match=match)
