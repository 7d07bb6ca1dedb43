"""Two Responses host processes sharing one real Redis act as one: retrieval, chaining, background runs, cancel."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from agent_framework_hosting.testing import RedisServer, redis_server_binary

sys.path.insert(0, os.path.dirname(__file__))
from responses_redis_host import host_processes  # noqa: E402

CHUNK_DELAY = 0.1
LONG_INPUT = " ".join(f"w{n}" for n in range(40))


@pytest.fixture(scope="module")
def hosts() -> Iterator[tuple[openai.OpenAI, openai.OpenAI]]:
    """Process A and process B (SDK clients), each streaming at `CHUNK_DELAY` s a word, over one redis-server."""
    with RedisServer(redis_server_binary()) as redis:
        state = f"{redis.url}?prefix=r{uuid.uuid4().hex[:8]}:&lock_ttl=3"
        with host_processes(state, 2, chunk_delay=CHUNK_DELAY) as (a, b):
            clients = [openai.OpenAI(base_url=p.url + "/v1", api_key="k", max_retries=0, timeout=20) for p in (a, b)]
            try:
                yield clients[0], clients[1]
            finally:
                for client in clients:
                    client.close()


def poll(client: openai.OpenAI, response_id: str, until: tuple[str, ...], timeout: float = 20.0) -> list[Any]:
    """Retrieve `response_id` until its status is in `until`; every retrieved response, in order."""
    seen: list[Any] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.append(client.responses.retrieve(response_id))
        if seen[-1].status in until:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"{response_id} never reached {until}; last status {seen[-1].status!r}")


def test_a_response_created_on_one_process_is_retrieved_on_the_other(hosts: Any) -> None:
    a, b = hosts
    created = a.responses.create(model="m", input="hello from a")
    assert created.output_text == "echo 1: hello from a"
    retrieved = b.responses.retrieve(created.id)
    assert retrieved.id == created.id
    assert retrieved.status == "completed"
    assert retrieved.output_text == "echo 1: hello from a"
    items = b.responses.input_items.list(created.id)
    assert [item.content[0].text for item in items] == ["hello from a"]  # type: ignore[union-attr]


def test_a_chain_continues_on_the_other_process_with_its_history(hosts: Any) -> None:
    a, b = hosts
    first = a.responses.create(model="m", input="first")
    second = b.responses.create(model="m", input="second", previous_response_id=first.id)
    assert second.output_text == "echo 2: second"
    third = a.responses.create(model="m", input="third", previous_response_id=second.id)
    assert third.output_text == "echo 3: third"
    branch = b.responses.create(model="m", input="branch", previous_response_id=first.id)
    assert branch.output_text == "echo 2: branch"


def test_a_background_response_started_on_one_process_is_polled_to_completion_on_the_other(hosts: Any) -> None:
    a, b = hosts
    queued = a.responses.create(model="m", input="take your time please", background=True)
    assert queued.status == "queued"
    seen = poll(b, queued.id, ("completed", "failed", "cancelled"))
    assert seen[-1].status == "completed"
    assert seen[-1].output_text == "echo 1: take your time please"
    assert {"queued", "in_progress"} & {response.status for response in seen[:-1]}, "B only saw the end"
    follow_up = b.responses.create(model="m", input="and then", previous_response_id=queued.id)
    assert follow_up.output_text == "echo 2: and then"


def test_the_other_process_streams_a_running_background_response_to_its_end(hosts: Any) -> None:
    a, b = hosts
    queued = a.responses.create(model="m", input="one two three four five", background=True)
    events = list(b.responses.retrieve(queued.id, stream=True))
    assert events[-1].type == "response.completed"
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")  # type: ignore[union-attr]
    assert deltas == "echo 1: one two three four five"
    numbers = [e.sequence_number for e in events]
    assert numbers == sorted(set(numbers))


def test_a_slow_background_response_started_on_one_process_is_cancelled_from_the_other(hosts: Any) -> None:
    a, b = hosts
    full = "echo 1: " + LONG_INPUT
    queued = a.responses.create(model="m", input=LONG_INPUT, background=True)
    with b.responses.retrieve(queued.id, stream=True) as live:
        for event in live:
            if event.type == "response.output_text.delta":
                break
        else:
            raise AssertionError("the run ended before its first delta")
    cancelled = b.responses.cancel(queued.id)
    assert cancelled.status == "cancelled"
    # A notices the cancel, stops the model, and stores what it had streamed so far (non-empty, as a delta was seen).
    deadline = time.monotonic() + 15
    while not (final := b.responses.retrieve(queued.id)).output_text:
        assert final.status == "cancelled", final.status
        assert time.monotonic() < deadline, "process A never stored its cancelled run"
        time.sleep(0.05)
    assert final.status == "cancelled"
    assert full.startswith(final.output_text) and len(final.output_text) < len(full)
    assert a.responses.retrieve(queued.id).status == "cancelled"
    events = list(b.responses.retrieve(queued.id, stream=True))
    assert "response.completed" not in [e.type for e in events]
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")  # type: ignore[union-attr]
    assert deltas == final.output_text
    assert b.responses.cancel(queued.id).status == "cancelled"
