"""Task records: state changes are compare-and-set, so a cancel and a finishing run never overwrite each other."""

from __future__ import annotations

from pathlib import Path

import pytest
from a2a.types import Message, Part, Role, TaskState
from agent_framework_hosting import FileStateStore, MemoryStateStore, StateStore
from agent_framework_hosting_a2a._convert import end, new_task, status
from agent_framework_hosting_a2a._store import TaskStore
from google.protobuf.json_format import MessageToDict


@pytest.fixture(params=["memory", "folder"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> StateStore:
    return MemoryStateStore() if request.param == "memory" else FileStateStore(tmp_path)


async def test_a_completion_after_a_cancel_does_not_overwrite_it(state: StateStore) -> None:
    store = TaskStore(state)
    task = new_task(Message(message_id="m", role=Role.ROLE_USER, parts=[Part(text="hi")]), context_id="c")
    await store.create(task)
    task.status.CopyFrom(status(TaskState.TASK_STATE_WORKING))
    assert await store.move(task, from_state=TaskState.TASK_STATE_SUBMITTED)
    elsewhere = await store.get(task.id)
    assert elsewhere is not None
    end(elsewhere, TaskState.TASK_STATE_CANCELED)
    assert await store.move(elsewhere, from_state=TaskState.TASK_STATE_WORKING)
    end(task, TaskState.TASK_STATE_COMPLETED)
    assert not await store.move(task, from_state=TaskState.TASK_STATE_WORKING)
    stored = await store.get(task.id)
    assert stored is not None and stored.status.state == TaskState.TASK_STATE_CANCELED
    assert [m.parts[0].text for m in stored.history] == ["hi"]


async def test_unknown_ids_and_foreign_records_read_as_missing(state: StateStore) -> None:
    store = TaskStore(state)
    assert await store.get("") is None
    assert await store.get("nope") is None
    await state.set("a2a_tasks", "odd", {"not": "a task"})
    assert await store.get("odd") is None
    await state.set("a2a_tasks", "garbled", {"state": "TASK_STATE_WORKING", "proto": "%%% not base64"})
    assert await store.get("garbled") is None
    await state.set("a2a_tasks", "bad bytes", {"state": "TASK_STATE_WORKING", "proto": "/////w=="})
    assert await store.get("bad bytes") is None


async def test_records_in_the_earlier_json_form_are_still_read(state: StateStore) -> None:
    store = TaskStore(state)
    task = new_task(Message(message_id="m", role=Role.ROLE_USER, parts=[Part(text="hi")]), context_id="c")
    await state.set("a2a_tasks", task.id, {"state": "TASK_STATE_SUBMITTED", "task": MessageToDict(task)})
    assert await store.get(task.id) == task


async def test_the_context_index_finds_a_contexts_tasks_only(state: StateStore) -> None:
    store = TaskStore(state)
    made = {}
    for context in ("left", "right", "left\nright", "left"):
        task = new_task(Message(message_id="m", role=Role.ROLE_USER, parts=[Part(text="hi")]), context_id=context)
        await store.create(task)
        made.setdefault(context, []).append(task.id)
    assert sorted(await store.ids("left")) == sorted(made["left"])
    assert await store.ids("left\nright") == made["left\nright"]
    assert await store.ids("nothing") == []
    assert len(await store.ids()) == 4
