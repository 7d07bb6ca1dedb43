"""Watching for stop requests from other processes costs one read per interval, however many turns run."""

from __future__ import annotations

import asyncio
import collections
import os
import sys
from contextlib import AsyncExitStack
from typing import Any

from agent_framework_hosting._control import STOP, STOP_SIGNAL, WATCH_INTERVAL, RunningTurns
from agent_framework_hosting._redis import RedisStateStore

sys.path.insert(0, os.path.dirname(__file__))
from redis_server import RedisServer, state_url  # noqa: E402

TURNS = 20


def counting(store: RedisStateStore) -> collections.Counter[str]:
    """Count the store's reads by namespace."""
    reads: collections.Counter[str] = collections.Counter()
    original = store.get

    async def get(namespace: str, key: str) -> Any:
        reads[namespace] += 1
        return await original(namespace, key)

    store.get = get  # type: ignore[method-assign]
    return reads


async def test_one_watcher_per_process_serves_every_running_turn_and_a_stop_reaches_only_its_turn(
    redis: RedisServer,
) -> None:
    url = state_url(redis)
    here, elsewhere = RedisStateStore.from_url(url), RedisStateStore.from_url(url)
    reads = counting(here)
    turns = RunningTurns(here)
    try:
        async with AsyncExitStack() as stack:
            controls = [await stack.enter_async_context(turns.running(f"chat-{n}")) for n in range(TURNS)]
            await asyncio.sleep(20 * WATCH_INTERVAL)
            assert await RunningTurns(elsewhere).interrupt("chat-7")
            for _ in range(100):
                if controls[7].requested:
                    break
                await asyncio.sleep(WATCH_INTERVAL)
            await asyncio.sleep(4 * WATCH_INTERVAL)
            assert [n for n, control in enumerate(controls) if control.requested] == [7]
        await turns.aclose()
    finally:
        await here.aclose()
        await elsewhere.aclose()
    # Each turn's stop record is read when the watcher starts and once after the signal changed,
    # not every interval (a poll per turn would be about 20 turns x 25 intervals = 500 reads).
    assert reads[STOP] <= 2 * TURNS
    assert 5 <= reads[STOP_SIGNAL] <= 60
