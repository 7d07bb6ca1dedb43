"""Stop requests from other processes arrive pushed (Redis pub/sub, PostgreSQL NOTIFY): nothing polls the store."""

from __future__ import annotations

import asyncio
import collections
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

import pytest
from agent_framework_hosting import _control, _remote
from agent_framework_hosting._control import RUNNING, STOP, STOP_SIGNAL, RunningTurns, TurnControl
from agent_framework_hosting._errors import StateUnavailableError
from agent_framework_hosting._redis import RedisStateStore

from .conftest import postgres_url

sys.path.insert(0, os.path.dirname(__file__))
from redis_server import RedisServer, state_url  # noqa: E402

TURNS = 20
PROMPT = 1.0  # seconds: a pushed stop arrives within a few milliseconds; this bound only absorbs a loaded machine

if TYPE_CHECKING:  # psycopg is the `postgres` extra: only the PostgreSQL tests import it
    from agent_framework_hosting._postgres import PostgresStateStore

    Store = RedisStateStore | PostgresStateStore
else:
    Store = Any


def postgres_store(url: str) -> PostgresStateStore:
    pytest.importorskip("psycopg", reason="the PostgreSQL tests need the `postgres` extra")
    from agent_framework_hosting._postgres import PostgresStateStore

    return PostgresStateStore.from_url(url)


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
async def two_processes(
    backend: str, request: pytest.FixtureRequest, *, here_port: int | None = None, schema: str | None = None
) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores on one server and namespace, each with connections of its own (as two processes have);
    `here_port`: the first one reaches the server through this port (a proxy)."""
    if backend == "redis":
        server = request.getfixturevalue("redis")
        url = state_url(server)
        near = url if here_port is None else url.replace(f":{server.port}/", f":{here_port}/")
        stores: tuple[Store, Store] = (RedisStateStore.from_url(near), RedisStateStore.from_url(url))
    else:
        server = request.getfixturevalue("postgres")
        url = postgres_url(server, schema=schema)
        near = url if here_port is None else url.replace(f":{server.port}/", f":{here_port}/")
        stores = (postgres_store(near), postgres_store(url))
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


@pytest.fixture
def no_safety_net(monkeypatch: pytest.MonkeyPatch) -> None:
    """No read of the stop signal per refresh tick (its own test below): only the subscription can stop a turn."""
    monkeypatch.setattr(_control, "TICK", 60.0)


@pytest.mark.usefixtures("no_safety_net")
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


def losing_publishes(turns: RunningTurns) -> None:
    """Make `turns` record and signal its stops but lose their publish (as a dropped subscription would)."""

    async def lost(channel: str, message: str) -> None:
        """The message that no subscription hears."""

    turns._signals = type("Lost", (), {"publish": staticmethod(lost)})()  # type: ignore[assignment]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["redis", "postgresql"])
async def test_a_stop_whose_publish_was_lost_still_stops_the_turn_within_a_refresh_tick(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """The safety net: the subscription holds but never hears the stop; the tick's signal read finds it."""
    async with two_processes(backend, request) as (here, elsewhere):
        calls = counting(here)
        turns = RunningTurns(here)
        other = RunningTurns(elsewhere)
        losing_publishes(other)
        async with turns.running("chat") as control, turns.running("other") as bystander:
            await subscribed(turns)
            calls.clear()
            assert await other.interrupt("chat")
            waited = await stopped(control, within=_control.TICK + 2.0)
            assert not bystander.requested
        assert waited > 0.1, "the stop was not pushed: only the tick's read can have found it"
        # Per tick one read of the signal for the process (a second tick only on a slow machine); the turns' stop
        # records only when it changed.
        assert 1 <= calls["get:turn-stop-signal"] <= 2 and calls["get:turn-stop"] == 2, calls
        await turns.aclose()


