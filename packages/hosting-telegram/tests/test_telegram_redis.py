"""Two bot host processes sharing one real Redis act as one bot: one answer per update, one poller at a time."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

import httpx
import pytest
from agent_framework_hosting.testing import RedisServer, eventually, redis_server_binary, running_server

sys.path.insert(0, os.path.dirname(__file__))
from telegram_fake import SECRET_HEADER, FakeBotApi, message_update  # noqa: E402
from telegram_redis_hosts import HostProcess, Tagged, bot_processes  # noqa: E402

SECRET = "shared_webhook-secret"
PREFIXES = ("p1", "p2")

LEADER_TTL = 3.0


@dataclass
class Platform:
    """The fake Bot API, served once per process under its own prefix, and a fresh Redis state location."""

    api: FakeBotApi
    tagged: Tagged
    url: str
    state: str

    @property
    def api_bases(self) -> list[str]:
        return [f"{self.url}/{prefix}" for prefix in PREFIXES]


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with RedisServer(redis_server_binary()) as server:
        yield server


@pytest.fixture
def platform(redis: RedisServer) -> Iterator[Platform]:
    api = FakeBotApi()
    tagged = Tagged(api.app, PREFIXES)
    with running_server(tagged) as url:
        api.url = url
        state = f"{redis.url}?prefix=tg{uuid.uuid4().hex[:8]}:&lock_ttl=3&leader_ttl={LEADER_TTL}"
        yield Platform(api, tagged, url, state)


async def post_to_both(urls: list[str], update: dict[str, object]) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=15) as client:
        posts = [client.post(url + "/telegram/webhook", json=update, headers={SECRET_HEADER: SECRET}) for url in urls]
        return list(await asyncio.gather(*posts))


def webhook_bots(platform: Platform) -> AbstractContextManager[list[HostProcess]]:
    return bot_processes(
        platform.state,
        platform.api_bases,
        transport="webhook",
        webhook_url="https://bot.example/telegram/webhook",
        secret=SECRET,
    )


async def test_the_same_update_posted_to_both_processes_is_answered_once(platform: Platform) -> None:
    with webhook_bots(platform) as processes:
        urls = [process.url for process in processes]
        for update_id in range(1, 6):
            update = message_update(update_id, f"hello {update_id}", chat_id=100 + update_id)
            responses = await post_to_both(urls, update)
            assert [response.status_code for response in responses] == [200, 200]
            assert sorted(bool(response.json().get("duplicate")) for response in responses) == [False, True]
        await eventually(lambda: len(platform.api.of("sendMessage")) >= 5, timeout=20, message="five answers")
        await asyncio.sleep(1.0)  # room for a second answer to any of them
        for update_id in range(1, 6):
            assert platform.api.sent_texts(100 + update_id) == [f"echo 1: hello {update_id}"]
        assert len(platform.api.of("sendMessage")) == 5


async def test_a_chat_alternating_between_the_processes_keeps_its_history(platform: Platform) -> None:
    with webhook_bots(platform) as (a, b):
        for update_id, (process, text) in enumerate([(a, "first"), (b, "second"), (a, "third")], start=1):
            async with httpx.AsyncClient(timeout=15) as client:
                posted = await client.post(
                    process.url + "/telegram/webhook",
                    json=message_update(update_id, text, chat_id=42),
                    headers={SECRET_HEADER: SECRET},
                )
            assert posted.status_code == 200 and not posted.json().get("duplicate")
            await eventually(lambda n=update_id: len(platform.api.sent_texts(42)) >= n, timeout=15, message=text)
        assert platform.api.sent_texts(42) == ["echo 1: first", "echo 2: second", "echo 3: third"]
        assert [request.source for request in platform.tagged.of("sendMessage")] == ["p1", "p2", "p1"]


async def test_only_one_polling_process_calls_get_updates_and_an_update_is_answered_once(platform: Platform) -> None:
    with bot_processes(platform.state, platform.api_bases, transport="polling"):
        await eventually(lambda: platform.tagged.of("getUpdates"), timeout=20, message="a first getUpdates")
        platform.api.push_update(message_update(1, "hello", chat_id=42))
        await eventually(lambda: platform.api.sent_texts(42), timeout=15, message="the answer")
        await asyncio.sleep(3.0)  # meanwhile the standby process asks for the lease every second
        polls = platform.tagged.of("getUpdates")
        assert len({request.source for request in polls}) == 1, [(r.source, r.started) for r in polls]
        assert len(polls) >= 3
        assert platform.api.sent_texts(42) == ["echo 1: hello"]
        assert len(platform.api.of("sendMessage")) == 1


async def test_killing_the_polling_leader_hands_polling_to_the_other_process(platform: Platform) -> None:
    api, tagged = platform.api, platform.tagged
    with bot_processes(platform.state, platform.api_bases, transport="polling") as processes:
        first = await eventually(lambda: tagged.of("getUpdates"), timeout=20, message="a first getUpdates")
        leader_source = first[0].source
        leader = processes[PREFIXES.index(leader_source)]
        survivor_source = next(prefix for prefix in PREFIXES if prefix != leader_source)
        api.push_update(message_update(1, "hello", chat_id=42))
        await eventually(lambda: api.sent_texts(42), timeout=15, message="the first answer")
        await eventually(lambda: 2 in api.offsets, timeout=10, message="the leader confirming update 1")
        killed_at = time.monotonic()
        leader.kill()
        api.push_update(message_update(2, "again", chat_id=42))
        await eventually(lambda: len(api.sent_texts(42)) >= 2, timeout=LEADER_TTL + 15, message="the survivor's answer")
        takeover = [request for request in tagged.of("getUpdates") if request.source == survivor_source]
        assert takeover and takeover[0].started > killed_at, "the standby process polled while the leader lived"
        assert takeover[0].started - killed_at < LEADER_TTL + 3
        assert {request.source for request in tagged.of("getUpdates") if request.started > killed_at + 0.5} == {
            survivor_source
        }
        assert api.sent_texts(42) == ["echo 1: hello", "echo 2: again"]
        assert [request.source for request in tagged.of("sendMessage")] == [leader_source, survivor_source]
