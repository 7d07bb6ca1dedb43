"""Leases on Redis: turn locks across stores and processes, fencing, expiry, and leader election."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator

import pytest
from agent_framework_hosting import LeaseLostError, RedisStateStore, SessionBusyError

sys.path.insert(0, os.path.dirname(__file__))
from redis_server import HERE, RedisServer, state_url  # noqa: E402


@pytest.fixture
async def stores(redis: RedisServer) -> AsyncIterator[tuple[RedisStateStore, RedisStateStore]]:
    """Two stores on one prefix: two processes' views of the same state."""
    url = state_url(redis, lock_ttl=1.0)
    pair = (RedisStateStore.from_url(url), RedisStateStore.from_url(url))
    yield pair
    for store in pair:
        await store.aclose()


async def test_holders_on_two_stores_never_overlap(stores: tuple[RedisStateStore, RedisStateStore]) -> None:
    inside = 0
    most = 0

    async def increment(store: RedisStateStore) -> None:
        nonlocal inside, most
        async with store.lock("turn:k", wait=30):
            inside += 1
            most = max(most, inside)
            count = await store.get("counters", "k") or 0
            await asyncio.sleep(0.01)
            await store.set("counters", "k", count + 1)
            inside -= 1

    await asyncio.gather(*(increment(store) for _ in range(10) for store in stores))
    assert await stores[0].get("counters", "k") == 20
    assert most == 1


async def test_different_names_do_not_wait_for_each_other(stores: tuple[RedisStateStore, RedisStateStore]) -> None:
    first, second = stores
    async with first.lock("turn:a"):
        async with second.lock("turn:b", wait=0):
            pass


async def test_waiting_is_bounded_by_wait(stores: tuple[RedisStateStore, RedisStateStore]) -> None:
    first, second = stores
    async with first.lock("turn:k"):
        started = time.monotonic()
        with pytest.raises(SessionBusyError):
            async with second.lock("turn:k", wait=0.3):
                pass
        assert 0.25 <= time.monotonic() - started < 2
    async with second.lock("turn:k", wait=0):
        pass


async def test_fencing_tokens_grow_with_every_acquisition(stores: tuple[RedisStateStore, RedisStateStore]) -> None:
    fences = []
    for index in range(6):
        async with stores[index % 2].lock(f"turn:{index % 3}") as lease:
            fences.append(lease.fence)
    assert fences == sorted(fences) and len(set(fences)) == 6


async def test_a_held_lease_is_renewed_beyond_its_ttl(redis: RedisServer) -> None:
    url = state_url(redis, lock_ttl=0.4)
    holder, other = RedisStateStore.from_url(url), RedisStateStore.from_url(url)
    try:
        async with holder.lock("turn:k") as lease:
            for _ in range(3):
                await asyncio.sleep(0.4)
                with pytest.raises(SessionBusyError):
                    async with other.lock("turn:k", wait=0):
                        pass
            assert lease.lost is False
        async with other.lock("turn:k", wait=0):
            pass
    finally:
        await holder.aclose()
        await other.aclose()


async def test_the_lease_of_a_killed_holder_expires(redis: RedisServer) -> None:
    url = state_url(redis, lock_ttl=1.0)
    holder = await asyncio.create_subprocess_exec(
        sys.executable, HERE, "hold-lock", "--state", url, "--name", "turn:k", stdout=asyncio.subprocess.PIPE
    )
    store = RedisStateStore.from_url(url)
    try:
        assert holder.stdout is not None
        line = (await asyncio.wait_for(holder.stdout.readline(), 20)).decode()
        assert line.startswith("held ")
        with pytest.raises(SessionBusyError):
            async with store.lock("turn:k", wait=0.2):
                pass
        holder.send_signal(signal.SIGKILL)
        await asyncio.wait_for(holder.wait(), 10)
        started = time.monotonic()
        async with store.lock("turn:k", wait=10) as lease:
            waited = time.monotonic() - started
            assert lease.fence > int(line.split()[1])
        assert 0.1 < waited < 3
    finally:
        if holder.returncode is None:
            holder.kill()
            await asyncio.wait_for(holder.wait(), 10)
        await store.aclose()


