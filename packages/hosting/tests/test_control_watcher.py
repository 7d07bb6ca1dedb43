"""Stop requests from other processes arrive pushed (Redis pub/sub, PostgreSQL NOTIFY): nothing polls the store."""

from __future__ import annotations

import asyncio
import collections
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from agent_framework_hosting._control import RUNNING, STOP, STOP_SIGNAL, RunningTurns, TurnControl
from agent_framework_hosting._postgres import PostgresStateStore
from agent_framework_hosting._redis import RedisStateStore

from .conftest import postgres_url

sys.path.insert(0, os.path.dirname(__file__))
from redis_server import RedisServer, state_url  # noqa: E402

TURNS = 20
PROMPT = 1.0  # seconds: a pushed stop arrives within a few milliseconds; this bound only absorbs a loaded machine

Store = RedisStateStore | PostgresStateStore


def counting(store: Store) -> collections.Counter[str]:
    """Count the store's calls by method and namespace (`get:turn-stop`, `set:turn-running`, ...)."""
    calls: collections.Counter[str] = collections.Counter()
    for method in ("get", "set", "discard", "items", "keys"):
        original = getattr(store, method)

        def counted(namespace: str, *args: Any, _original: Any = original, _method: str = method, **kwargs: Any) -> Any:
            calls[f"{_method}:{namespace}"] += 1
            return _original(namespace, *args, **kwargs)

        setattr(store, method, counted)
    return calls


@asynccontextmanager
async def two_processes(backend: str, request: pytest.FixtureRequest) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores on one server and namespace, each with connections of its own (as two processes have)."""
    if backend == "redis":
        url = state_url(request.getfixturevalue("redis"))
        stores: tuple[Store, Store] = (RedisStateStore.from_url(url), RedisStateStore.from_url(url))
    else:
        url = postgres_url(request.getfixturevalue("postgres"))
        stores = (PostgresStateStore.from_url(url), PostgresStateStore.from_url(url))
    try:
        yield stores
    finally:
        for store in stores:
            await store.aclose()


async def stopped(control: TurnControl, within: float = PROMPT) -> float:
    """Seconds until `control` was interrupted (fails after `within`)."""
    started = time.monotonic()
    while not control.requested:
        assert time.monotonic() - started < within, "the stop did not reach the running turn"
        await asyncio.sleep(0.005)
    return time.monotonic() - started


async def subscribed(turns: RunningTurns) -> None:
    """Wait until the process's subscription holds (its first check of the stop records has run)."""
    for _ in range(200):
        if turns.subscribed:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the stop subscription was not made")


@pytest.mark.parametrize("backend", ["redis", "postgresql"])
async def test_a_stop_from_another_process_reaches_only_its_turn_at_once_and_nothing_polls(
    backend: str, request: pytest.FixtureRequest
) -> None:
    async with two_processes(backend, request) as (here, elsewhere):
        calls = counting(here)
        turns = RunningTurns(here)
        async with AsyncExitStack() as stack:
            controls = [await stack.enter_async_context(turns.running(f"chat-{n}")) for n in range(TURNS)]
            await subscribed(turns)
            calls.clear()
            await asyncio.sleep(0.5)  # ten intervals of the former 50 ms poll
            assert sum(calls.values()) == 0, f"the store was read while turns ran: {calls}"
            assert await RunningTurns(elsewhere).interrupt("chat-7")
            await stopped(controls[7])
            await asyncio.sleep(0.1)
            assert [n for n, control in enumerate(controls) if control.requested] == [7]
            assert sum(calls.values()) == 0, f"a pushed stop needs no read: {calls}"
        await turns.aclose()


@pytest.mark.parametrize("backend", ["redis", "postgresql"])
async def test_nothing_polls_while_the_process_is_idle(backend: str, request: pytest.FixtureRequest) -> None:
    async with two_processes(backend, request) as (here, elsewhere):
        calls = counting(here)
        turns = RunningTurns(here)
        async with turns.running("chat"):
            await subscribed(turns)
        calls.clear()
        before = await server_commands(here)
        await asyncio.sleep(1.0)
        assert sum(calls.values()) == 0, f"the store was read while no turn ran: {calls}"
        if before is not None:
            assert await server_commands(here) - before <= 1, "the idle process sent commands to Redis"
        # Still subscribed: the next turn hears a stop without subscribing again.
        async with turns.running("chat") as control:
            assert await RunningTurns(elsewhere).interrupt("chat")
            await stopped(control)
        await turns.aclose()


async def server_commands(store: Store) -> int | None:
    """Commands Redis has processed so far (counting this INFO call), None for PostgreSQL."""
    if not isinstance(store, RedisStateStore):
        return None
    info = await store.client.info("stats")
    return int(info["total_commands_processed"])


async def break_subscription(store: Store) -> None:
    """Cut the process's subscription connection on the server (as a network fault or server restart would)."""
    if isinstance(store, RedisStateStore):
        assert await store.client.client_kill_filter(_type="pubsub") >= 1
        return
    async with store.connection() as connection:
        cursor = await connection.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE 'LISTEN %%'"
        )
        row = await cursor.fetchone()
        assert row is not None and row[0] >= 1


@pytest.mark.parametrize("backend", ["redis", "postgresql"])
async def test_a_stop_sent_while_the_subscription_was_down_is_read_when_it_is_remade(
    backend: str, request: pytest.FixtureRequest
) -> None:
    async with two_processes(backend, request) as (here, elsewhere):
        turns = RunningTurns(here)
        other = RunningTurns(elsewhere)
        async with turns.running("chat") as control:
            await subscribed(turns)

            async def lost(channel: str, message: str) -> None:
                """The message that the broken subscription never hears."""

            other._signals = type("Lost", (), {"publish": staticmethod(lost)})()  # type: ignore[assignment]
            await break_subscription(here)
            assert await other.interrupt("chat")
            await stopped(control, within=5.0)
        await turns.aclose()


@pytest.mark.parametrize("backend", ["redis", "postgresql"])
async def test_the_running_record_is_cleared_when_the_turn_ends(backend: str, request: pytest.FixtureRequest) -> None:
    async with two_processes(backend, request) as (here, elsewhere):
        turns = RunningTurns(here)
        async with turns.running("chat") as control:
            assert await elsewhere.get(RUNNING, "chat") == {"id": control.id}
        assert await elsewhere.get(RUNNING, "chat") is None
        assert not await RunningTurns(elsewhere).interrupt("chat"), "no turn runs: nothing to stop"
        assert await elsewhere.get(STOP_SIGNAL, "any") is None and await elsewhere.get(STOP, "chat") is None
        await turns.aclose()


async def test_a_shared_store_that_cannot_publish_is_polled_while_turns_run(redis: RedisServer) -> None:
    """A third-party shared store without `publish`/`listen` still gets stops, by the interval's signal read."""

    class Unpublished:
        shared = True

        def __init__(self, store: RedisStateStore) -> None:
            self.store = store

        def __getattr__(self, name: str) -> Any:
            if name in ("publish", "listen"):
                raise AttributeError(name)
            return getattr(self.store, name)

    url = state_url(redis)
    here, elsewhere = RedisStateStore.from_url(url), RedisStateStore.from_url(url)
    try:
        turns = RunningTurns(Unpublished(here))  # type: ignore[arg-type]
        assert not turns.pushed
        async with turns.running("chat") as control:
            assert await RunningTurns(Unpublished(elsewhere)).interrupt("chat")  # type: ignore[arg-type]
            await stopped(control)
        await turns.aclose()
    finally:
        await here.aclose()
        await elsewhere.aclose()
