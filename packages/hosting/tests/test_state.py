"""The state stores behind sessions, aliases, locks and idempotency keys."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
from pathlib import Path

import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost, FileStateStore, MemoryStateStore, SessionBusyError, StateStore
from agent_framework_hosting.testing import OfflineChatClient


@pytest.fixture(params=["memory", "file"])
def store(request, tmp_path: Path) -> StateStore:
    return MemoryStateStore() if request.param == "memory" else FileStateStore(tmp_path)


async def test_set_get_delete(store: StateStore) -> None:
    assert await store.get("ns", "k") is None
    await store.set("ns", "k", {"a": [1, 2]})
    assert await store.get("ns", "k") == {"a": [1, 2]}
    assert await store.get("other", "k") is None
    assert await store.delete("ns", "k") is True
    assert await store.delete("ns", "k") is False
    assert await store.get("ns", "k") is None


async def test_add_stores_only_when_absent(store: StateStore) -> None:
    assert await store.add("ns", "k", 1) is True
    assert await store.add("ns", "k", 2) is False
    assert await store.get("ns", "k") == 1


async def test_concurrent_adds_let_exactly_one_through(store: StateStore) -> None:
    outcomes = await asyncio.gather(*(store.add("ns", "same", i) for i in range(20)))
    assert outcomes.count(True) == 1


async def test_entries_expire_after_their_ttl(store: StateStore) -> None:
    await store.set("ns", "short", "v", ttl=0.05)
    await store.set("ns", "long", "v", ttl=60)
    await asyncio.sleep(0.1)
    assert await store.get("ns", "short") is None
    assert await store.get("ns", "long") == "v"
    assert await store.add("ns", "short", "again") is True


async def test_lock_serializes_holders_of_one_name_and_not_others(store: StateStore) -> None:
    order: list[str] = []

    async def hold(name: str, tag: str) -> None:
        async with store.lock(name):
            order.append(f"{tag}+")
            await asyncio.sleep(0.02)
            order.append(f"{tag}-")

    await asyncio.gather(hold("a", "1"), hold("a", "2"))
    assert order in (["1+", "1-", "2+", "2-"], ["2+", "2-", "1+", "1-"])
    order.clear()
    await asyncio.gather(hold("a", "1"), hold("b", "2"))
    assert order[:2] == ["1+", "2+"]


async def test_lock_wait_is_bounded(store: StateStore) -> None:
    async with store.lock("busy"):
        with pytest.raises(SessionBusyError):
            async with store.lock("busy", wait=0.05):
                pass
    async with store.lock("busy", wait=0.05):
        pass


async def test_memory_store_evicts_the_least_recently_used() -> None:
    store = MemoryStateStore(max_entries=2)
    await store.set("ns", "a", 1)
    await store.set("ns", "b", 2)
    await store.get("ns", "a")
    await store.set("ns", "c", 3)
    assert (await store.get("ns", "a"), await store.get("ns", "b"), await store.get("ns", "c")) == (1, None, 3)
    with pytest.raises(ValueError):
        MemoryStateStore(max_entries=0)


async def test_memory_store_never_evicts_a_pinned_namespace_but_sweeps_what_expired() -> None:
    store = MemoryStateStore(max_entries=2, pinned={"ledger"})
    for index in range(5):
        await store.set("ledger", f"in-flight-{index}", index)
        await store.set("sessions", f"s{index}", index)
    assert [await store.get("ledger", f"in-flight-{index}") for index in range(5)] == [0, 1, 2, 3, 4]
    assert [await store.get("sessions", f"s{index}") for index in range(5)] == [None, None, None, 3, 4]
    for index in range(5):
        await store.set("ledger", f"done-{index}", index, ttl=0.01)
    await asyncio.sleep(0.05)
    for index in range(20):
        await store.set("ledger", f"later-{index}", index)
    assert sorted(await store.keys("ledger")) == sorted(
        [*(f"in-flight-{index}" for index in range(5)), *(f"later-{index}" for index in range(20))]
    )
    assert len(store._space("ledger")) == 25  # type: ignore[attr-defined]


async def test_a_host_in_memory_keeps_every_delivery_in_flight_past_max_sessions() -> None:
    from agent_framework_hosting._host import IN_FLIGHT_NAMESPACES

    host = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="a"), channels=[], max_sessions=2)
    assert isinstance(host.state, MemoryStateStore)
    assert set(IN_FLIGHT_NAMESPACES) <= host.state.pinned
    context = host.context.bind("chat")
    tickets = [await context.accept(f"update-{index}", {"n": index}) for index in range(10)]
    assert all(ticket is not None for ticket in tickets)
    assert [await context.accept(f"update-{index}", {"n": index}) for index in range(10)] == [None] * 10


async def test_memory_store_locks_do_not_leak() -> None:
    store = MemoryStateStore()
    for index in range(100):
        async with store.lock(f"k{index}"):
            pass
    assert len(store._locks) == 0  # type: ignore[attr-defined]


async def test_file_store_survives_a_new_instance(tmp_path: Path) -> None:
    await FileStateStore(tmp_path).set("sessions", "user/1", {"v": 1})
    assert await FileStateStore(tmp_path).get("sessions", "user/1") == {"v": 1}


async def test_a_record_file_keeps_its_key_only_where_its_name_cannot_give_it_back(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path)
    long_key = "k" * 300  # hashed into the file name
    await store.set("ns", "user/1", {"v": 1})
    await store.set("ns", long_key, {"v": 2}, ttl=60)
    (plain,) = (tmp_path / "ns").glob("user*.json")
    assert json.loads(plain.read_bytes()) == {"value": {"v": 1}}  # no key, no empty expiry
    (hashed,) = (tmp_path / "ns").glob("~*.json")
    assert json.loads(hashed.read_bytes())["key"] == long_key
    # A file an earlier version wrote (key and expiry always) still reads.
    (tmp_path / "ns" / "old.json").write_text(json.dumps({"key": "old", "expires_at": None, "value": {"v": 3}}))
    again = FileStateStore(tmp_path)
    assert sorted(await again.keys("ns")) == sorted(["user/1", long_key, "old"])
    assert [await again.get("ns", key) for key in ("user/1", long_key, "old")] == [{"v": 1}, {"v": 2}, {"v": 3}]


def _write_forever(root: str) -> None:
    store = FileStateStore(root)
    big = {"blob": "x" * 200_000}
    while True:
        asyncio.run(store.set("ns", "k", big))


async def test_a_writer_killed_mid_write_never_leaves_a_corrupt_value(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path)
    await store.set("ns", "k", {"blob": "x" * 200_000})
    for _ in range(5):
        writer = multiprocessing.get_context("fork").Process(target=_write_forever, args=(str(tmp_path),))
        writer.start()
        await asyncio.sleep(0.15)
        os.kill(writer.pid, signal.SIGKILL)
        writer.join(5)
        assert await store.get("ns", "k") == {"blob": "x" * 200_000}


async def test_file_store_reads_a_damaged_file_as_absent(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path)
    await store.set("ns", "k", 1)
    next((tmp_path / "ns").iterdir()).write_text("{broken")
    assert await store.get("ns", "k") is None


async def test_empty_keys_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        await FileStateStore(tmp_path).set("ns", "", 1)


async def test_file_store_sweeps_expired_records_so_short_lived_folders_stay_bounded(tmp_path: Path) -> None:
    store = FileStateStore(tmp_path, sweep_interval=0)
    for index in range(20):
        await store.add("idempotency", f"old-{index}", True, ttl=0.01)
    await store.set("idempotency", "keep", True)
    await asyncio.sleep(0.05)
    await store.add("idempotency", "fresh", True, ttl=60)
    await store.aclose()
    names = sorted(p.name for p in (tmp_path / "idempotency").iterdir())
    assert names == ["fresh.json", "keep.json"]
    assert await store.sweep("idempotency") == 0


async def test_memory_state_warns_once_in_a_while_when_it_starts_forgetting(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStateStore(max_entries=2)
    for index in range(2):
        await store.set("sessions", f"k{index}", index)
    assert "memory state is full" not in caplog.text
    for index in range(2, 6):
        await store.set("sessions", f"k{index}", index)
    assert caplog.text.count("memory state is full") == 1
    assert "cap 2" in caplog.text and store.evicted == 4


async def test_compare_and_set_and_delete_match_fields(tmp_path: Path) -> None:
    for store in (MemoryStateStore(), FileStateStore(tmp_path)):
        await store.set("claims", "a", {"owner": "t1", "status": "claimed"})
        assert not await store.replace("claims", "a", {"status": "done"}, match={"owner": "t2"})
        assert not await store.replace("claims", "missing", {"status": "done"}, match={"owner": "t1"})
        assert await store.replace("claims", "a", {"status": "done", "owner": "t1"}, match={"owner": "t1"})
        assert await store.get("claims", "a") == {"status": "done", "owner": "t1"}
        assert not await store.discard("claims", "a", match={"status": "claimed"})
        assert await store.keys("claims") == ["a"]
        assert await store.discard("claims", "a", match={"owner": "t1", "status": "done"})
        assert await store.keys("claims") == []
