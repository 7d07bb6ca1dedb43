"""RedisStateStore as a StateStore: values, expiry, idempotency claims, sessions, configuration."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time

import pytest
import redis.asyncio as aioredis
from agent_framework_hosting import RedisStateStore, StateStore
from agent_framework_hosting._host import open_state_store
from agent_framework_hosting._redis import redact_url
from starlette.testclient import TestClient

sys.path.insert(0, os.path.dirname(__file__))
from redis_server import RedisServer, build_host, redis_server_binary, state_url  # noqa: E402


async def test_values_round_trip_as_json(store: RedisStateStore) -> None:
    value = {"text": "héllo ✓", "items": [1, 2.5, None, True], "nested": {"a": {"b": []}}}
    await store.set("records", "k", value)
    assert await store.get("records", "k") == value
    assert await store.get("records", "missing") is None
    assert store.keeps_objects is False and isinstance(store, StateStore)


async def test_set_replaces_and_delete_reports_whether_something_was_there(store: RedisStateStore) -> None:
    await store.set("records", "k", 1)
    await store.set("records", "k", 2)
    assert await store.get("records", "k") == 2
    assert await store.delete("records", "k") is True
    assert await store.delete("records", "k") is False
    assert await store.get("records", "k") is None


async def test_namespaces_and_prefixes_never_share_keys(redis: RedisServer, store: RedisStateStore) -> None:
    await store.set("a:b", "c", "first")
    await store.set("a", "b:c", "second")
    assert await store.get("a:b", "c") == "first"
    assert await store.get("a", "b:c") == "second"
    other = RedisStateStore.from_url(state_url(redis))
    try:
        assert await other.get("a", "b:c") is None
        await other.set("a", "b:c", "other")
        assert await store.get("a", "b:c") == "second"
    finally:
        await other.aclose()


async def test_internal_keys_cannot_be_reached_through_a_namespace(store: RedisStateStore) -> None:
    async with store.lock("turn:k"):
        await store.set("!lock", "turn:k", "forged")
        assert await store.client.exists(f"{store.prefix}!lock:turn:k") == 1
        assert (await store.client.get(f"{store.prefix}!lock:turn:k")) != b'"forged"'


async def test_empty_keys_are_refused(store: RedisStateStore) -> None:
    with pytest.raises(ValueError):
        await store.set("records", "", 1)


async def test_values_expire_after_their_ttl(store: RedisStateStore) -> None:
    await store.set("records", "short", "x", ttl=0.2)
    await store.set("records", "long", "y", ttl=30)
    assert 0 < await store.client.pttl(store.key("records", "short")) <= 200
    await asyncio.sleep(0.35)
    assert await store.get("records", "short") is None
    assert await store.get("records", "long") == "y"


async def test_add_stores_only_when_absent_and_again_after_expiry(store: RedisStateStore) -> None:
    assert await store.add("seen", "update-1", True, ttl=0.2) is True
    assert await store.add("seen", "update-1", True, ttl=0.2) is False
    await asyncio.sleep(0.35)
    assert await store.add("seen", "update-1", True) is True


async def test_concurrent_claims_from_two_stores_have_exactly_one_winner(redis: RedisServer) -> None:
    url = state_url(redis)
    first, second = RedisStateStore.from_url(url), RedisStateStore.from_url(url)
    try:
        claims = await asyncio.gather(*(s.add("seen", "u-42", True, ttl=60) for s in (first, second) * 10))
        assert sorted(claims) == [False] * 19 + [True]
    finally:
        await first.aclose()
        await second.aclose()


async def test_a_client_passed_in_is_used_and_left_open_for_its_owner(redis: RedisServer) -> None:
    client = aioredis.Redis.from_url(redis.url)
    store = RedisStateStore(client, prefix=f"mine{id(client)}:")
    await store.set("records", "k", [1])
    assert await client.get(f"mine{id(client)}:records:k") == b"[1]"
    await store.aclose()
    assert await client.ping() is True
    assert await store.get("records", "k") == [1]
    await client.aclose()


async def test_a_value_that_is_not_json_reads_as_missing(store: RedisStateStore) -> None:
    await store.client.set(store.key("records", "garbled"), b"\xff{not json")
    assert await store.get("records", "garbled") is None


def test_once_claims_survive_across_hosts_and_a_failed_body_releases_its_claim(redis: RedisServer) -> None:
    url = state_url(redis)

    async def scenario() -> None:
        first, second = build_host(url), build_host(url)
        try:
            async with first.context.once("hook", "7", ttl=60) as claimed:
                assert claimed is True
            async with second.context.once("hook", "7", ttl=60) as claimed:
                assert claimed is False
            with pytest.raises(RuntimeError):
                async with second.context.once("hook", "8", ttl=60) as claimed:
                    assert claimed is True
                    raise RuntimeError("delivery failed")
            async with first.context.once("hook", "8", ttl=60) as claimed:
                assert claimed is True
            ttl = await first.state.client.pttl(first.state.key("idempotency", "hook:7"))  # type: ignore[attr-defined]
            assert 50_000 < ttl <= 60_000
        finally:
            await first.state.aclose()
            await second.state.aclose()

    asyncio.run(scenario())


def test_open_state_store_reads_store_settings_from_the_url(redis: RedisServer) -> None:
    store = open_state_store(
        f"{redis.url}?prefix=app1:&lock_ttl=7.5&checkpoint_ttl=60&socket_timeout=2", max_entries=10
    )
    assert isinstance(store, RedisStateStore)
    assert (store.prefix, store.lock_ttl, store.checkpoint_ttl) == ("app1:", 7.5, 60.0)

    async def check() -> None:
        await store.set("records", "k", 1)
        assert await store.client.get("app1:records:k") == b"1"
        assert store.client.connection_pool.connection_kwargs["socket_timeout"] == 2.0
        await store.aclose()

    asyncio.run(check())


def test_passwords_never_reach_the_logs_or_clients(caplog: pytest.LogCaptureFixture) -> None:
    assert redact_url("redis://:pw@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert redact_url("rediss://user:pw@example:6380/1?prefix=x") == "rediss://user:***@example:6380/1?prefix=x"
    caplog.set_level(logging.INFO, logger="agent_framework.hosting")
    with RedisServer(redis_server_binary(), password="s3cret-pw") as server:
        good = build_host(f"redis://:s3cret-pw@127.0.0.1:{server.port}/0")
        bad = build_host(f"redis://:wr0ng-pw@127.0.0.1:{server.port}/0")
        assert "***" in good.describe() and "s3cret" not in good.describe() + repr(good.state)
        with TestClient(good.app) as client:
            assert client.post("/json", json={"text": "hi", "key": "k"}).json() == {"text": "echo 1: hi"}
        with TestClient(bad.app) as client:
            refused = client.post("/json", json={"text": "hi", "key": "k"})
    assert refused.status_code == 503
    assert "unavailable" in caplog.text
    for secret in ("s3cret", "wr0ng"):
        assert secret not in caplog.text and secret not in refused.text


def test_idle_sessions_expire_after_session_ttl(redis: RedisServer) -> None:
    host = build_host(state_url(redis), session_ttl=0.5)
    with TestClient(host.app) as client:
        assert client.post("/json", json={"text": "one", "key": "k"}).json() == {"text": "echo 1: one"}
        assert client.post("/json", json={"text": "two", "key": "k"}).json() == {"text": "echo 2: two"}
        time.sleep(0.8)
        assert client.post("/json", json={"text": "three", "key": "k"}).json() == {"text": "echo 1: three"}


def test_reset_starts_a_fresh_session_for_every_host_sharing_redis(redis: RedisServer) -> None:
    url = state_url(redis)
    first, second = build_host(url), build_host(url)
    with TestClient(first.app) as one, TestClient(second.app) as two:
        assert one.post("/json", json={"text": "a", "key": "k"}).json() == {"text": "echo 1: a"}
        assert two.post("/json", json={"text": "b", "key": "k"}).json() == {"text": "echo 2: b"}
        first.reset_session("k")
        assert two.post("/json", json={"text": "c", "key": "k"}).json() == {"text": "echo 1: c"}
        assert one.post("/json", json={"text": "d", "key": "k"}).json() == {"text": "echo 2: d"}


async def test_compare_and_set_and_delete_match_fields_on_redis(store: RedisStateStore) -> None:
    await store.set("claims", "a", {"owner": "t1", "status": "claimed"}, ttl=60)
    assert not await store.replace("claims", "a", {"status": "done"}, match={"owner": "t2"})
    assert not await store.replace("claims", "missing", {"status": "done"}, match={"owner": "t1"})
    assert await store.replace("claims", "a", {"status": "done", "owner": "t1"}, match={"owner": "t1"})
    assert await store.get("claims", "a") == {"status": "done", "owner": "t1"}
    assert 0 < await store.client.pttl(store.key("claims", "a")) <= 60_000
    assert not await store.discard("claims", "a", match={"status": "claimed"})
    assert await store.keys("claims") == ["a"]
    assert await store.discard("claims", "a", match={"owner": "t1", "status": "done"})
    assert await store.keys("claims") == []


async def test_the_ledger_outbox_and_dead_letters_are_listed_from_an_index_not_a_scan(store: RedisStateStore) -> None:
    assert await store.add("ledger", "telegram:1", {"owner": "a"})
    await store.set("ledger", "telegram:2", {"owner": "b"})
    assert not await store.add("ledger", "telegram:1", {"owner": "c"})
    assert await store.keys("ledger") == ["telegram:1", "telegram:2"]
    assert await store.discard("ledger", "telegram:1", match={"owner": "a"})
    await store.delete("ledger", "telegram:2")
    assert await store.keys("ledger") == []
    assert await store.client.scard(store._internal("index", "ledger")) == 0