async def test_a_write_under_a_lapsed_lease_is_refused(stores: tuple[RedisStateStore, RedisStateStore]) -> None:
    stalled, successor = stores
    await stalled.set("sessions", "k", "turn 1")
    async with stalled.lock("turn:k") as old:
        await stalled.client.delete(old.name)  # the lease lapses while its holder is stalled
        async with successor.lock("turn:k", wait=1) as new:
            await successor.set("sessions", "k", "turn 2 (successor)")
            with pytest.raises(LeaseLostError) as refused:
                await stalled.set("sessions", "k", "turn 2 (stale)")
            assert refused.value.status_code == 503 and old.lost is True
    assert await successor.get("sessions", "k") == "turn 2 (successor)"
    assert new.fence > old.fence


async def test_releasing_a_lapsed_lease_leaves_the_successor_holding(
    stores: tuple[RedisStateStore, RedisStateStore],
) -> None:
    stalled, successor = stores
    entered = asyncio.Event()
    leave = asyncio.Event()

    async def successor_turn() -> None:
        async with successor.lock("turn:k", wait=5):
            entered.set()
            await leave.wait()

    async with stalled.lock("turn:k") as old:
        await stalled.client.delete(old.name)
        task = asyncio.create_task(successor_turn())
        await asyncio.wait_for(entered.wait(), 5)
    assert await stalled.client.exists(old.name) == 1
    with pytest.raises(SessionBusyError):
        async with stalled.lock("turn:k", wait=0.1):
            pass
    leave.set()
    await task


async def test_writes_outside_any_lease_are_not_fenced(stores: tuple[RedisStateStore, RedisStateStore]) -> None:
    first, _ = stores
    async with first.lock("turn:k") as lease:
        await first.client.delete(lease.name)
    await first.set("sessions", "k", "after the turn")
    assert await first.get("sessions", "k") == "after the turn"


async def test_one_leader_at_a_time_and_takeover_after_release(
    stores: tuple[RedisStateStore, RedisStateStore],
) -> None:
    first, second = (store.leader("poller", ttl=5) for store in stores)
    assert await first.acquire() is True
    assert await second.acquire() is False
    assert await first.acquire() is True and first.is_leader and not second.is_leader
    term = first.fence
    await first.release()
    assert first.is_leader is False
    assert await second.acquire() is True
    assert second.fence is not None and term is not None and second.fence > term
    assert await first.acquire() is False
    await second.release()


async def test_a_live_leader_keeps_leading_beyond_its_ttl(stores: tuple[RedisStateStore, RedisStateStore]) -> None:
    leader, standby = stores[0].leader("poller", ttl=0.3), stores[1].leader("poller", ttl=0.3)
    assert await leader.acquire() is True
    await asyncio.sleep(1.0)
    assert leader.is_leader is True
    assert await standby.acquire() is False
    await leader.release()
    assert await standby.acquire() is True
    await standby.release()


async def test_a_leader_that_dies_is_replaced_within_its_ttl(redis: RedisServer) -> None:
    url = state_url(redis)
    process = await asyncio.create_subprocess_exec(
        sys.executable, HERE, "lead", "--state", url, "--name", "poller", "--ttl", "1", stdout=asyncio.subprocess.PIPE
    )
    store = RedisStateStore.from_url(url)
    standby = store.leader("poller", ttl=1)
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        assert line.startswith("leading ")
        await asyncio.sleep(1.2)
        assert await standby.acquire() is False
        process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(process.wait(), 10)
        started = time.monotonic()
        while not await standby.acquire():
            assert time.monotonic() - started < 5
            await asyncio.sleep(0.05)
        assert 0.1 < time.monotonic() - started < 3
        assert standby.fence is not None and standby.fence > int(line.split()[1])
    finally:
        if process.returncode is None:
            process.kill()
            await asyncio.wait_for(process.wait(), 10)
        await standby.release()
        await store.aclose()


async def test_a_leader_whose_lease_lapsed_learns_it_on_renew(stores: tuple[RedisStateStore, RedisStateStore]) -> None:
    stale, standby = stores[0].leader("poller", ttl=5), stores[1].leader("poller", ttl=5)
    assert await stale.acquire() is True
    await stores[0].client.delete(stale.name)
    assert await standby.acquire() is True
    assert await stale.renew() is False
    assert stale.is_leader is False
    assert await stale.acquire() is False
    await stale.release()
    assert await standby.renew() is True
    await standby.release()


async def test_leaving_the_leader_context_steps_down(stores: tuple[RedisStateStore, RedisStateStore]) -> None:
    async with stores[0].leader("poller", ttl=30) as leader:
        assert await leader.acquire() is True
    other = stores[1].leader("poller", ttl=30)
    assert await other.acquire() is True
    await other.release()
