"""Concurrency policies across two host processes sharing one Redis."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpx
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from redis_server import HostProcess, RedisServer, state_url  # noqa: E402

from .conftest import postgres_url

LONG = "one two three four five six seven eight nine ten eleven twelve"


@contextmanager
def pair(redis: RedisServer, concurrency: str, *, state: str | None = None) -> Iterator[list[HostProcess]]:
    state = state or state_url(redis, lock_ttl=2.0)
    hosts: list[HostProcess] = []
    try:
        for _ in range(2):
            hosts.append(HostProcess(state, chunk_delay=0.15, concurrency=concurrency))
        yield hosts
    finally:
        for host in hosts:
            host.stop()


async def say(client: httpx.AsyncClient, host: HostProcess, text: str, key: str) -> httpx.Response:
    return await client.post(f"{host.url}/json", json={"text": text, "key": key})


async def first_chunk(chunks: AsyncIterator[str]) -> str:
    async for chunk in chunks:
        if chunk:
            return chunk
    raise AssertionError("the stream ended before its first chunk")


@pytest.mark.parametrize("backend", ["redis", "postgresql"])
async def test_interrupt_from_another_process_cuts_the_running_turn(
    redis: RedisServer, request: pytest.FixtureRequest, backend: str
) -> None:
    state = postgres_url(request.getfixturevalue("postgres")) if backend == "postgresql" else None
    with pair(redis, "interrupt", state=state) as hosts:
        async with httpx.AsyncClient(timeout=30) as client:
            body = {"text": LONG, "key": "k", "stream": True}
            async with client.stream("POST", f"{hosts[0].url}/json", json=body) as stream:
                chunks = stream.aiter_text()
                head = await first_chunk(chunks)
                started = time.monotonic()
                newer = await say(client, hosts[1], "stop that", "k")
                waited = time.monotonic() - started
                tail = "".join([chunk async for chunk in chunks])
            follow_up = await say(client, hosts[0], "and now?", "k")
    assert newer.json()["text"] == "echo 2: stop that"
    assert waited < 3.0, "the other process's turn was cancelled, not waited for"
    assert len(head + tail) < len("echo 1: " + LONG)
    assert follow_up.json()["text"] == "echo 3: and now?", "the interrupted turn stayed in the shared history"


async def test_reject_sees_a_turn_running_in_another_process(redis: RedisServer) -> None:
    with pair(redis, "reject") as hosts:
        async with httpx.AsyncClient(timeout=30) as client:
            body = {"text": LONG, "key": "k", "stream": True}
            async with client.stream("POST", f"{hosts[0].url}/json", json=body) as stream:
                await first_chunk(stream.aiter_text())
                refused = await say(client, hosts[1], "hello?", "k")
    assert refused.status_code == 409 and "still working" in refused.text


async def test_collect_merges_messages_sent_to_both_processes_into_one_turn(redis: RedisServer) -> None:
    with pair(redis, "collect:3") as hosts:
        async with httpx.AsyncClient(timeout=30) as client:
            first = asyncio.ensure_future(say(client, hosts[0], "a", "k"))
            await asyncio.sleep(0.3)
            second = asyncio.ensure_future(say(client, hosts[1], "b", "k"))
            await asyncio.sleep(0.3)
            third = asyncio.ensure_future(say(client, hosts[0], "c", "k"))
            replies = [(await task).json()["text"] for task in (first, second, third)]
    assert replies == ["echo 3: c"] * 3


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["in its window", "mid-turn"])
async def test_a_burst_survives_the_sigkill_of_its_leader(redis: RedisServer, moment: str) -> None:
    window = 3.0 if moment == "in its window" else 0.6
    with pair(redis, f"collect:{window}") as hosts:
        async with httpx.AsyncClient(timeout=60) as client:
            body = {"text": "a", "key": "k", "stream": True}
            first = asyncio.ensure_future(client.post(f"{hosts[0].url}/json", json=body))
            await asyncio.sleep(0.3)
            second = asyncio.ensure_future(say(client, hosts[1], LONG, "k"))  # the answer echoes it, word by word
            await asyncio.sleep(0.9 if moment == "mid-turn" else 0.5)  # mid-turn: the merged turn is streaming
            hosts[0].kill()
            with pytest.raises(httpx.HTTPError):
                await first  # its process is gone
            started = time.monotonic()
            answer = await second
            taken_over = time.monotonic() - started
            follow_up = await say(client, hosts[1], "and now?", "k")
    assert answer.status_code == 200 and answer.json()["text"] == f"echo 2: {LONG}", "the member ran the whole burst"
    assert taken_over < 15
    assert follow_up.json()["text"] == "echo 3: and now?", "the burst is in the history once"
