"""A state folder shared by several processes on one machine: turns serialized by file locks, none lost."""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
import time
from pathlib import Path

import httpx
import pytest
from agent_framework_hosting import FileStateStore, SessionBusyError, _filelock

from .test_cli_serve import serve, stop  # noqa: F401  (the `serve` fixture)

SLOW_ECHO = """
from agent_framework import Agent
from agent_framework_hosting.testing import OfflineChatClient

agent = Agent(client=OfflineChatClient(response_delay=0.02), name="echo")
"""


async def test_two_stores_on_one_folder_never_hold_a_lock_together(tmp_path: Path) -> None:
    stores = [FileStateStore(tmp_path), FileStateStore(tmp_path)]
    inside = most = 0

    async def increment(store: FileStateStore) -> None:
        nonlocal inside, most
        async with store.lock("turn:k", wait=30):
            inside += 1
            most = max(most, inside)
            count = await store.get("counters", "k") or 0
            await asyncio.sleep(0.005)
            await store.set("counters", "k", count + 1)
            inside -= 1

    await asyncio.gather(*(increment(store) for _ in range(10) for store in stores))
    assert await stores[0].get("counters", "k") == 20
    assert most == 1


async def test_a_lock_held_by_another_store_is_busy_and_fences_grow(tmp_path: Path) -> None:
    first, second = FileStateStore(tmp_path), FileStateStore(tmp_path)
    async with first.lock("turn:k") as held:
        with pytest.raises(SessionBusyError):
            async with second.lock("turn:k", wait=0.2):
                pass
    async with second.lock("turn:k", wait=0) as later:
        assert later.fence == held.fence + 1


async def test_a_folder_keeps_no_lock_file_per_name_once_let_go_and_fences_keep_growing(tmp_path: Path) -> None:
    first, second = FileStateStore(tmp_path), FileStateStore(tmp_path)
    fences = []
    for number in range(5):
        async with (first if number % 2 else second).lock(f"turn:k{number % 2}") as lease:
            fences.append(lease.fence)
    assert fences == sorted(set(fences))
    assert sorted(path.name for path in (tmp_path / ".locks").iterdir()) == [".fences"]  # one shared counter


async def test_a_counter_left_in_a_lock_file_by_an_older_version_is_not_gone_back_on(tmp_path: Path) -> None:
    (tmp_path / ".locks").mkdir()
    (tmp_path / ".locks" / "turn%3Ak.lock").write_bytes(b"%020d" % 41)
    async with FileStateStore(tmp_path).lock("turn:k") as lease:
        assert lease.fence == 42
    async with FileStateStore(tmp_path).lock("turn:other") as lease:
        assert lease.fence == 43


async def test_a_waiter_that_wins_a_removed_lock_file_takes_the_path_s_current_one(tmp_path: Path) -> None:
    stores = [FileStateStore(tmp_path) for _ in range(3)]
    inside = most = 0

    async def hold(store: FileStateStore) -> None:
        nonlocal inside, most
        for _ in range(15):
            async with store.lock("turn:k", wait=30):
                inside += 1
                most = max(most, inside)
                await asyncio.sleep(0)
                inside -= 1

    await asyncio.gather(*(hold(store) for store in stores))
    assert most == 1
    assert not (tmp_path / ".locks" / "turn%3Ak.lock").exists()


@pytest.mark.slow
def test_two_workers_on_one_folder_lose_no_turn(serve: object, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "slow_echo.py").write_text(SLOW_ECHO)
    argv = ("slow_echo:agent", "--channel", "invocations", "--workers", "2", "--state-dir", str(tmp_path / "state"))
    served = serve(*argv, cwd=tmp_path)  # type: ignore[operator]

    async def say(client: httpx.AsyncClient, text: str) -> str:
        response = await client.post("/invocations", json={"message": text, "session_id": "s"})
        assert response.status_code == 200, response.text
        return str(response.json()["response"])

    async def main() -> str:
        limits = httpx.Limits(max_connections=20, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=served.url, timeout=60, limits=limits) as client:
            await asyncio.gather(*(say(client, f"message {n}") for n in range(20)))
            return await say(client, "one more")

    assert asyncio.run(main()) == "echo 21: one more"
    assert stop(served) == 0


async def test_a_waiter_left_holding_a_removed_lock_file_never_enters_beside_the_new_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, fences = tmp_path / "k.lock", tmp_path / ".fences"
    stale: list[bool] = []
    current = _filelock._current

    def watched(fd: int, at: Path) -> bool:
        here = current(fd, at)
        stale.append(not here)
        return here

    monkeypatch.setattr(_filelock, "_current", watched)
    order: list[tuple[str, int]] = []
    c_inside = False
    a = _filelock.file_lock(path, name="k", fences=fences)
    order.append(("a", await a.__aenter__()))

    async def b() -> None:
        async with _filelock.file_lock(path, name="k", fences=fences, wait=5) as fence:
            assert not c_inside
            order.append(("b", fence))

    waiter = asyncio.create_task(b())
    await asyncio.sleep(0.01)  # b has opened a's file and polls it
    await a.__aexit__(None, None, None)  # a removes its file and lets go
    c = _filelock.file_lock(path, name="k", fences=fences, wait=0)
    order.append(("c", await c.__aenter__()))  # before b polls again: c locks the path's new file
    c_inside = True
    await asyncio.sleep(0.2)  # b wins a's removed file meanwhile, sees it is stale, and waits on c's
    assert not waiter.done()
    c_inside = False
    await c.__aexit__(None, None, None)
    await waiter
    assert order == [("a", 1), ("c", 2), ("b", 3)]
    assert True in stale


async def test_a_stalled_holder_of_the_fence_counter_delays_others_only_as_long_as_they_wait(tmp_path: Path) -> None:
    fences = tmp_path / ".fences"
    stalled = os.open(fences, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(stalled, fcntl.LOCK_EX)  # as a process stopped while bumping the counter leaves it
    letting_go = threading.Timer(1.5, os.close, (stalled,))  # a blocking wait would end only then
    letting_go.start()
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(ticking())
    started = time.monotonic()
    try:
        with pytest.raises(SessionBusyError):
            async with _filelock.file_lock(tmp_path / "k.lock", name="k", fences=fences, wait=0.3):
                pass
        assert time.monotonic() - started < 1.0
        assert ticks >= 5  # the event loop kept running meanwhile
        assert not (tmp_path / "k.lock").exists()  # the name's lock was let go
    finally:
        ticker.cancel()
        letting_go.join()
    async with _filelock.file_lock(tmp_path / "k.lock", name="k", fences=fences, wait=1) as fence:
        assert fence == 1
