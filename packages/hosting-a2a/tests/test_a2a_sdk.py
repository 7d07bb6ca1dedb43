"""The a2a-sdk client as the peer, against a real server: send, stream, get, cancel, resubscribe, contexts."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from typing import Any

import pytest
from a2a.client import A2AClientError
from a2a.types import (
    CancelTaskRequest,
    GetTaskRequest,
    SubscribeToTaskRequest,
    TaskNotCancelableError,
    TaskNotFoundError,
    TaskState,
    UnsupportedOperationError,
)

sys.path.insert(0, os.path.dirname(__file__))
from a2a_helpers import collect, connect, send_request  # noqa: E402

COMPLETED = TaskState.TASK_STATE_COMPLETED
LONG = " ".join(f"w{n}" for n in range(30))


async def test_send_message_answers_with_a_completed_task(serve: Any) -> None:
    served = serve()
    async with connect(served.url + "/a2a", streaming=False) as client:
        [event] = await collect(client.send_message(send_request("hello", context_id="c1")))
        task = event.task
        assert task.status.state == COMPLETED
        assert task.context_id == "c1"
        assert task.status.message.parts[0].text == "echo 1: hello"
        assert [part.text for part in task.artifacts[0].parts] == ["echo 1: hello"]
        assert [m.parts[0].text for m in task.history] == ["hello", "echo 1: hello"]


async def test_the_card_is_found_at_the_host_root_too(serve: Any) -> None:
    served = serve()
    async with connect(served.url, streaming=False) as client:
        [event] = await collect(client.send_message(send_request("via the root card")))
        assert event.task.status.message.parts[0].text == "echo 1: via the root card"


async def test_one_context_is_one_conversation_and_a_new_context_starts_fresh(serve: Any) -> None:
    served = serve()
    async with connect(served.url + "/a2a", streaming=False) as client:
        for expected, context in (("echo 1: a", "c1"), ("echo 2: b", "c1"), ("echo 1: c", "c2")):
            [event] = await collect(client.send_message(send_request(expected[-1], context_id=context)))
            assert event.task.status.message.parts[0].text == expected
        [event] = await collect(client.send_message(send_request("no context")))
        assert event.task.context_id, "the server assigns a context"
        assert event.task.status.message.parts[0].text == "echo 1: no context"


async def test_streaming_sends_the_task_then_answer_chunks_then_completion(serve: Any) -> None:
    served = serve(chunk_delay=0.02)
    async with connect(served.url + "/a2a") as client:
        events = await collect(client.send_message(send_request(LONG, context_id="s1")))
    kinds = [event.WhichOneof("payload") for event in events]
    assert kinds[0] == "task"
    assert events[0].task.status.state == TaskState.TASK_STATE_SUBMITTED
    assert kinds[1] == "status_update" and events[1].status_update.status.state == TaskState.TASK_STATE_WORKING
    chunks = [e.artifact_update for e in events if e.HasField("artifact_update") and not e.artifact_update.last_chunk]
    assert len(chunks) > 10, "the answer arrives in pieces"
    assert not chunks[0].append and all(chunk.append for chunk in chunks[1:])
    assert "".join(chunk.artifact.parts[0].text for chunk in chunks) == f"echo 1: {LONG}"
    last = [e.artifact_update for e in events if e.HasField("artifact_update") and e.artifact_update.last_chunk]
    assert [part.text for part in last[0].artifact.parts] == [f"echo 1: {LONG}"]
    assert kinds[-1] == "status_update" and events[-1].status_update.status.state == COMPLETED


async def test_stream_chunks_arrive_before_the_answer_is_finished(serve: Any) -> None:
    served = serve(chunk_delay=0.05)
    async with connect(served.url + "/a2a") as client:
        stream = client.send_message(send_request(LONG, context_id="s2"))
        async for event in stream:
            if event.HasField("artifact_update"):
                assert served.model.active == 1, "a chunk reached the client while the model was still answering"
                break
        await stream.aclose()


async def test_get_task_returns_the_stored_task_and_respects_history_length(serve: Any) -> None:
    served = serve()
    async with connect(served.url + "/a2a", streaming=False) as client:
        [event] = await collect(client.send_message(send_request("remember me", context_id="g1")))
        task = await client.get_task(GetTaskRequest(id=event.task.id))
        assert task.status.state == COMPLETED
        assert task.status.message.parts[0].text == "echo 1: remember me"
        short = await client.get_task(GetTaskRequest(id=event.task.id, history_length=1))
        assert [m.parts[0].text for m in short.history] == ["echo 1: remember me"]
        with pytest.raises(TaskNotFoundError):
            await client.get_task(GetTaskRequest(id="no-such-task"))


async def test_a_long_run_returns_a_working_task_and_completes_in_the_background(serve: Any) -> None:
    served = serve(response_delay=1.0, wait_seconds=0.2)
    async with connect(served.url + "/a2a", streaming=False) as client:
        [event] = await collect(client.send_message(send_request(LONG, context_id="bg")))
        assert event.task.status.state in (TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING)
        for _ in range(200):
            task = await client.get_task(GetTaskRequest(id=event.task.id))
            if task.status.state == COMPLETED:
                break
            await asyncio.sleep(0.05)
        assert task.status.state == COMPLETED
        assert task.status.message.parts[0].text == f"echo 1: {LONG}"


async def test_return_immediately_then_cancel_ends_the_task_cancelled(serve: Any) -> None:
    served = serve(chunk_delay=0.1)
    async with connect(served.url + "/a2a", streaming=False) as client:
        [event] = await collect(client.send_message(send_request(LONG, context_id="k1", return_immediately=True)))
        assert event.task.status.state in (TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING)
        for _ in range(100):
            if served.model.active:
                break
            await asyncio.sleep(0.02)
        cancelled = await client.cancel_task(CancelTaskRequest(id=event.task.id))
        assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
        assert (await client.get_task(GetTaskRequest(id=event.task.id))).status.state == TaskState.TASK_STATE_CANCELED
        assert served.model.active == 0
        with pytest.raises(TaskNotCancelableError):
            await client.cancel_task(CancelTaskRequest(id=event.task.id))
        [after] = await collect(client.send_message(send_request("still there?", context_id="k1")))
        assert after.task.status.message.parts[0].text == "echo 2: still there?", "the cancelled turn's question stays"


async def test_resubscribing_follows_a_running_task_to_its_end(serve: Any) -> None:
    served = serve(chunk_delay=0.03)
    async with connect(served.url + "/a2a") as client:
        stream = client.send_message(send_request(LONG, context_id="r1"))
        first = await anext(stream)
        await stream.aclose()
        events = await collect(client.subscribe(SubscribeToTaskRequest(id=first.task.id)))
        assert events[-1].status_update.status.state == COMPLETED
        text = [e.artifact_update.artifact.parts[0].text for e in events if e.HasField("artifact_update")]
        assert text[-1] == f"echo 1: {LONG}"
        with pytest.raises(UnsupportedOperationError, match="terminal"):
            await collect(client.subscribe(SubscribeToTaskRequest(id=first.task.id)))


async def test_two_contexts_run_in_parallel(serve: Any) -> None:
    served = serve(response_delay=0.5)
    async with connect(served.url + "/a2a", streaming=False) as client:
        results = await asyncio.gather(
            collect(client.send_message(send_request(LONG, context_id="p1"))),
            collect(client.send_message(send_request(LONG, context_id="p2"))),
        )
    assert served.model.most_active == 2
    assert [events[0].task.status.message.parts[0].text for events in results] == [f"echo 1: {LONG}"] * 2


async def test_one_context_runs_one_turn_at_a_time_and_keeps_both_turns(serve: Any) -> None:
    served = serve(response_delay=0.3)
    async with connect(served.url + "/a2a", streaming=False) as client:
        results = await asyncio.gather(
            collect(client.send_message(send_request("first " + LONG, context_id="same"))),
            collect(client.send_message(send_request("second " + LONG, context_id="same"))),
        )
    assert served.model.most_active == 1
    answers = sorted(events[0].task.status.message.parts[0].text.split(":")[0] for events in results)
    assert answers == ["echo 1", "echo 2"], "the later turn saw the earlier one"


async def test_bearer_auth_is_advertised_and_enforced(serve: Any) -> None:
    served = serve(api_key="s3cret")
    async with connect(served.url + "/a2a", streaming=False, token="s3cret") as client:
        card = client._card  # the card the client resolved
        assert card.security_schemes["bearer"].http_auth_security_scheme.scheme == "Bearer"
        assert [dict(r.schemes) for r in card.security_requirements] == [
            {"bearer": card.security_requirements[0].schemes["bearer"]}
        ]
        [event] = await collect(client.send_message(send_request("let me in")))
        assert event.task.status.message.parts[0].text == "echo 1: let me in"
    for token in (None, "wrong"):
        async with connect(served.url + "/a2a", streaming=False, token=token) as intruder:
            with pytest.raises(A2AClientError, match="401"):
                await collect(intruder.send_message(send_request("let me in")))
    assert len(served.model.calls) == 1


async def test_a_failing_agent_ends_the_task_failed_without_leaking_details(serve: Any) -> None:
    served = serve()
    async with connect(served.url + "/a2a", streaming=False) as client:
        [event] = await collect(client.send_message(send_request("please [fail]", context_id="f1")))
        assert event.task.status.state == TaskState.TASK_STATE_FAILED
        assert "server log" in event.task.status.message.parts[0].text
        assert "offline model failure" not in str(event.task)


async def test_the_channels_run_hook_sees_the_a2a_request_and_can_rewrite_the_turn(serve: Any) -> None:
    seen: list[Any] = []

    def hook(request: Any, *, target: Any, protocol_request: Any) -> Any:
        seen.append((request.isolation_key, protocol_request.message.context_id))
        return dataclasses.replace(request, input="rewritten")

    served = serve(run_hook=hook)
    async with connect(served.url + "/a2a", streaming=False) as client:
        [event] = await collect(client.send_message(send_request("original", context_id="hooked")))
    assert event.task.status.message.parts[0].text == "echo 1: rewritten"
    assert seen == [("a2a:hooked", "hooked")]
