"""Against a real server on 127.0.0.1: frames arrive as produced, a client leaving stops the turn, busy sessions."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient, running_server
from agent_framework_hosting_invocations import InvocationsChannel

CHUNK_DELAY = 0.15
WORDS = "one two three four five six seven eight"


@pytest.fixture
def slow_server() -> Iterator[tuple[str, OfflineChatClient]]:
    model = OfflineChatClient(chunk_delay=CHUNK_DELAY)
    host = AgentFrameworkHost(Agent(client=model, name="slow"), channels=[InvocationsChannel()], turn_wait=0.3)
    with running_server(host.app) as base_url:
        yield base_url, model


def test_stream_frames_arrive_while_the_agent_is_still_answering(slow_server: tuple[str, OfflineChatClient]) -> None:
    base_url, _ = slow_server
    arrivals: list[tuple[float, str]] = []
    with httpx.Client(base_url=base_url, timeout=20) as client:
        start = time.monotonic()
        with client.stream("POST", "/invocations", json={"message": WORDS, "stream": True}) as response:
            assert response.status_code == 200
            assert response.headers["x-accel-buffering"] == "no"
            for line in response.iter_lines():
                if line.startswith("data: "):
                    arrivals.append((time.monotonic() - start, line[len("data: ") :]))
    deltas = [
        (at, json.loads(data)["delta"]) for at, data in arrivals if data != "[DONE]" and "delta" in json.loads(data)
    ]
    expected_chunks = len(f"echo 1: {WORDS}".split(" "))
    assert len(deltas) == expected_chunks
    assert "".join(text for _, text in deltas) == f"echo 1: {WORDS}"
    first, last = deltas[0][0], deltas[-1][0]
    # the model needs about CHUNK_DELAY per chunk: a buffered answer would arrive all at once at the end
    assert last - first >= (expected_chunks - 2) * CHUNK_DELAY * 0.8
    assert arrivals[-1][1] == "[DONE]"


def test_a_client_that_leaves_mid_stream_stops_the_turn_and_frees_the_session(
    slow_server: tuple[str, OfflineChatClient],
) -> None:
    base_url, _ = slow_server
    long_message = " ".join(["word"] * 60)
    with httpx.Client(base_url=base_url, timeout=20) as client:
        with client.stream(
            "POST", "/invocations", json={"message": long_message, "stream": True, "session_id": "gone"}
        ) as response:
            lines = response.iter_lines()
            first = next(line for line in lines if line.startswith("data: "))
            assert "delta" in json.loads(first[len("data: ") :])
        # the full answer would need ~60 * CHUNK_DELAY = 9 s; the session must be free long before that
        started = time.monotonic()
        deadline = started + 5
        while True:
            follow_up = client.post("/invocations", json={"message": "still there?", "session_id": "gone"})
            if follow_up.status_code != 409 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert follow_up.status_code == 200
        assert time.monotonic() - started < 5
        assert follow_up.json()["response"] == "echo 2: still there?"


async def test_a_turn_on_a_busy_session_gets_a_409_json_error(slow_server: tuple[str, OfflineChatClient]) -> None:
    base_url, _ = slow_server
    async with httpx.AsyncClient(base_url=base_url, timeout=20) as client:
        async with client.stream(
            "POST", "/invocations", json={"message": WORDS, "stream": True, "session_id": "busy"}
        ) as slow:
            lines = slow.aiter_lines()
            async for line in lines:
                if line.startswith("data: "):
                    break
            busy = await client.post("/invocations", json={"message": "me too", "session_id": "busy"})
            other = await client.post("/invocations", json={"message": "elsewhere", "session_id": "free"})
            rest = [line async for line in lines if line.startswith("data: ")]
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "session_busy"
    assert "invocations:busy" not in busy.json()["error"]["message"]
    assert other.status_code == 200
    assert rest[-1] == "data: [DONE]"


async def test_concurrent_turns_of_one_session_each_see_the_previous_one() -> None:
    model = OfflineChatClient(chunk_delay=0.01)
    host = AgentFrameworkHost(Agent(client=model, name="echo"), channels=[InvocationsChannel()])

    async def ask(client: httpx.AsyncClient, n: int) -> Any:
        response = await client.post("/invocations", json={"message": f"m{n}", "session_id": "together"})
        return response.json()["response"]

    with running_server(host.app) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=20) as client:
            answers = await asyncio.gather(*(ask(client, n) for n in range(4)))
    assert sorted(answer.split(":")[0] for answer in answers) == ["echo 1", "echo 2", "echo 3", "echo 4"]