class SilencingProxy:
    """A loopback TCP proxy that can drop, without a word to either end, everything on the subscription
    connections passing through it (as a load balancer's idle timeout or a NAT does)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.links: list[dict[str, bool]] = []
        self.port = 0

    async def __aenter__(self) -> SilencingProxy:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()

    def silence_subscriptions(self) -> int:
        links = [link for link in self.links if link["subscription"]]
        for link in links:
            link["silent"] = True
        return len(links)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target)
        link = {"subscription": False, "silent": False}
        self.links.append(link)
        try:
            await asyncio.gather(
                self._pipe(reader, upstream_writer, link, sniff=True), self._pipe(upstream_reader, writer, link)
            )
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            upstream_writer.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: dict[str, bool], sniff: bool = False
    ) -> None:
        while data := await reader.read(65536):
            if sniff and (b"SUBSCRIBE" in data.upper() or b"LISTEN " in data):
                link["subscription"] = True
            if not link["silent"]:
                writer.write(data)
                await writer.drain()


@pytest.mark.usefixtures("no_safety_net")
@pytest.mark.parametrize("backend", ["redis", "postgresql"])
async def test_a_subscription_dropped_without_a_word_is_noticed_and_made_again(
    backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_remote, "SUBSCRIPTION_IDLE", 0.2)
    target = request.getfixturevalue("redis" if backend == "redis" else "postgres").port
    async with SilencingProxy(target) as proxy, two_processes(backend, request, here_port=proxy.port) as stores:
        here, elsewhere = stores
        turns = RunningTurns(here)
        made = counted_subscriptions(turns)
        async with turns.running("chat") as control:
            await subscribed(turns)
            assert proxy.silence_subscriptions() == 1
            for _ in range(500):  # the unanswered ping shows the connection is gone: subscribe again
                if made[0] >= 2:
                    break
                await asyncio.sleep(0.01)
            assert made[0] >= 2, "the silently dropped subscription was never noticed"
            await elsewhere.publish(STOP, control.id)
            await stopped(control)
        await turns.aclose()


def counted_subscriptions(turns: RunningTurns) -> list[int]:
    """How often `turns` heard its subscription (re)made (the handler's None), in a one-item list."""
    made = [0]
    heard = turns._heard

    async def counting_heard(message: str | None) -> None:
        if message is None:
            made[0] += 1
        await heard(message)

    turns._heard = counting_heard  # type: ignore[method-assign]
    return made


@pytest.mark.usefixtures("no_safety_net")
@pytest.mark.parametrize("backend", ["redis", "postgresql"])
async def test_a_failed_check_after_resubscribing_subscribes_again_and_reads_the_missed_stop(
    backend: str, request: pytest.FixtureRequest
) -> None:
    async with two_processes(backend, request) as (here, elsewhere):
        turns = RunningTurns(here)
        other = RunningTurns(elsewhere)
        losing_publishes(other)
        made = counted_subscriptions(turns)
        async with turns.running("chat") as control:
            await subscribed(turns)
            get, failures = here.get, [0]

            async def failing_once(namespace: str, key: str) -> Any:
                if namespace == STOP and not failures[0]:
                    failures[0] += 1
                    raise StateUnavailableError("the store is unavailable; retry shortly")
                return await get(namespace, key)

            here.get = failing_once  # type: ignore[method-assign]
            assert await other.interrupt("chat")
            await break_subscription(here)
            await stopped(control, within=5.0)
            assert failures[0] == 1 and made[0] >= 3, (failures, made)
        await turns.aclose()


@pytest.mark.slow
async def test_a_redis_outage_longer_than_its_retries_ends_in_a_new_subscription(tmp_path: Any) -> None:
    """redis-py's own two retries run out while the server is down: the listener subscribes again by itself."""
    from redis_server import redis_server_binary

    with RedisServer(redis_server_binary()) as server:
        url = state_url(server)
        here, elsewhere = RedisStateStore.from_url(url), RedisStateStore.from_url(url)
        turns = RunningTurns(here)
        made: list[int] = []
        subscribe = here.listeners._subscribe

        def counting_subscribe(channel: str) -> Any:
            made.append(1)
            return subscribe(channel)

        here.listeners._subscribe = counting_subscribe
        try:
            async with turns.running("chat") as control:
                await subscribed(turns)
                server.stop()
                turns.subscribed = False
                await asyncio.sleep(1.5)  # longer than redis-py's retries (two, at most 0.25 s apart)
                server.start()
                for _ in range(500):
                    if turns.subscribed:
                        break
                    await asyncio.sleep(0.01)
                assert len(made) >= 2 and turns.subscribed, "the listener did not subscribe again after the outage"
                await elsewhere.publish(STOP, control.id)
                await stopped(control, within=3.0)
            await turns.aclose()
        finally:
            await here.aclose()
            await elsewhere.aclose()


async def test_a_closed_store_opens_no_new_subscription_until_it_is_opened_again(redis: RedisServer) -> None:
    url = state_url(redis)
    here, elsewhere = RedisStateStore.from_url(url), RedisStateStore.from_url(url)
    try:
        turns = RunningTurns(here)
        async with turns.running("chat"):
            await subscribed(turns)
        await here.aclose()
        with pytest.raises(StateUnavailableError):
            here.listen(STOP, turns._heard)
        async with turns.running("chat") as control:  # the turn still runs, and hears stops by the signal read
            assert not here.listeners._tasks, "a closed store subscribed again"
            assert await RunningTurns(elsewhere).interrupt("chat")
            await stopped(control, within=_control.TICK + 2.0)
        await here.open()
        turns.subscribed = False
        async with turns.running("chat"):
            await subscribed(turns)
            assert len(here.listeners._tasks) == 1
        await turns.aclose()
    finally:
        await here.aclose()
        await elsewhere.aclose()


def test_the_subscription_is_made_again_in_a_new_event_loop(redis: RedisServer) -> None:
    url = state_url(redis)
    here, elsewhere = RedisStateStore.from_url(url), RedisStateStore.from_url(url)
    turns = RunningTurns(here)

    async def stop_a_turn() -> None:
        async with turns.running("chat") as control:
            await subscribed(turns)
            assert turns._listener is not None and turns._listener.get_loop() is asyncio.get_running_loop()
            await elsewhere.publish(STOP, control.id)
            await stopped(control)
        turns.subscribed = False

    asyncio.run(stop_a_turn())
    asyncio.run(stop_a_turn())  # the first loop's listener died with it

    async def close() -> None:
        await turns.aclose()
        await here.aclose()
        await elsewhere.aclose()

    asyncio.run(close())


async def test_a_turn_that_ends_during_its_refresh_leaves_no_running_record(
    redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_control, "TICK", 0.05)
    monkeypatch.setattr(_control, "REFRESH_AGE", 0.1)
    url = state_url(redis)
    here, elsewhere = RedisStateStore.from_url(url), RedisStateStore.from_url(url)
    try:
        turns = RunningTurns(here)
        writing, ended = asyncio.Event(), asyncio.Event()
        set_ = here.set

        async def late_refresh(namespace: str, key: str, value: Any, **options: Any) -> None:
            if namespace == RUNNING and writing.is_set() is False and turns._refreshed:
                writing.set()
                await ended.wait()  # the refresh lands after the turn ended and cleared its record
            await set_(namespace, key, value, **options)

        async with turns.running("chat"):
            here.set = late_refresh  # type: ignore[method-assign]
            await asyncio.wait_for(writing.wait(), 5.0)
        ended.set()
        for _ in range(100):
            await asyncio.sleep(0.02)
            if turns._watcher is None or turns._watcher.done():
                break
        assert await elsewhere.get(RUNNING, "chat") is None, "the late refresh recreated the finished turn's record"
        assert not turns._refreshed
        await turns.aclose()
    finally:
        await here.aclose()
        await elsewhere.aclose()


async def test_long_schema_names_get_a_hashed_channel_that_still_carries_stops(
    postgres: Any, request: pytest.FixtureRequest
) -> None:
    schema = "s" + "x" * 55
    async with two_processes("postgresql", request, schema=schema) as (here, elsewhere):
        channel = here._channel(STOP)
        assert len(channel.encode()) <= 63 and schema not in channel and channel == elsewhere._channel(STOP)
        turns = RunningTurns(here)
        async with turns.running("chat") as control:
            await subscribed(turns)
            assert await RunningTurns(elsewhere).interrupt("chat")
            await stopped(control)
        await turns.aclose()


async def test_the_running_record_outlives_two_failed_refreshes_in_a_row(
    redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scaled down from 15 s: a record is refreshed by the age of REFRESH_AGE + TICK, and each failure costs a tick."""
    monkeypatch.setattr(_control, "RUNNING_TTL", 3.0)
    monkeypatch.setattr(_control, "TICK", 0.5)
    monkeypatch.setattr(_control, "REFRESH_AGE", 1.0)
    url = state_url(redis)
    here, elsewhere = RedisStateStore.from_url(url), RedisStateStore.from_url(url)
    try:
        turns = RunningTurns(here)
        set_, refreshes = here.set, [0]

        async def failing_twice_of_three(namespace: str, key: str, value: Any, **options: Any) -> None:
            if namespace == RUNNING and key == "chat":
                refreshes[0] += 1
                if refreshes[0] % 3 != 1:  # the first write lands, then two fail, then one lands, ...
                    raise StateUnavailableError("the store is unavailable; retry shortly")
            await set_(namespace, key, value, **options)

        here.set = failing_twice_of_three  # type: ignore[method-assign]
        async with turns.running("first"):
            await asyncio.sleep(_control.TICK + 0.05)  # the worst start: just after the watcher's tick
            async with turns.running("chat") as control:
                started = time.monotonic()
                while time.monotonic() - started < 6.0:
                    assert await elsewhere.get(RUNNING, "chat") == {"id": control.id}, "the running record expired"
                    await asyncio.sleep(0.05)
                assert refreshes[0] >= 4, refreshes
        await turns.aclose()
    finally:
        await here.aclose()
        await elsewhere.aclose()
