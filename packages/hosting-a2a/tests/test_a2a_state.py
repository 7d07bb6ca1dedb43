"""Tasks live in the host's state: they survive a restart on a folder, and Redis makes two processes one server."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from a2a.types import CancelTaskRequest, GetTaskRequest, ListTasksRequest, SubscribeToTaskRequest, TaskState
from agent_framework_hosting.testing import RedisServer, redis_server_binary

sys.path.insert(0, os.path.dirname(__file__))
from a2a_helpers import collect, connect, send_request, wait_for_state  # noqa: E402
from a2a_host import host_processes  # noqa: E402

LONG = " ".join(f"w{n}" for n in range(40))
COMPLETED = TaskState.TASK_STATE_COMPLETED


async def test_tasks_and_conversations_survive_a_restart_on_a_folder(serve: Any, tmp_path: Path) -> None:
    first = serve(host_options={"state_dir": str(tmp_path)})
    async with connect(first.url + "/a2a", streaming=False) as client:
        [event] = await collect(client.send_message(send_request("my name is Ada", context_id="ctx")))
    task_id = event.task.id
    second = serve(host_options={"state_dir": str(tmp_path)})
    async with connect(second.url + "/a2a", streaming=False) as client:
        task = await client.get_task(GetTaskRequest(id=task_id))
        assert task.status.state == COMPLETED
        assert task.status.message.parts[0].text == "echo 1: my name is Ada"
        [event] = await collect(client.send_message(send_request("who am I?", context_id="ctx")))
        assert event.task.status.message.parts[0].text == "echo 2: who am I?"
    assert [m.text for m in second.model.calls[-1] if m.role == "user"] == ["my name is Ada", "who am I?"]


@pytest.fixture(scope="module")
def hosts() -> Iterator[tuple[str, str]]:
    """Two host processes (A, B) over one redis-server, answering at 0.05 s a word."""
    with RedisServer(redis_server_binary()) as redis:
        state = f"{redis.url}?prefix=a2a{uuid.uuid4().hex[:8]}:&lock_ttl=3"
        with host_processes(state, 2, chunk_delay=0.05) as (a, b):
            yield a.url + "/a2a", b.url + "/a2a"


async def test_a_task_sent_to_one_process_is_read_and_continued_on_the_other(hosts: tuple[str, str]) -> None:
    url_a, url_b = hosts
    async with connect(url_a, streaming=False) as a, connect(url_b, streaming=False) as b:
        [event] = await collect(a.send_message(send_request(LONG, context_id="shared", return_immediately=True)))
        working = await wait_for_state(b, event.task.id, {TaskState.TASK_STATE_WORKING, COMPLETED})
        assert working.context_id == "shared"
        done = await wait_for_state(b, event.task.id, {COMPLETED})
        assert done.status.message.parts[0].text == f"echo 1: {LONG}"
        [event] = await collect(b.send_message(send_request("next", context_id="shared")))
        assert event.task.status.message.parts[0].text == "echo 2: next"


async def test_cancel_on_one_process_stops_the_run_on_the_other(hosts: tuple[str, str]) -> None:
    url_a, url_b = hosts
    async with connect(url_a, streaming=False) as a, connect(url_b, streaming=False) as b:
        [event] = await collect(a.send_message(send_request(LONG, context_id="cx", return_immediately=True)))
        await wait_for_state(b, event.task.id, {TaskState.TASK_STATE_WORKING})
        cancelled = await b.cancel_task(CancelTaskRequest(id=event.task.id))
        assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
        await asyncio.sleep(1.0)
        assert (await a.get_task(GetTaskRequest(id=event.task.id))).status.state == TaskState.TASK_STATE_CANCELED
        [after] = await collect(a.send_message(send_request("after", context_id="cx")))
        assert after.task.status.message.parts[0].text == "echo 2: after", "the cancelled run released the context"


async def test_resubscribing_on_the_other_process_follows_the_task_to_its_end(hosts: tuple[str, str]) -> None:
    url_a, url_b = hosts
    async with connect(url_a, streaming=False) as a, connect(url_b) as b:
        [event] = await collect(a.send_message(send_request(LONG, context_id="rs", return_immediately=True)))
        events = await collect(b.subscribe(SubscribeToTaskRequest(id=event.task.id)))
        assert events[0].task.id == event.task.id
        assert events[-1].status_update.status.state == COMPLETED
        artifacts = [e.artifact_update.artifact for e in events if e.HasField("artifact_update")]
        assert artifacts[-1].parts[0].text == f"echo 1: {LONG}"


async def test_list_tasks_on_one_process_shows_the_tasks_the_other_runs(hosts: tuple[str, str]) -> None:
    url_a, url_b = hosts
    async with connect(url_a, streaming=False) as a, connect(url_b, streaming=False) as b:
        [first] = await collect(a.send_message(send_request("one", context_id="listed")))
        [second] = await collect(b.send_message(send_request("two", context_id="listed")))
        listed = await a.list_tasks(ListTasksRequest(context_id="listed"))
        assert [task.id for task in listed.tasks] == [second.task.id, first.task.id]
        assert all(task.status.state == COMPLETED for task in listed.tasks)


async def test_a_waiting_send_message_stops_when_another_process_cancels_its_task(serve: Any, tmp_path: Path) -> None:
    running = serve(response_delay=5.0, host_options={"state_dir": str(tmp_path)})
    other = serve(host_options={"state_dir": str(tmp_path)})
    async with connect(running.url + "/a2a", streaming=False) as a, connect(other.url + "/a2a", streaming=False) as b:
        waiting = asyncio.ensure_future(collect(a.send_message(send_request("slow", context_id="w"))))
        for _ in range(100):
            listed = await b.list_tasks(ListTasksRequest(context_id="w"))
            if listed.tasks and listed.tasks[0].status.state == TaskState.TASK_STATE_WORKING:
                break
            await asyncio.sleep(0.05)
        cancelled = await b.cancel_task(CancelTaskRequest(id=listed.tasks[0].id))
        assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
        [event] = await asyncio.wait_for(waiting, timeout=3.0)
        assert event.task.status.state == TaskState.TASK_STATE_CANCELED
        assert running.model.active == 0, "the unstreamed turn was stopped, not left to finish"
