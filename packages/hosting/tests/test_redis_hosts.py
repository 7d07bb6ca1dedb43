"""Several host processes (real servers on their own ports) sharing one Redis act as one host."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from agent_framework_hosting.testing import running_server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

sys.path.insert(0, os.path.dirname(__file__))
from redis_server import HostProcess, RedisServer, host_processes, state_url  # noqa: E402

ECHO = re.compile(r"^echo (\d+): (.*)$")


@pytest.fixture(scope="module")
def state(redis: RedisServer) -> str:
    return state_url(redis, lock_ttl=2.0)


@pytest.fixture(scope="module")
def hosts(state: str) -> Iterator[list[HostProcess]]:
    with host_processes(state, 2) as started:
        yield started


async def say(client: httpx.AsyncClient, host: HostProcess, text: str, key: str) -> str:
    response = await client.post(f"{host.url}/json", json={"text": text, "key": key})
    assert response.status_code == 200, response.text
    return str(response.json()["text"])


async def first_chunk(chunks: AsyncIterator[str]) -> str:
    async for chunk in chunks:
        if chunk:
            return chunk
    raise AssertionError("the stream ended before its first chunk")


async def test_a_conversation_alternating_between_processes_keeps_its_history(hosts: list[HostProcess]) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        for turn in range(1, 7):
            reply = await say(client, hosts[turn % 2], f"message {turn}", "alternating")
            assert reply == f"echo {turn}: message {turn}"


async def test_concurrent_turns_for_one_key_on_both_processes_run_one_at_a_time(hosts: list[HostProcess]) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        replies = await asyncio.gather(*(say(client, hosts[i % 2], f"m{i}", "contended") for i in range(20)))
    matches = [ECHO.match(reply) for reply in replies]
    assert all(matches), replies
    assert sorted(int(match.group(1)) for match in matches if match) == list(range(1, 21))
    assert sorted(match.group(2) for match in matches if match) == sorted(f"m{i}" for i in range(20))


async def test_a_process_killed_mid_turn_frees_the_session_when_its_lease_expires(
    state: str, hosts: list[HostProcess]
) -> None:
    doomed = HostProcess(state, chunk_delay=0.5)
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            assert await say(client, hosts[0], "one", "killed") == "echo 1: one"
            body = {"text": "lost", "key": "killed", "stream": True}
            async with client.stream("POST", f"{doomed.url}/json", json=body) as stream:
                assert await first_chunk(stream.aiter_text()) == "echo "
                doomed.signal(signal.SIGKILL)
            started = time.monotonic()
            assert await say(client, hosts[1], "two", "killed") == "echo 2: two"
            assert 0.3 < time.monotonic() - started < 10
    finally:
        doomed.stop()


async def test_a_process_stalled_past_its_lease_cannot_overwrite_newer_turns(
    state: str, hosts: list[HostProcess]
) -> None:
    stalled = HostProcess(state, chunk_delay=0.4)
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            assert await say(client, hosts[0], "one", "stalled") == "echo 1: one"
            body = {"text": "stale", "key": "stalled", "stream": True}
            async with client.stream("POST", f"{stalled.url}/json", json=body) as stream:
                chunks = stream.aiter_text()
                assert await first_chunk(chunks) == "echo "
                stalled.signal(signal.SIGSTOP)
                try:
                    assert await say(client, hosts[1], "two", "stalled") == "echo 2: two"
                    assert await say(client, hosts[0], "three", "stalled") == "echo 3: three"
                finally:
                    stalled.signal(signal.SIGCONT)
                with pytest.raises(httpx.HTTPError):
                    async for _ in chunks:
                        pass
            assert await say(client, hosts[1], "four", "stalled") == "echo 4: four"
            assert await say(client, stalled, "five", "stalled") == "echo 5: five"
        assert "LeaseLostError" in stalled.output()
    finally:
        stalled.stop()


def reply_collector() -> tuple[Starlette, list[dict[str, str]]]:
    """A fake platform API that records the bot's replies."""
    replies: list[dict[str, str]] = []

    async def send(request: Request) -> JSONResponse:
        replies.append(await request.json())
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/send", send, methods=["POST"])]), replies


async def test_a_duplicate_update_delivered_to_both_processes_is_answered_once(hosts: list[HostProcess]) -> None:
    platform, replies = reply_collector()
    with running_server(platform) as platform_url:
        async with httpx.AsyncClient(timeout=30) as client:

            async def deliver(host: HostProcess, update_id: str, text: str) -> dict[str, object]:
                body = {"update_id": update_id, "text": text, "key": "dup", "reply_url": f"{platform_url}/send"}
                response = await client.post(f"{host.url}/hook", json=body)
                assert response.status_code == 200, response.text
                return dict(response.json())

            first = await asyncio.gather(*(deliver(host, "u1", "hello") for host in hosts * 3))
            retried = await deliver(hosts[1], "u1", "hello")
            second = await asyncio.gather(*(deliver(host, "u2", "again") for host in hosts))
    assert sorted(outcome["duplicate"] for outcome in first) == [False] + [True] * 5
    assert retried == {"duplicate": True}
    assert sorted(outcome["duplicate"] for outcome in second) == [False, True]
    assert replies == [
        {"key": "dup", "text": "echo 1: hello", "update_id": "u1"},
        {"key": "dup", "text": "echo 2: again", "update_id": "u2"},
    ]
