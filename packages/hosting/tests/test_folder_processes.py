"""A state folder shared by several processes on one machine: turns serialized by file locks, none lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from agent_framework_hosting import FileStateStore, SessionBusyError

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
