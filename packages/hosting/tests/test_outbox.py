"""The durable outbox: replies that failed are retried (never before Retry-After), then become dead letters."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from agent_framework_hosting import (
    DeadLetters,
    DeliveryFailed,
    DeliveryOptions,
    FileStateStore,
    MemoryStateStore,
    Outbox,
    StateStore,
)

SCRIPT = Path(sys.executable).with_name("agent-framework-host")


class Platform:
    """A resender that fails as scripted, recording when each attempt came."""

    def __init__(self, *failures: DeliveryFailed) -> None:
        self.failures = list(failures)
        self.attempts: list[float] = []
        self.delivered: list[tuple[Any, Any]] = []

    async def resend(self, destination: Any, payload: Any) -> None:
        self.attempts.append(time.monotonic())
        await asyncio.sleep(0.05)
        if self.failures:
            raise self.failures.pop(0)
        self.delivered.append((destination, payload))


def outbox(store: StateStore, platform: Platform, **options: Any) -> Outbox:
    settings = {"outbox_backoff": 0.05, "outbox_attempts": 4, **options}
    box = Outbox(store, DeliveryOptions(**settings))
    box.register("chat", platform)
    return box


async def flush_until(box: Outbox, done: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the outbox never got there"
        await box.flush()
        await asyncio.sleep(0.02)


async def test_a_kept_reply_is_retried_no_sooner_than_retry_after_and_delivered_once() -> None:
    store = MemoryStateStore()
    platform = Platform(DeliveryFailed("503", retry_after=0.6))
    box = outbox(store, platform)
    kept_at = time.monotonic()
    assert await box.keep("chat", {"chat": 1}, {"text": "hi"}, key="t:1", error=DeliveryFailed("429", retry_after=0.4))
    assert not await box.keep("chat", {"chat": 1}, {"text": "hi"}, key="t:1")  # the same reply is queued once
    await flush_until(box, lambda: platform.delivered)
    first, second = platform.attempts
    assert first - kept_at >= 0.4 and second - first >= 0.6
    assert platform.delivered == [({"chat": 1}, {"text": "hi"})]
    assert await store.keys("outbox") == []


async def test_after_the_last_attempt_a_reply_becomes_a_dead_letter_that_can_be_retried_or_dropped() -> None:
    store = MemoryStateStore()
    platform = Platform(*[DeliveryFailed("502 Bad Gateway")] * 3)
    box = outbox(store, platform)
    await box.keep("chat", {"chat": 1}, {"text": "hi"}, key="t:1", error=DeliveryFailed("502 Bad Gateway"))
    await box.keep("chat", {"chat": 2}, {"text": "yo"}, key="t:2", error=DeliveryFailed("403 blocked", permanent=True))
    letters = DeadLetters(store)
    await flush_until(box, lambda: len(platform.attempts) == 3)
    dead = await letters.list()
    assert sorted(letter["id"] for letter in dead) == ["t:1", "t:2"]
    assert {letter["id"]: letter["attempts"] for letter in dead} == {"t:1": 4, "t:2": 1}
    assert await store.keys("outbox") == []
    assert await letters.retry("t:1") and not await letters.retry("missing")
    await flush_until(box, lambda: platform.delivered)
    assert platform.delivered == [({"chat": 1}, {"text": "hi"})]
    assert await letters.drop("t:2")
    assert await letters.list() == []


async def test_two_processes_never_send_the_same_reply(tmp_path: Path) -> None:
    platform = Platform()
    boxes = [outbox(FileStateStore(tmp_path), platform) for _ in range(2)]
    for index in range(10):
        await boxes[0].keep("chat", {"chat": index}, {"text": "hi"}, key=f"t:{index}", error=DeliveryFailed("x"))
    await asyncio.sleep(0.1)
    await asyncio.gather(*(box.flush() for box in boxes * 3))
    assert sorted(destination["chat"] for destination, _ in platform.delivered) == list(range(10))


@pytest.mark.parametrize("location", ["folder", "redis"])
def test_the_command_line_lists_retries_and_drops_dead_letters(location: str, tmp_path: Path, redis: Any) -> None:
    state = str(tmp_path) if location == "folder" else f"{redis.url}?prefix=dl{time.time_ns()}:"

    async def bury() -> None:
        from agent_framework_hosting._host import _state_locations, open_state_store

        store = open_state_store(_state_locations(state)[0], max_entries=10)
        box = outbox(store, Platform())
        for key in ("tg:1", "tg:2"):
            await box.keep("chat", {"chat": 1}, {"text": key}, key=key, error=DeliveryFailed("403", permanent=True))
        await store.aclose()

    asyncio.run(bury())

    def cli(*argv: str) -> subprocess.CompletedProcess[str]:
        command = [str(SCRIPT), "dead-letters", *argv, "--state-dir", state]
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["tg:1", "tg:2"]
    assert "attempts=1  403" in listed.stdout
    assert cli("retry", "tg:1").stdout.strip() == "requeued 1 dead letter(s)"
    missing = cli("drop", "tg:1")
    assert missing.returncode == 1 and "no dead letter 'tg:1'" in missing.stderr
    assert cli("drop", "all").stdout.strip() == "dropped 1 dead letter(s)"
    assert cli("list").stdout == ""
