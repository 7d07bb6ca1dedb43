"""A thread's seen ids: kept apart from its record, read incrementally, shared between processes, bounded."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_framework_hosting import FileStateStore, MemoryStateStore, StateStore
from agent_framework_hosting.testing import RedisServer, redis_server_binary
from agent_framework_hosting_ag_ui import _threads
from agent_framework_hosting_ag_ui._threads import SEEN, THREADS, Threads


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with RedisServer(redis_server_binary()) as redis:
        yield redis.url


@pytest.fixture(params=["memory", "folder", "redis"])
async def store(request: Any, tmp_path: Path) -> AsyncIterator[StateStore]:
    if request.param == "memory":
        yield MemoryStateStore()
    elif request.param == "folder":
        yield FileStateStore(tmp_path)
    else:
        from agent_framework_hosting import RedisStateStore

        redis = RedisStateStore.from_url(request.getfixturevalue("redis_url"))
        for key in await redis.keys(THREADS):
            await redis.delete(THREADS, key)
        await redis.delete(SEEN, "t")
        yield redis
        await redis.aclose()


async def remember(threads: Threads, ids: list[str], thread: str = "t") -> None:
    record = await threads.get(thread)
    record.remember(ids)
    await threads.save(thread, record)


async def test_a_thread_remembers_ids_and_its_state_between_runs(store: StateStore) -> None:
    threads = Threads(store)
    record = await threads.get("t")
    assert not record.has_seen("m1")
    record.remember(["m1", "m2"])
    assert record.has_seen("m1"), "seen within the run already"
    record.state = {"todo": ["a"]}
    await threads.save("t", record)
    again = await Threads(store).get("t")
    assert again.has_seen("m1") and again.has_seen("m2") and not again.has_seen("m3")
    assert again.state == {"todo": ["a"]}


async def test_the_record_a_run_loads_does_not_grow_with_the_conversation(store: StateStore) -> None:
    threads = Threads(store)
    for run in range(50):
        await remember(threads, [f"user-{run}", f"assistant-{run}"])
    record = await store.get(THREADS, "t")
    assert record["seen"] == {"count": 100, "generation": 0}
    assert len(await store.items(SEEN, "t")) == 100


async def test_a_process_reads_only_what_others_appended_since_it_last_looked(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = Threads(store), Threads(store)
    await remember(first, ["a", "b"])
    assert (await second.get("t")).has_seen("b")
    await remember(first, ["c"])
    read: list[tuple[int, int | None]] = []
    items = store.items

    async def counting(namespace: str, key: str, start: int = 0, stop: int | None = None) -> list[Any]:
        read.append((start, stop))
        return await items(namespace, key, start, stop)

    monkeypatch.setattr(store, "items", counting)
    record = await second.get("t")
    assert record.has_seen("c") and record.has_seen("a")
    assert read == [(2, 3)], "only the id appended by the other process was read"
    read.clear()
    await second.get("t")
    assert read == [], "nothing new: nothing read"


async def test_the_ids_are_cut_back_to_the_newest_and_other_processes_notice(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_threads, "MAX_SEEN", 10)
    first, second = Threads(store), Threads(store)
    await remember(first, [f"old-{n}" for n in range(15)])
    assert (await second.get("t")).has_seen("old-0")
    await remember(first, [f"new-{n}" for n in range(6)])  # 21 > 2 x 10: cut to the newest 10
    assert len(await store.items(SEEN, "t")) == 10
    record = await second.get("t")
    assert record.has_seen("new-5") and record.has_seen("old-11") and not record.has_seen("old-10")


async def test_ids_written_by_a_run_that_stopped_before_saving_its_record_are_kept(store: StateStore) -> None:
    threads = Threads(store)
    await remember(threads, ["a"])
    assert await store.append(SEEN, "t", ["stray"], at=1), "a run appended, then stopped before saving the record"
    await remember(Threads(store), ["b"])
    record = await Threads(store).get("t")
    assert all(record.has_seen(item) for item in ("a", "stray", "b"))


async def test_a_record_written_before_the_ids_had_their_own_list_is_read_and_moved(store: StateStore) -> None:
    await store.set(THREADS, "t", {"seen": ["m1", "call:c1"], "state": {"x": 1}, "approvals": {}})
    threads = Threads(store)
    record = await threads.get("t")
    assert record.has_seen("m1") and record.has_seen("call:c1") and record.state == {"x": 1}
    await threads.save("t", record)
    assert await store.items(SEEN, "t") == ["m1", "call:c1"]
    assert (await Threads(store).get("t")).has_seen("m1")
