"""Append-only lists in every state store: what sessions keep their messages in."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from agent_framework_hosting import FileStateStore, MemoryStateStore, StateStore


@pytest.fixture(params=["memory", "file", "redis", "postgres"])
async def any_store(request: Any, tmp_path: Path) -> AsyncIterator[StateStore]:
    if request.param == "memory":
        yield MemoryStateStore()
    elif request.param == "file":
        yield FileStateStore(tmp_path)
    elif request.param == "postgres":
        from agent_framework_hosting import PostgresStateStore

        from .conftest import postgres_url

        store = PostgresStateStore.from_url(postgres_url(request.getfixturevalue("postgres")))
        yield store
        await store.aclose()
    else:
        from agent_framework_hosting import RedisStateStore

        server = request.getfixturevalue("redis")
        from redis_server import state_url

        store = RedisStateStore.from_url(state_url(server))
        yield store
        await store.aclose()


async def test_append_adds_at_the_expected_length_only(any_store: StateStore) -> None:
    assert await any_store.items("h", "log") == []
    assert await any_store.append("h", "log", [{"n": 1}, {"n": 2}], at=0)
    assert not await any_store.append("h", "log", [{"n": 9}], at=0)
    assert not await any_store.append("h", "log", [{"n": 9}], at=5)
    assert await any_store.append("h", "log", [{"n": 3}], at=2)
    assert await any_store.items("h", "log") == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert await any_store.items("h", "log", 1, 2) == [{"n": 2}]
    assert await any_store.items("h", "log", 2) == [{"n": 3}]
    assert await any_store.items("h", "log", 3, 3) == []


async def test_concurrent_appends_at_one_length_let_exactly_one_through(any_store: StateStore) -> None:
    outcomes = await asyncio.gather(*(any_store.append("h", "log", [i], at=0) for i in range(10)))
    assert outcomes.count(True) == 1
    assert len(await any_store.items("h", "log")) == 1


async def test_delete_removes_a_list(any_store: StateStore) -> None:
    await any_store.append("h", "log", ["a"], at=0)
    assert await any_store.delete("h", "log") is True
    assert await any_store.items("h", "log") == []
    assert await any_store.append("h", "log", ["b"], at=0)


async def test_a_list_expires_after_its_ttl_and_touch_only_extends(any_store: StateStore) -> None:
    await any_store.append("h", "short", ["a"], at=0, ttl=0.3)
    await any_store.append("h", "kept", ["a"], at=0, ttl=0.3)
    await any_store.touch("h", "kept", ttl=30)
    await any_store.touch("h", "kept", ttl=0.1)
    await asyncio.sleep(0.5)
    assert await any_store.items("h", "short") == []
    assert await any_store.items("h", "kept") == ["a"]


async def test_a_list_without_ttl_outlives_a_shorter_touch(any_store: StateStore) -> None:
    await any_store.append("h", "log", ["a"], at=0)
    await any_store.touch("h", "log", ttl=0.1)
    await asyncio.sleep(0.3)
    assert await any_store.items("h", "log") == ["a"]


async def test_a_torn_last_line_is_cut_off(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path)
    await store.append("h", "log", ["a", "b"], at=0)
    path = next((tmp_path / "h").glob("*.jsonl"))
    path.write_bytes(path.read_bytes() + b'"half')
    fresh = FileStateStore(tmp_path)
    assert await fresh.items("h", "log") == ["a", "b"]
    assert await fresh.append("h", "log", ["c"], at=2)
    assert await FileStateStore(tmp_path).items("h", "log") == ["a", "b", "c"]


async def test_the_folder_sweeper_removes_expired_lists(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path)
    await store.append("h", "gone", ["a"], at=0, ttl=0.05)
    await store.append("h", "kept", ["a"], at=0)
    time.sleep(0.1)
    assert await store.sweep("h") == 1
    assert [p.name for p in (tmp_path / "h").glob("*.jsonl")] == ["kept.jsonl"]
