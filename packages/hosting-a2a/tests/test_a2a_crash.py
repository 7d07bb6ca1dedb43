"""A task whose process is SIGKILLed mid-run does not stay `working`: the turn ledger hands it to another process."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

import pytest
from a2a.types import GetTaskRequest, TaskState
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost, DeliveryOptions
from agent_framework_hosting.testing import (
    OfflineChatClient,
    RedisServer,
    redis_server_binary,
    running_server,
    server_processes,
)
from agent_framework_hosting_a2a import A2AChannel

sys.path.insert(0, os.path.dirname(__file__))
from a2a_crash_host import crash_host_command  # noqa: E402
from a2a_helpers import collect, connect, send_request, wait_for_state  # noqa: E402

LONG = " ".join(f"w{n}" for n in range(30))
WORKING, COMPLETED = TaskState.TASK_STATE_WORKING, TaskState.TASK_STATE_COMPLETED
LEASE = 2.0

pytestmark = pytest.mark.slow


async def start_and_kill(url: str, process: object, context_id: str) -> str:
    """Send a long task, wait until it runs, then SIGKILL the process running it; the task's id."""
    async with connect(url, streaming=False) as client:
        [event] = await collect(client.send_message(send_request(LONG, context_id=context_id, return_immediately=True)))
        await wait_for_state(client, event.task.id, {WORKING})
    process.kill()  # type: ignore[attr-defined]
    return event.task.id


async def test_a_killed_process_task_is_finished_at_the_next_start_on_a_folder(tmp_path: Path) -> None:
    command = crash_host_command(str(tmp_path), chunk_delay=0.1, lease=LEASE)
    with server_processes([command], name="a2a-crash") as [first]:
        task_id = await start_and_kill(first.url + "/a2a", first, "crashed")
    with server_processes([command], name="a2a-crash") as [second]:
        async with connect(second.url + "/a2a", streaming=False) as client:
            done = await wait_for_state(client, task_id, {COMPLETED}, timeout=20)
            assert done.status.message.parts[0].text == f"echo 1: {LONG}", "run once more, the question kept once"
            [after] = await collect(client.send_message(send_request("next", context_id="crashed")))
            assert after.task.status.message.parts[0].text == "echo 2: next"


async def test_a_task_that_keeps_losing_its_process_ends_failed(tmp_path: Path) -> None:
    doomed = crash_host_command(str(tmp_path), chunk_delay=0.1, lease=LEASE)
    with server_processes([doomed], name="a2a-crash") as [first]:
        task_id = await start_and_kill(first.url + "/a2a", first, "again and again")
    patient = crash_host_command(str(tmp_path), chunk_delay=0.1, lease=LEASE, max_attempts=1)
    with server_processes([patient], name="a2a-crash") as [second]:
        async with connect(second.url + "/a2a", streaming=False) as client:
            failed = await wait_for_state(client, task_id, {TaskState.TASK_STATE_FAILED}, timeout=20)
            assert "interrupted" in failed.status.message.parts[0].text


async def test_a_killed_process_task_is_taken_over_by_a_live_sibling_within_the_lease() -> None:
    with RedisServer(redis_server_binary()) as redis:
        state = f"{redis.url}?prefix=a2acrash{uuid.uuid4().hex[:8]}:&lock_ttl={LEASE}"
        command = crash_host_command(state, chunk_delay=0.1, lease=LEASE)
        with server_processes([command, command], name="a2a-crash") as [doomed, sibling]:
            task_id = await start_and_kill(doomed.url + "/a2a", doomed, "orphan")
            killed_at = time.monotonic()
            async with connect(sibling.url + "/a2a", streaming=False) as client:
                done = await wait_for_state(client, task_id, {COMPLETED}, timeout=30)
                taken = time.monotonic() - killed_at
                assert done.status.message.parts[0].text == f"echo 1: {LONG}"
                # the lease (plus one recovery sweep), the session lock's expiry, then a 3 s run; not 10 minutes
                assert taken < 4 * LEASE + 3 + 5, taken
                [after] = await collect(client.send_message(send_request("next", context_id="orphan")))
                assert after.task.status.message.parts[0].text == "echo 2: next"


async def test_a_task_cut_short_by_a_shutdown_fails_with_a_request_to_resend_and_the_context_goes_on(
    tmp_path: Path,
) -> None:
    def host(chunk_delay: float) -> AgentFrameworkHost:
        agent = Agent(client=OfflineChatClient(chunk_delay=chunk_delay), name="echo")
        return AgentFrameworkHost(
            agent,
            channels=[A2AChannel()],
            state_dir=str(tmp_path),
            shutdown_timeout=0.3,
            delivery=DeliveryOptions(lease=1.0),
        )

    with running_server(host(0.2).app) as url:
        async with connect(url + "/a2a", streaming=False) as client:
            request = send_request(LONG, context_id="stopped", return_immediately=True)
            [event] = await collect(client.send_message(request))
            await wait_for_state(client, event.task.id, {WORKING})
    with running_server(host(0.0).app) as url:
        async with connect(url + "/a2a", streaming=False) as client:
            # the cut-short turn may be saved with a partial answer: no rerun (it would answer from that part)
            failed = await client.get_task(GetTaskRequest(id=event.task.id))
            assert failed.status.state == TaskState.TASK_STATE_FAILED
            assert "send the message again" in failed.status.message.parts[0].text
            await asyncio.sleep(1.5)  # past the lease: the ledger's sweep finds the task ended and leaves it so
            assert (await client.get_task(GetTaskRequest(id=event.task.id))).status.state == TaskState.TASK_STATE_FAILED
            [again] = await collect(client.send_message(send_request("again", context_id="stopped")))
            assert again.task.status.state == COMPLETED
