"""Streaming through the official SDK against a real server: the event sequence, failures, timing, disconnects."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from agent_framework import Agent, AgentResponseUpdate, Content
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient, wait_until
from agent_framework_hosting_responses import ResponsesChannel

LIFECYCLE = ("response.created", "response.in_progress", "response.completed", "response.failed")


def test_raw_stream_emits_the_full_sequence_with_consistent_ids(serve: Any) -> None:
    served = serve()
    events = list(served.client.responses.create(model="m", input="hello world", stream=True))
    kinds = [event.type for event in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert set(kinds[4:-4]) == {"response.output_text.delta"}
    assert [event.sequence_number for event in events] == list(range(len(events)))
    response_ids = {event.response.id for event in events if event.type in LIFECYCLE}  # type: ignore[union-attr]
    assert len(response_ids) == 1
    item_id = events[2].item.id  # type: ignore[union-attr]
    assert all(event.item_id == item_id for event in events if hasattr(event, "item_id"))
    assert (
        "".join(event.delta for event in events if event.type == "response.output_text.delta") == "echo 1: hello world"
    )  # type: ignore[union-attr]
    completed = events[-1].response  # type: ignore[union-attr]
    assert completed.output[0].id == item_id and completed.output_text == "echo 1: hello world"
    assert served.client.responses.retrieve(completed.id).model_dump() == completed.model_dump()


def test_sse_frames_name_their_event_and_need_no_done_sentinel(serve: Any) -> None:
    served = serve()
    with httpx.stream(
        "POST", f"{served.url}/responses", json={"model": "m", "input": "hi", "stream": True}, timeout=10
    ) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        body = answer.read().decode()
    frames = [frame for frame in body.split("\n\n") if frame]
    for frame in frames:
        event_line, data_line = frame.split("\n")
        assert event_line.startswith("event: ") and data_line.startswith("data: ")
        assert json.loads(data_line[6:])["type"] == event_line[7:]
    assert "[DONE]" not in body


def test_stream_helper_accumulates_text_and_returns_the_final_response(serve: Any) -> None:
    served = serve()
    first = served.client.responses.create(model="m", input="one")
    with served.client.responses.stream(model="m", input="two three", previous_response_id=first.id) as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "echo 2: two three"
    assert final.previous_response_id == first.id
    follow_up = served.client.responses.create(model="m", input="four", previous_response_id=final.id)
    assert follow_up.output_text == "echo 3: four"


def test_text_beyond_ascii_and_line_separators_stream_through_the_sdk_unchanged(serve: Any) -> None:
    served = serve()
    text = "naïve ✓ 😀 one\u2028two\u2029three\x85four\nfive"
    with served.client.responses.stream(model="m", input=text) as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == f"echo 1: {text}"
    assert served.client.responses.retrieve(final.id).output_text == f"echo 1: {text}"


def test_agent_failure_mid_stream_ends_with_response_failed(serve: Any) -> None:
    served = serve()
    events = list(served.client.responses.create(model="m", input="one two three four [fail]", stream=True))
    deltas = [event for event in events if event.type == "response.output_text.delta"]
    assert deltas, "the answer started streaming before the failure"
    failed = events[-1]
    assert failed.type == "response.failed"
    assert failed.response.status == "failed" and failed.response.error.code == "server_error"  # type: ignore[union-attr]
    assert "offline model failure" not in failed.response.error.message  # type: ignore[union-attr]
    assert failed.response.output[0].status == "incomplete"  # type: ignore[union-attr]
    assert served.client.responses.retrieve(failed.response.id).status == "failed"  # type: ignore[union-attr]


def test_stream_update_hook_changes_streamed_deltas_only(serve: Any) -> None:
    def shout(update: AgentResponseUpdate) -> AgentResponseUpdate | None:
        if not update.text:
            return None
        return AgentResponseUpdate(contents=[Content.from_text(update.text.upper())], role="assistant")

    served = serve(channel=ResponsesChannel(stream_update_hook=shout))
    with served.client.responses.stream(model="m", input="quiet words") as stream:
        deltas = "".join(event.delta for event in stream if event.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert deltas == "ECHO 1: QUIET WORDS"
    assert final.output_text == "echo 1: quiet words"


def test_events_arrive_as_the_agent_produces_them(serve: Any) -> None:
    served = serve(chat=OfflineChatClient(chunk_delay=0.25))
    stamps: dict[str, float] = {}
    started = time.monotonic()
    for event in served.client.responses.create(model="m", input="a b c d e f", stream=True):
        stamps.setdefault(event.type, time.monotonic() - started)
    assert stamps["response.completed"] > 1.5, "eight chunks 0.25 s apart"
    assert stamps["response.created"] < stamps["response.completed"] - 1.0
    assert stamps["response.output_text.delta"] < stamps["response.completed"] - 1.0


def test_a_client_that_disconnects_stops_the_run_and_keeps_the_partial_turn(serve: Any) -> None:
    chat = OfflineChatClient(chunk_delay=0.2)
    served = serve(chat=chat)
    words = " ".join(f"w{n}" for n in range(40))
    response_id = None
    with served.client.responses.create(model="m", input=words, stream=True) as stream:
        for event in stream:
            if event.type == "response.created":
                response_id = event.response.id
            if event.type == "response.output_text.delta":
                break
    assert response_id is not None
    stopped_at = time.monotonic()
    stored = wait_until(lambda: _retrieve_or_none(served, response_id), timeout=5)
    assert time.monotonic() - stopped_at < 5, "the run stopped long before its 8 s answer would have finished"
    assert stored.status == "incomplete"
    partial = stored.output[0].content[0].text
    assert partial and len(partial) < len(f"echo 1: {words}")
    follow_up = served.client.responses.create(model="m", input="next", previous_response_id=response_id)
    seen = [m.text for m in chat.calls[-1]]
    assert seen[0] == words and seen[1].startswith("echo 1:") and seen[-1] == "next"
    assert follow_up.output_text == "echo 2: next"


def _retrieve_or_none(served: Any, response_id: str) -> Any:
    import openai

    try:
        return served.client.responses.retrieve(response_id)
    except openai.NotFoundError:
        return None


@contextlib.asynccontextmanager
async def _lifespan(app: Any) -> AsyncIterator[None]:
    """Run the ASGI app's startup and, on leaving, its shutdown."""
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    lifespan = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}}, events.get, replies.put))
    await events.put({"type": "lifespan.startup"})
    assert (await replies.get())["type"] == "lifespan.startup.complete"
    try:
        yield
    finally:
        await events.put({"type": "lifespan.shutdown"})
        await replies.get()
        await lifespan


