"""PostgresStateStore: values, expiry, claims, leases with fencing, leaders, migrations and checkpoints."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from agent_framework_hosting import (
    AgentFrameworkHost,
    ChannelRequest,
    ChannelSession,
    LeaseLostError,
    PostgresStateStore,
    SessionBusyError,
    StateStore,
    StateUnavailableError,
)
from agent_framework_hosting.testing import PostgresServer

from .conftest import postgres_url, turn
from .test_redis_checkpoints import (  # noqa: F401  (collected here again, against PostgreSQL)
    test_checkpoints_round_trip_with_non_json_values,
    test_latest_list_and_delete_follow_timestamps_per_workflow,
    test_scopes_never_see_each_others_checkpoints,
)


@pytest.fixture
async def store(postgres: Any) -> AsyncIterator[PostgresStateStore]:
    store = PostgresStateStore.from_url(postgres_url(postgres))
    yield store
    await store.aclose()


@pytest.fixture
async def stores(postgres: Any) -> AsyncIterator[tuple[PostgresStateStore, PostgresStateStore]]:
    url = postgres_url(postgres, lock_ttl=1.0)
    pair = (PostgresStateStore.from_url(url), PostgresStateStore.from_url(url))
    yield pair
    for each in pair:
        await each.aclose()


async def test_it_is_a_state_store_and_values_round_trip(store: PostgresStateStore) -> None:
    assert isinstance(store, StateStore)
    assert await store.get("ns", "k") is None
    await store.set("ns", "k", {"text": "héllo", "n": [1, 2.5, None, True]})
    assert await store.get("ns", "k") == {"text": "héllo", "n": [1, 2.5, None, True]}
    assert await store.get("other", "k") is None
    assert await store.delete("ns", "k") is True and await store.delete("ns", "k") is False
    with pytest.raises(ValueError):
        await store.set("ns", "", 1)


async def test_values_expire_and_claims_are_taken_again_after_expiry(store: PostgresStateStore) -> None:
    await store.set("ns", "short", 1, ttl=0.2)
    assert await store.add("ns", "claim", "a", ttl=0.2) is True
    assert await store.add("ns", "claim", "b", ttl=0.2) is False
    await asyncio.sleep(0.3)
    assert await store.get("ns", "short") is None
    assert await store.add("ns", "claim", "c") is True
    assert await store.get("ns", "claim") == "c"
    assert await store.sweep() >= 1


async def test_concurrent_claims_from_two_stores_have_exactly_one_winner(stores: Any) -> None:
    outcomes = await asyncio.gather(*(stores[i % 2].add("idempotency", "u1", i) for i in range(20)))
    assert outcomes.count(True) == 1


async def test_replace_and_discard_compare_fields_first(store: PostgresStateStore) -> None:
    await store.set("ledger", "t", {"owner": "a", "state": "running", "n": 1, "done": False})
    assert await store.replace("ledger", "t", {"owner": "b"}, match={"owner": "x"}) is False
    assert await store.replace("ledger", "t", {"owner": "b"}, match={"owner": "a", "n": "1", "done": "false"})
    assert await store.get("ledger", "t") == {"owner": "b"}
    assert await store.discard("ledger", "t", match={"owner": "a"}) is False
    assert await store.discard("ledger", "t", match={"owner": "b"}) is True
    assert await store.keys("ledger") == []


async def test_holders_on_two_stores_never_overlap_and_fences_grow(stores: Any) -> None:
    inside, fences = [], []

    async def turn_on(store: PostgresStateStore) -> None:
        async with store.lock("turn:k", wait=30) as lease:
            inside.append(1)
            assert len(inside) == 1
            fences.append(lease.fence)
            await asyncio.sleep(0.01)
            inside.pop()

    await asyncio.gather(*(turn_on(stores[i % 2]) for i in range(10)))
    assert fences == sorted(fences) and len(set(fences)) == 10


async def test_waiting_is_bounded_and_a_held_lease_is_renewed_beyond_its_ttl(stores: Any) -> None:
    holder, other = stores
    async with holder.lock("turn:k") as lease:
        await asyncio.sleep(1.6)  # longer than lock_ttl (1 s): renewed in the background
        started = time.monotonic()
        with pytest.raises(SessionBusyError):
            async with other.lock("turn:k", wait=0.3):
                pass
        assert time.monotonic() - started < 2
        assert lease.lost is False


async def test_a_write_under_a_lapsed_lease_is_refused(stores: Any) -> None:
    stalled, successor = stores
    await stalled.set("sessions", "k", "turn 1")
    async with stalled.lock("turn:k") as old:
        await stalled._run("UPDATE {s}.afh_leases SET expires_at = now() - interval '1 s'")  # it lapses
        async with successor.lock("turn:k", wait=1) as new:
            await successor.set("sessions", "k", "turn 2 (successor)")
            with pytest.raises(LeaseLostError):
                await stalled.set("sessions", "k", "turn 2 (stale)")
            with pytest.raises(LeaseLostError):
                await stalled.append("history", "k", ["stale"], at=0)
            assert old.lost is True
    assert await successor.get("sessions", "k") == "turn 2 (successor)"
    assert await successor.items("history", "k") == []
    assert new.fence > old.fence


async def test_one_leader_at_a_time_and_takeover_after_release(stores: Any) -> None:
    first, second = stores[0].leader("poller", ttl=1), stores[1].leader("poller", ttl=1)
    assert await first.acquire() is True and await second.acquire() is False
    await asyncio.sleep(1.3)
    assert await first.acquire() is True and first.is_leader  # renewed in the background meanwhile
    term = first.fence
    await first.release()
    assert await second.acquire() is True and second.fence is not None and term is not None and second.fence > term
    await second.release()


async def test_migrations_run_once_even_when_processes_start_together(postgres: Any) -> None:
    url = postgres_url(postgres)
    many = [PostgresStateStore.from_url(url) for _ in range(4)]
    try:
        await asyncio.gather(*(store.ping() for store in many))
        assert {await store.schema_version() for store in many} == {1}
        rows = await many[0]._run("SELECT count(*) FROM {s}.afh_schema_version")
        assert rows[0][0] == 1
    finally:
        for store in many:
            await store.aclose()


async def test_an_unreachable_database_is_a_503_not_a_crash() -> None:
    with PostgresServer() as server:
        url = postgres_url(server)
    store = PostgresStateStore.from_url(url)
    started = time.monotonic()
    with pytest.raises(StateUnavailableError) as raised:
        await store.get("ns", "k")
    assert raised.value.status_code == 503 and time.monotonic() - started < 15
    await store.aclose()


async def test_a_host_on_postgresql_keeps_conversations_across_hosts(postgres: Any, agent: Any) -> None:
    url = postgres_url(postgres)
    first = AgentFrameworkHost(agent, channels=[], state_dir=url)
    assert (await first.context.run(turn("my name is Ada", "k"))).text == "echo 1: my name is Ada"
    await first.state.aclose()
    second = AgentFrameworkHost(agent, channels=[], state_dir=url)
    assert (await second.context.run(turn("who am I?", "k"))).text == "echo 2: who am I?"
    assert "postgresql://postgres@127.0.0.1" in second.describe()
    await second.state.aclose()


async def test_a_session_save_takes_a_transaction_only_for_messages_with_their_record(
    postgres: Any, agent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = AgentFrameworkHost(agent, channels=[], state_dir=postgres_url(postgres))
    batches = []
    batch = host.state.batch

    @contextlib.asynccontextmanager
    async def counted() -> AsyncIterator[None]:
        batches.append(1)
        async with batch():
            yield

    monkeypatch.setattr(host.state, "batch", counted)
    await host.context.run(turn("hello there", "chat"))  # the new messages and the record commit together
    assert len(batches) == 1
    unrecorded = ChannelSession("response:1", fresh=True, recorded=False)
    ran = await host.context.run(ChannelRequest(channel="test", operation="message", input="hi", session=unrecorded))
    assert len(batches) == 1  # the messages alone: one statement, atomic by itself
    reference = await host.context.session_reference(ran.session)
    assert reference is not None
    assert [m.text for m in await host.context.referenced_history(reference) or []] == ["hi", "echo 1: hi"]
    await host.state.aclose()


def test_passwords_never_reach_the_description() -> None:
    store = PostgresStateStore.from_url("postgresql://app:s3cret@db.internal:5432/app?schema=afh")
    assert "s3cret" not in repr(store) and "s3cret" not in store.location
    assert store.schema == "afh"
    with pytest.raises(ValueError):
        PostgresStateStore("postgresql://x/y", schema="bad; drop table")


async def test_a_batch_commits_all_of_its_writes_or_none(store: PostgresStateStore) -> None:
    async with store.batch():
        assert await store.append("history", "log", ["a"], at=0)
        await store.set("sessions", "k", {"end": 1})
    with pytest.raises(RuntimeError):
        async with store.batch():
            assert await store.append("history", "log", ["b"], at=1)
            await store.set("sessions", "k", {"end": 2})
            raise RuntimeError("the turn failed before it committed")
    assert await store.items("history", "log") == ["a"]
    assert await store.get("sessions", "k") == {"end": 1}
