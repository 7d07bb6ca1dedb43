"""Conversation control on Telegram: /stop, and the host's concurrency policies over the webhook."""

from __future__ import annotations

import os
import sys

import httpx
import pytest
from agent_framework import Message
from agent_framework_hosting import Concurrency, ConversationReference, DeliveryError, InvalidReference
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
    policy = Concurrency("collect", collect_window=3.0)
    with serve_bot(fake, webhook_url=WEBHOOK_URL, host_kwargs={"concurrency": policy}) as bot:
        for update_id, text in enumerate(("so", "about", "tomorrow"), start=1):
            await post(bot, message_update(update_id, text))
        await eventually(lambda: fake.sent_texts(42), message="the answer")
        assert fake.sent_texts(42) == ["echo 3: tomorrow"]
        # A message after the answer opens the next batch; nothing more of the first burst arrives before it.
        await post(bot, message_update(4, "later"))
        await eventually(lambda: len(fake.sent_texts(42)) == 2, timeout=20, message="the next answer")
        assert fake.sent_texts(42) == ["echo 3: tomorrow", "echo 4: later"]
        assert len(bot.client.calls) == 2


ADMIN = "admin-token-0123456789"


async def admin_deliver(bot, body: dict) -> httpx.Response:  # type: ignore[no-untyped-def,type-arg]
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(bot.url + "/admin/deliver", json=body, headers={"Authorization": f"Bearer {ADMIN}"})


async def test_a_proactive_message_reaches_the_chat_and_the_conversation_history(fake: FakeBotApi) -> None:
    with serve_bot(fake, webhook_url=WEBHOOK_URL, host_kwargs={"admin_token": ADMIN}) as bot:
        await post(bot, message_update(1, "remind me later", chat_id=42))
        await eventually(lambda: fake.sent_texts(42), message="the answer")
        [key] = await bot.host.state.keys("conversation-refs")
        stored = await bot.host.state.get("conversation-refs", key)
        assert stored == {"channel": "telegram", "key": key, "destination": {"chat_id": 42, "chat_type": "private"}}
        delivered = await admin_deliver(bot, {"to": key, "text": "Time to stretch!", "idempotency_key": "r1"})
        again = await admin_deliver(bot, {"to": key, "text": "Time to stretch!", "idempotency_key": "r1"})
        assert delivered.status_code == 200 and delivered.json()["results"][0]["delivered"] is True
        assert again.json()["results"][0]["duplicate"] is True
        assert fake.sent_texts(42) == ["echo 1: remind me later", "Time to stretch!"], "sent once"
        await post(bot, message_update(2, "thanks", chat_id=42))
        await eventually(lambda: len(fake.sent_texts(42)) == 3, message="the next answer")
        seen = [m.text for m in bot.client.calls[-1]]
        assert seen[-2:] == ["Time to stretch!", "thanks"], "the agent knows it said it"


async def test_multicast_reports_each_destination_and_admin_needs_the_token(fake: FakeBotApi) -> None:
    with serve_bot(fake, webhook_url=WEBHOOK_URL, host_kwargs={"admin_token": ADMIN}) as bot:
        await post(bot, message_update(1, "hi", chat_id=42))
        await post(bot, message_update(2, "hi", chat_id=43))
        await eventually(lambda: fake.sent_texts(42) and fake.sent_texts(43), message="both answers")
        keys = sorted(await bot.host.state.keys("conversation-refs"))
        response = await admin_deliver(bot, {"to": [*keys, "telegram:unknown"], "text": "Maintenance at noon"})
        results = response.json()["results"]
        assert response.status_code == 207
        assert [r["delivered"] for r in results] == [True, True, False]
        assert "no conversation" in results[2]["error"]
        assert fake.sent_texts(42)[-1] == fake.sent_texts(43)[-1] == "Maintenance at noon"
        async with httpx.AsyncClient(timeout=10) as http:
            denied = await http.post(bot.url + "/admin/deliver", json={"to": keys[0], "text": "x"})
            wrong = await http.post(
                bot.url + "/admin/deliver", json={"to": keys[0], "text": "x"}, headers={"Authorization": "Bearer no"}
            )
        assert denied.status_code == wrong.status_code == 401


