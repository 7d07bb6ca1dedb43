"""Redis going away: quick 503s instead of hangs, and recovery once it is back."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Iterator

import pytest
from agent_framework_hosting import RedisStateStore, StateUnavailableError
from agent_framework_hosting.testing import running_server, wait_until
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

sys.path.insert(0, os.path.dirname(__file__))
from redis_server import RedisServer, build_host, redis_server_binary, state_url  # noqa: E402


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with RedisServer(redis_server_binary()) as server:
        yield server


async def test_every_store_call_fails_fast_while_redis_is_down_and_works_after_a_restart(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    store = RedisStateStore.from_url(state_url(redis))
    try:
        await store.set("records", "k", 1)
        redis.stop()
        calls = [
            lambda: store.get("records", "k"),
            lambda: store.set("records", "k", 2),
            lambda: store.add("records", "new", 1),
            lambda: store.delete("records", "k"),
            lambda: store.lock("turn:k").__aenter__(),
            lambda: store.checkpoint_storage("s").get_latest(workflow_name="wf"),
        ]
        for call in calls:
            started = time.monotonic()
            with pytest.raises(StateUnavailableError):
                await call()
            assert time.monotonic() - started < 2
        redis.start()
        await store.set("records", "k", 3)
        assert await store.get("records", "k") == 3
        assert caplog.text.count("is unavailable") == 1
        assert caplog.text.count("is reachable again") == 1
    finally:
        await store.aclose()


async def test_a_waiting_turn_gets_503_when_redis_goes_away(redis: RedisServer) -> None:
    url = state_url(redis)
    holder, waiter = RedisStateStore.from_url(url), RedisStateStore.from_url(url)
    try:
        async with holder.lock("turn:k"):
            waiting = asyncio.create_task(waiter.lock("turn:k", wait=30).__aenter__())
            await asyncio.sleep(0.2)
            assert not waiting.done()
            redis.stop()
            started = time.monotonic()
            with pytest.raises(StateUnavailableError):
                await asyncio.wait_for(waiting, 5)
            assert time.monotonic() - started < 2
    finally:
        await holder.aclose()
        await waiter.aclose()


async def test_leadership_is_not_claimed_while_redis_is_down(redis: RedisServer) -> None:
    store = RedisStateStore.from_url(state_url(redis))
    try:
        leader = store.leader("poller", ttl=30)
        assert await leader.acquire() is True
        redis.stop()
        assert await leader.acquire() is False
        redis.start()
        assert await leader.acquire() is True
    finally:
        await store.aclose()


def test_the_host_answers_503_while_redis_is_down_and_recovers_after_a_restart(redis: RedisServer) -> None:
    host = build_host(state_url(redis))
    with TestClient(host.app) as client:
        assert client.post("/json", json={"text": "one", "key": "k"}).json() == {"text": "echo 1: one"}
        redis.stop()
        for body in ({"text": "two", "key": "k"}, {"text": "two", "key": "k", "stream": True}):
            started = time.monotonic()
            response = client.post("/json", json=body)
            assert response.status_code == 503
            assert "unavailable" in response.json()["error"]
            assert time.monotonic() - started < 2
        redis.start()
        # this redis-server keeps nothing across restarts, so the conversation starts over
        assert client.post("/json", json={"text": "three", "key": "k"}).json() == {"text": "echo 1: three"}
        assert client.post("/json", json={"text": "four", "key": "k"}).json() == {"text": "echo 2: four"}


def test_a_hung_redis_gives_503_within_the_socket_timeout_and_the_host_recovers(redis: RedisServer) -> None:
    host = build_host(state_url(redis, lock_ttl=1.0) + "&socket_timeout=0.5")
    with TestClient(host.app) as client:
        assert client.post("/json", json={"text": "one", "key": "k"}).json() == {"text": "echo 1: one"}
        redis.pause()
        try:
            started = time.monotonic()
            assert client.post("/json", json={"text": "two", "key": "k"}).status_code == 503
            assert time.monotonic() - started < 3
        finally:
            redis.resume()
        started = time.monotonic()
        assert client.post("/json", json={"text": "three", "key": "k"}).json() == {"text": "echo 2: three"}
        assert time.monotonic() - started < 5


def test_the_host_starts_while_redis_is_down_and_serves_once_it_is_up(redis: RedisServer) -> None:
    host = build_host(state_url(redis))
    redis.stop()
    with TestClient(host.app) as client:
        readiness = client.get("/readiness")
        assert readiness.status_code == 503 and set(readiness.json()["down"]) == {"state"}
        assert client.post("/json", json={"text": "one", "key": "k"}).status_code == 503
        redis.start()
        assert client.get("/readiness").status_code == 200
        assert client.post("/json", json={"text": "two", "key": "k"}).json() == {"text": "echo 1: two"}


def _stall(redis: RedisServer, started: float, seconds: float = 3.0) -> None:
    time.sleep(max(0.0, started + seconds - time.monotonic()))
    redis.resume()


def test_a_turn_after_a_redis_stall_waits_no_longer_than_about_a_second(redis: RedisServer) -> None:
    # the lock request that timed out on the client during the stall is run by Redis when it resumes;
    # with a 20 s lease it would hold the conversation until it expired
    host = build_host(state_url(redis, lock_ttl=20.0) + "&socket_timeout=1")
    with TestClient(host.app) as client:
        assert client.post("/json", json={"text": "one", "key": "k"}).json() == {"text": "echo 1: one"}
        redis.pause()
        started = time.monotonic()
        try:
            assert client.post("/json", json={"text": "two", "key": "k"}).status_code == 503
        finally:
            _stall(redis, started)
        started = time.monotonic()
        assert client.post("/json", json={"text": "three", "key": "k"}).json() == {"text": "echo 2: three"}
        assert time.monotonic() - started < 1.5


async def test_a_lock_redis_took_late_is_released_for_other_processes(redis: RedisServer) -> None:
    url = state_url(redis, lock_ttl=20.0) + "&socket_timeout=1"
    stalled, other = RedisStateStore.from_url(url), RedisStateStore.from_url(url)
    try:
        for store in (stalled, other):  # connected, and the lock script loaded
            async with store.lock("turn:warm-up"):
                pass
        redis.pause()
        started = time.monotonic()
        try:
            with pytest.raises(StateUnavailableError):
                async with stalled.lock("turn:k"):
                    pass
        finally:
            await asyncio.to_thread(_stall, redis, started)
        started = time.monotonic()
        async with other.lock("turn:k", wait=10):
            assert time.monotonic() - started < 1.5
    finally:
        await stalled.aclose()
        await other.aclose()


def _collector() -> tuple[Starlette, list[dict[str, object]]]:
    replies: list[dict[str, object]] = []

    async def send(request: Request) -> JSONResponse:
        replies.append(await request.json())
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/send", send, methods=["POST"])]), replies


@pytest.mark.parametrize("redelivered_to", ["same host", "other host"])
def test_an_update_redelivered_after_a_redis_stall_runs_the_agent(redis: RedisServer, redelivered_to: str) -> None:
    url = state_url(redis, lock_ttl=20.0) + "&socket_timeout=1"
    platform, replies = _collector()
    with running_server(platform) as platform_url, TestClient(build_host(url).app) as first:
        with TestClient(build_host(url).app) as second:
            body = {"update_id": "u1", "text": "hello", "key": "k", "reply_url": f"{platform_url}/send"}
            assert first.post("/json", json={"text": "warm-up", "key": "w"}).status_code == 200
            assert first.post("/hook", json={**body, "update_id": "u0"}).json() == {"duplicate": False}
            wait_until(lambda: replies, message="the first answer")
            redis.pause()
            started = time.monotonic()
            try:
                assert first.post("/hook", json=body).status_code == 503
            finally:
                _stall(redis, started)
            retry = first if redelivered_to == "same host" else second
            time.sleep(0 if redelivered_to == "same host" else 1.5)
            assert retry.post("/hook", json=body).json() == {"duplicate": False}
            assert retry.post("/hook", json=body).json() == {"duplicate": True}
    assert [reply["update_id"] for reply in replies] == ["u0", "u1"]
    assert replies[1]["text"] == "echo 2: hello"


@pytest.mark.parametrize("redelivered_to", ["same host", "other host"])
def test_a_ledger_delivery_redelivered_after_a_redis_stall_is_answered_once(
    redis: RedisServer, redelivered_to: str
) -> None:
    from agent_framework import Agent
    from agent_framework_hosting import AgentFrameworkHost
    from agent_framework_hosting.testing import OfflineChatClient
    from fault_host import LedgerHook

    url = state_url(redis, lock_ttl=20.0) + "&socket_timeout=1"

    def ledger_host() -> AgentFrameworkHost:
        return AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[LedgerHook("none")],
                                  state_dir=url)  # fmt: skip

    platform, replies = _collector()
    with running_server(platform) as platform_url, TestClient(ledger_host().app) as first:
        with TestClient(ledger_host().app) as second:
            body = {"update_id": "u1", "text": "hello", "key": "k", "reply_url": f"{platform_url}/send"}
            assert first.post("/hook", json={**body, "update_id": "u0"}).json() == {"duplicate": False}
            wait_until(lambda: replies, message="the first answer")
            redis.pause()
            started = time.monotonic()
            try:
                assert first.post("/hook", json=body).status_code == 503
            finally:
                _stall(redis, started)
            retry = first if redelivered_to == "same host" else second
            time.sleep(0 if redelivered_to == "same host" else 1.5)
            assert retry.post("/hook", json=body).json() == {"duplicate": False}
            wait_until(lambda: len(replies) == 2, message="the answer")
            assert retry.post("/hook", json=body).json() == {"duplicate": True}
            time.sleep(0.5)
    assert [(reply["update_id"], reply["text"]) for reply in replies] == [
        ("u0", "echo 1: hello"),
        ("u1", "echo 2: hello"),
    ]
