"""Conversation control on Telegram: /stop, and the host's concurrency policies over the webhook."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx
from agent_framework_hosting import Concurrency
from agent_framework_hosting.testing import OfflineChatClient, eventually

sys.path.insert(0, os.path.dirname(__file__))
from telegram_fake import FakeBotApi, message_update, serve_bot  # noqa: E402

WEBHOOK_URL = "https://bot.example.com/telegram/webhook"


async def post(bot, update: object) -> httpx.Response:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(bot.webhook, json=update, headers=bot.headers())


async def test_stop_cancels_the_running_turn_and_says_so(fake: FakeBotApi) -> None:
    client = OfflineChatClient(response_delay=10.0)
    with serve_bot(fake, client=client, webhook_url=WEBHOOK_URL) as bot:
        await post(bot, message_update(1, "a long question"))
        await eventually(lambda: client.calls, message="the turn reached the model")
        await post(bot, message_update(2, "/stop"))
        await eventually(lambda: "Stopped." in fake.sent_texts(42), timeout=3, message="the stop notice")
        client.response_delay = 0.0
        await post(bot, message_update(3, "next"))
        await eventually(lambda: "echo 2: next" in fake.sent_texts(42), message="the next answer")
        assert fake.sent_texts(42) == ["Stopped.", "echo 2: next"], "no apology for the stopped turn"
        assert "stop" in {c["command"] for c in fake.of("setMyCommands")[0]["commands"]}


async def test_stop_with_nothing_running_says_so(fake: FakeBotApi) -> None:
    with serve_bot(fake, webhook_url=WEBHOOK_URL) as bot:
        await post(bot, message_update(1, "/stop"))
        await eventually(lambda: fake.sent_texts(42) == ["Nothing to stop."], message="the notice")


async def test_reject_sends_a_short_notice_for_a_message_during_a_turn(fake: FakeBotApi) -> None:
    client = OfflineChatClient(response_delay=1.0)
    with serve_bot(fake, client=client, webhook_url=WEBHOOK_URL, host_kwargs={"concurrency": "reject"}) as bot:
        await post(bot, message_update(1, "first"))
        await eventually(lambda: client.calls, message="the turn reached the model")
        await post(bot, message_update(2, "second"))
        await eventually(lambda: len(fake.sent_texts(42)) == 2, message="both answers")
        busy, answer = fake.sent_texts(42)
        assert "still answering" in busy and answer == "echo 1: first"


async def test_collect_answers_a_burst_once(fake: FakeBotApi) -> None:
    policy = Concurrency("collect", collect_window=0.5)
    with serve_bot(fake, webhook_url=WEBHOOK_URL, host_kwargs={"concurrency": policy}) as bot:
        for update_id, text in enumerate(("so", "about", "tomorrow"), start=1):
            await post(bot, message_update(update_id, text))
        await eventually(lambda: fake.sent_texts(42), message="the answer")
        await asyncio.sleep(0.5)
        assert fake.sent_texts(42) == ["echo 3: tomorrow"]
        assert len(bot.client.calls) == 1