async def test_run_and_deliver_runs_an_agent_initiated_turn_into_the_chat(fake: FakeBotApi) -> None:
    with serve_bot(fake, webhook_url=WEBHOOK_URL, host_kwargs={"admin_token": ADMIN}) as bot:
        await post(bot, message_update(1, "hello", chat_id=42))
        await eventually(lambda: fake.sent_texts(42), message="the answer")
        [key] = await bot.host.state.keys("conversation-refs")
        response = await admin_deliver(bot, {"to": key, "text": "Check in with the user", "run": True})
        assert response.status_code == 200
        assert fake.sent_texts(42) == ["echo 1: hello", "echo 2: Check in with the user"]


async def test_without_an_admin_token_there_is_no_admin_route(fake: FakeBotApi) -> None:
    with serve_bot(fake, webhook_url=WEBHOOK_URL) as bot:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(bot.url + "/admin/deliver", json={"to": "k", "text": "x"})
        assert response.status_code == 404


async def test_link_joins_two_chats_into_one_conversation(fake: FakeBotApi) -> None:
    from agent_framework_hosting import IdentityLinking

    with serve_bot(fake, webhook_url=WEBHOOK_URL, host_kwargs={"linking": IdentityLinking()}) as bot:
        assert {"link", "unlink"} <= {c["command"] for c in fake.of("setMyCommands")[0]["commands"]}
        await post(bot, message_update(1, "my name is Ada", chat_id=42))
        await post(bot, message_update(2, "/link", chat_id=42))
        await eventually(lambda: len(fake.sent_texts(42)) == 2, message="the code")
        code = fake.sent_texts(42)[1].split("Your link code is ")[1].split(".")[0]
        await post(bot, message_update(3, f"/link {code}", chat_id=43))
        await eventually(lambda: fake.sent_texts(43), message="the confirmation")
        assert fake.sent_texts(43)[0].startswith("Linked")
        await post(bot, message_update(4, "who am I?", chat_id=43))
        await eventually(lambda: len(fake.sent_texts(43)) == 2, message="the answer")
        assert fake.sent_texts(43)[1] == "echo 2: who am I?"


@pytest.mark.parametrize(
    "destination",
    [{}, {"chat_id": "42"}, {"chat_id": True}, {"chat_id": 42, "message_thread_id": "7"}],
    ids=["no chat_id", "chat_id a string", "chat_id a bool", "thread id a string"],
)
async def test_a_malformed_reference_fails_at_once_and_is_never_retried(fake: FakeBotApi, destination: dict) -> None:  # type: ignore[type-arg]
    with serve_bot(fake, webhook_url=WEBHOOK_URL) as bot:
        reference = ConversationReference("telegram", "telegram:bad", destination)
        with pytest.raises(InvalidReference) as raised:
            await bot.channel.deliver(reference, Message(role="assistant", contents=["hi"]))
        assert raised.value.permanent and "telegram:bad" in str(raised.value)
        with pytest.raises(DeliveryError, match="chat_id|message_thread_id"):
            await bot.host.deliver(reference, "hi")
        [letter] = await bot.host.dead_letters.list()
        assert letter["attempts"] == 1, "a dead letter at once, as the outbox does for every permanent failure"
        assert await bot.host.state.keys("outbox") == []
        assert fake.of("sendMessage") == []


@pytest.mark.parametrize(("failure", "refused"), [("blocked", True), ("5xx", False)], ids=["403", "502"])
async def test_a_refused_delivery_is_a_dead_letter_at_once_and_an_outage_is_kept(
    fake: FakeBotApi, failure: str, refused: bool
) -> None:
    with serve_bot(fake, webhook_url=WEBHOOK_URL, host_kwargs={"admin_token": ADMIN}) as bot:
        await post(bot, message_update(1, "hello", chat_id=42))
        await eventually(lambda: fake.sent_texts(42), message="the answer")
        [key] = await bot.host.state.keys("conversation-refs")
        fake.fail("sendMessage", failure, times=20)
        [result] = (await admin_deliver(bot, {"to": key, "text": "Maintenance at noon"})).json()["results"]
        assert not result["delivered"] and result["queued"] is not refused
        letters, kept = await bot.host.dead_letters.list(), await bot.host.state.keys("outbox")
        if refused:
            assert "blocked" in result["error"]
            assert [letter["attempts"] for letter in letters] == [1], "a 403 is a refusal: a dead letter, no retries"
            assert kept == []
        else:
            assert letters == [] and len(kept) == 1, "kept in the outbox for a later retry"
        assert fake.sent_texts(42) == ["echo 1: hello"]
