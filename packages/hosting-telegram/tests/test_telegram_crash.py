"""A bot process SIGKILLed after acknowledging an update: the answer still arrives, exactly once; an update
that arrives while the state folder's disk refuses writes is refused (503) and answered once when retried.

Real host processes against the fake Bot API; the turn ledger in a state folder
(the restarted process resumes) or in Redis (the surviving process takes over
once the dead one's lease lapses).
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from agent_framework_hosting import INTERRUPTED_NOTICE
from agent_framework_hosting.testing import RedisServer, eventually, redis_server_binary, running_server

sys.path.insert(0, os.path.dirname(__file__))
from telegram_fake import SECRET_HEADER, FakeBotApi, message_update  # noqa: E402
from telegram_redis_hosts import Tagged, bot_processes  # noqa: E402

SECRET = "crash-test_secret"
PREFIXES = ("p1", "p2")
pytestmark = pytest.mark.slow


@dataclass
class Platform:
    api: FakeBotApi
    url: str

    def base(self, index: int) -> str:
        return f"{self.url}/{PREFIXES[index]}"


@pytest.fixture
def platform() -> Iterator[Platform]:
    api = FakeBotApi()
    with running_server(Tagged(api.app, PREFIXES)) as url:
        api.url = url
        yield Platform(api, url)


def bots(platform: Platform, state: str, indexes: tuple[int, ...], transport: str, **options: str) -> Any:
    extra = {"webhook_url": "https://bot.example/telegram/webhook", "secret": SECRET} if transport == "webhook" else {}
    bases = [platform.base(index) for index in indexes]
    return bot_processes(state, bases, transport=transport, **extra, **options)


async def post_update(url: str, update: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(timeout=15) as client:
        return await client.post(url + "/telegram/webhook", json=update, headers={SECRET_HEADER: SECRET})


def answers(platform: Platform) -> list[str]:
    return platform.api.sent_texts()


async def settle_and_check(platform: Platform, expected: list[str], *, timeout: float = 20.0) -> None:
    await eventually(lambda: len(answers(platform)) >= len(expected), timeout=timeout, message=f"{expected}")
    await asyncio.sleep(1.5)  # anything sent twice would show up by now
    assert answers(platform) == expected


async def test_a_webhook_update_acknowledged_before_a_sigkill_is_answered_once_after_restart(
    platform: Platform, tmp_path: Path
) -> None:
    state = str(tmp_path / "state")
    with bots(platform, state, (0,), "webhook", delay="3") as (first,):
        response = await post_update(first.url, message_update(1, "hello"))
        assert response.json() == {"ok": True}
        await eventually(lambda: platform.api.of("sendChatAction"), message="the turn to start")
        first.kill()
    assert answers(platform) == []
    with bots(platform, state, (1,), "webhook", delay="0.2") as (second,):
        await settle_and_check(platform, ["echo 1: hello"])
        assert (await post_update(second.url, message_update(1, "hello"))).json() == {"ok": True, "duplicate": True}
        assert (await post_update(second.url, message_update(2, "again"))).json() == {"ok": True}
        await settle_and_check(platform, ["echo 1: hello", "echo 2: again"])


async def test_a_polled_update_is_answered_once_after_a_sigkill_mid_turn(platform: Platform, tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    platform.api.push_update(message_update(1, "hello"))
    with bots(platform, state, (0,), "polling", delay="3") as (first,):
        await eventually(lambda: platform.api.of("sendChatAction"), message="the turn to start")
        first.kill()
    assert answers(platform) == []
    with bots(platform, state, (1,), "polling", delay="0.2"):
        await settle_and_check(platform, ["echo 1: hello"])


async def test_the_surviving_process_answers_once_the_killed_ones_lease_lapses(platform: Platform) -> None:
    with RedisServer(redis_server_binary()) as redis:
        state = f"{redis.url}?prefix=crash{uuid.uuid4().hex[:8]}:&lock_ttl=2"
        with bots(platform, state, (0, 1), "webhook", delay="3", lease="2") as (first, _second):
            assert (await post_update(first.url, message_update(1, "hello"))).json() == {"ok": True}
            await eventually(lambda: platform.api.of("sendChatAction"), message="the turn to start")
            first.kill()
            await settle_and_check(platform, ["echo 1: hello"], timeout=30)


async def test_a_streamed_answer_cut_off_by_a_sigkill_gets_one_short_notice(platform: Platform, tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    update = message_update(1, "tell me a long story about the sea and the wind")
    with bots(platform, state, (0,), "webhook", delay="8", stream="yes") as (first,):
        assert (await post_update(first.url, update)).json() == {"ok": True}
        await eventually(lambda: platform.api.of("sendMessageDraft") or answers(platform), message="streaming")
        first.kill()
    with bots(platform, state, (1,), "webhook"):
        await settle_and_check(platform, [INTERRUPTED_NOTICE])


async def test_a_collected_burst_whose_leader_was_killed_mid_turn_is_answered_once_by_the_other_process(
    platform: Platform,
) -> None:
    with RedisServer(redis_server_binary()) as redis:
        state = f"{redis.url}?prefix=crash{uuid.uuid4().hex[:8]}:&lock_ttl=2"
        options = {"delay": "3", "lease": "2", "concurrency": "collect:1"}
        with bots(platform, state, (0, 1), "webhook", **options) as (first, second):
            assert (await post_update(first.url, message_update(1, "hello"))).json() == {"ok": True}
            await asyncio.sleep(0.3)
            assert (await post_update(second.url, message_update(2, "and one more thing"))).json() == {"ok": True}
            await asyncio.sleep(1.7)  # the window has closed: the first process runs the merged turn
            first.kill()
            await settle_and_check(platform, ["echo 2: and one more thing"], timeout=40)
            # the burst is in the shared history once: the next message is the third
            assert (await post_update(second.url, message_update(3, "next"))).json() == {"ok": True}
            await settle_and_check(platform, ["echo 2: and one more thing", "echo 3: next"], timeout=20)


async def test_an_update_that_arrives_while_the_disk_is_full_is_refused_and_answered_once_when_retried(
    platform: Platform, tmp_path: Path
) -> None:
    state = str(tmp_path / "state")
    with bots(platform, state, (0,), "webhook", delay="0.2") as (bot,):
        assert (await post_update(bot.url, message_update(1, "hello"))).json() == {"ok": True}
        await settle_and_check(platform, ["echo 1: hello"])
        # The bot's disk refuses writes: every file it would grow fails with EFBIG, as with ENOSPC on a full disk.
        soft, hard = resource.prlimit(bot.process.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(bot.process.pid, resource.RLIMIT_FSIZE, (0, hard))
        try:
            refused = await post_update(bot.url, message_update(2, "again"))
        finally:
            resource.prlimit(bot.process.pid, resource.RLIMIT_FSIZE, (soft, hard))
        assert refused.status_code == 503, "not acknowledged: Telegram keeps the update and sends it again"
        await asyncio.sleep(1.0)
        assert answers(platform) == ["echo 1: hello"]
        assert (await post_update(bot.url, message_update(2, "again"))).json() == {"ok": True}
        await settle_and_check(platform, ["echo 1: hello", "echo 2: again"])