async def _asgi_body_messages(app: Any, body: dict[str, Any], *, fail_after: int | None = None) -> list[bytes]:
    """POST /v1/responses into the ASGI app itself (sockets may merge or split writes): its body messages.

    With `fail_after`, `send` raises OSError once that many body messages went out, as an ASGI 2.4 server
    does when the client has gone; the app must let the error through.
    """
    messages: list[bytes] = []
    done = asyncio.Event()
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            if fail_after is not None and len(messages) >= fail_after:
                raise OSError("the client has gone")
            messages.append(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    headers = [(b"host", b"test"), (b"content-type", b"application/json")]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http"}
    scope |= {"path": "/v1/responses", "raw_path": b"/v1/responses", "root_path": "", "query_string": b""}
    scope |= {"headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    if fail_after is None:
        await app(scope, receive, send)
    else:
        with pytest.raises(OSError):
            await app(scope, receive, send)
    return [message for message in messages if message]


async def test_updates_the_agent_has_ready_go_out_in_one_write_in_order() -> None:
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[ResponsesChannel()])
    async with _lifespan(host.app):
        messages = await _asgi_body_messages(host.app, {"model": "m", "input": "a b c d e f", "stream": True})
    events = [
        json.loads(line[6:]) for message in messages for line in message.decode().splitlines() if line[:6] == "data: "
    ]
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    assert "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta") == "echo 1: a b c d e f"
    assert events[-1]["type"] == "response.completed"
    assert len(messages) < 5, f"an instant agent's {len(events)} events take a few writes, not one each"


async def test_a_send_that_fails_stops_the_run_and_keeps_the_partial_turn() -> None:
    chat = OfflineChatClient(chunk_delay=0.1)
    host = AgentFrameworkHost(Agent(client=chat, name="echo"), channels=[ResponsesChannel()])
    words = " ".join(f"w{n}" for n in range(40))
    async with _lifespan(host.app):
        started = time.monotonic()
        messages = await _asgi_body_messages(host.app, {"model": "m", "input": words, "stream": True}, fail_after=2)
        assert time.monotonic() - started < 2, "the run stopped long before its 4 s answer would have finished"
        created = json.loads(messages[0].decode().split("\n")[1][6:])
        response_id = created["response"]["id"]
        transport = httpx.ASGITransport(app=host.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            stored = (await client.get(f"/v1/responses/{response_id}")).json()
    assert stored["status"] == "incomplete"
    partial = stored["output"][0]["content"][0]["text"]
    assert partial and len(partial) < len(f"echo 1: {words}")
