"""Discord answers through the durable outbox: kept when Discord fails, retried once, dead letters when refused."""

from __future__ import annotations

import time
from typing import Any

from agent_framework_hosting import DeliveryOptions
from agent_framework_hosting.testing import OfflineChatClient, wait_until
from discord_testkit import APP_ID, FakeDiscord, Signer, ask, make_channel, make_host, post
from starlette.testclient import TestClient

FAST = DeliveryOptions(outbox_backoff=0.2, outbox_interval=0.1)
LONG_ANSWER = "\n\n".join(f"Paragraph {n}. " + "Some words that fill a message. " * 40 for n in range(3))


def webhook(discord: FakeDiscord, payload: dict[str, Any], calls: list[Any] | None = None) -> list[Any]:
    prefix = f"/api/v10/webhooks/{APP_ID}/{payload['token']}"
    return [c for c in (discord.calls if calls is None else calls) if c.path.startswith(prefix)]


def test_an_answer_discord_keeps_failing_goes_out_later_from_the_outbox_once(
    signer: Signer, discord: FakeDiscord
) -> None:
    discord.script("PATCH", "@original", *[(502, {"message": "Bad Gateway"})] * 5)  # 4 tries, the outbox's first
    payload = ask("hello")
    host = make_host(make_channel(signer, discord), delivery=FAST)
    with TestClient(host.app) as client:
        post(client, signer, payload)
        discord.wait_for(lambda calls: len(webhook(discord, payload, discord.accepted)) == 1, timeout=20)
        time.sleep(0.5)
        assert client.portal.call(host.state.keys, "outbox") == []
    assert len(webhook(discord, payload)) == 6
    assert [c.json["content"] for c in webhook(discord, payload, discord.accepted)] == ["echo 1: hello"]


def test_a_long_answer_cut_by_a_failing_follow_up_resumes_where_it_stopped(
    signer: Signer, discord: FakeDiscord
) -> None:
    discord.script("POST", "/webhooks/", *[(503, {"message": "unavailable"})] * 4)
    payload = ask("write a lot")
    agent = OfflineChatClient(reply=lambda messages: LONG_ANSWER)
    host = make_host(make_channel(signer, discord), agent, delivery=FAST)
    with TestClient(host.app) as client:
        post(client, signer, payload)
        words = LONG_ANSWER.split()
        wait_until(lambda: " ".join(c.json["content"] for c in discord.accepted).split() == words, timeout=20)
        time.sleep(0.5)
    accepted = webhook(discord, payload, discord.accepted)
    assert accepted[0].method == "PATCH" and all(c.method == "POST" for c in accepted[1:])
    contents = [c.json["content"] for c in accepted]
    assert len(contents) == len(set(contents)) >= 3, "every part went out exactly once"
    assert " ".join(contents).split() == LONG_ANSWER.split()


def test_discord_honours_retry_after_across_the_outbox(signer: Signer, discord: FakeDiscord) -> None:
    limited = (429, {"message": "You are being rate limited.", "retry_after": 0.6, "global": False})
    discord.script("PATCH", "@original", *[limited] * 4)
    payload = ask("hello")
    options = DeliveryOptions(outbox_backoff=0.01, outbox_interval=0.05)
    channel = make_channel(signer, discord)
    channel.retry_attempts = 1
    with TestClient(make_host(channel, delivery=options).app) as client:
        post(client, signer, payload)
        discord.wait_for(lambda calls: len(webhook(discord, payload, discord.accepted)) == 1, timeout=20)
    attempts = webhook(discord, payload)
    assert len(attempts) == 5
    gaps = [later.at - earlier.at for earlier, later in zip(attempts, attempts[1:], strict=False)]
    assert all(gap >= 0.55 for gap in gaps), gaps


def test_an_answer_discord_refuses_becomes_a_dead_letter_at_once(signer: Signer, discord: FakeDiscord) -> None:
    discord.script("PATCH", "@original", (403, {"message": "Missing Access", "code": 50001}))
    payload = ask("hello")
    host = make_host(make_channel(signer, discord), delivery=FAST)
    with TestClient(host.app) as client:
        post(client, signer, payload)
        wait_until(lambda: client.portal.call(host.dead_letters.list), timeout=10)
        time.sleep(0.4)
        [letter] = client.portal.call(host.dead_letters.list)
        assert client.portal.call(host.state.keys, "outbox") == []
    assert (letter["channel"], letter["attempts"], letter["payload"]["text"]) == ("discord", 1, "echo 1: hello")
    assert "Missing Access" in letter["last_error"] and letter["destination"]["interaction_id"] == payload["id"]
    assert len(webhook(discord, payload)) == 1, "a refusal is not retried"


def test_a_kept_channel_message_is_not_posted_twice(signer: Signer, discord: FakeDiscord) -> None:
    # The token has expired, so the answer goes as a channel message: the first post fails, the outbox's retry
    # makes the message, and a third send with the same nonce (a resend whose answer was lost) makes nothing.
    discord.script("POST", "/channels/", (500, {"message": "internal"}))
    channel = make_channel(signer, discord, bot_token="bot-secret", register_commands=False)
    channel.token_lifetime = 0.0
    channel.retry_attempts = 1
    payload = ask("late", channel_id="5150")
    with TestClient(make_host(channel, delivery=FAST).app) as client:
        post(client, signer, payload)
        discord.wait_for(lambda calls: len(discord.accepted) == 1, timeout=20)
        first_nonce = discord.matching("POST", "/channels/5150/")[0].json["nonce"]
        client.portal.call(channel.resend, *_kept(payload, first_nonce))
    posts = discord.matching("POST", "/channels/5150/")
    assert len(posts) == 3 and {c.json["nonce"] for c in posts} == {first_nonce}
    assert [c.json["content"] for c in discord.accepted] == ["echo 1: late"]


def _kept(payload: dict[str, Any], nonce: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The outbox item the channel kept for `payload`'s answer (destination, payload), for a third send."""
    destination = {"interaction_id": payload["id"], "token": payload["token"], "channel_id": "5150",
                   "ephemeral": False, "expires_at": 0.0}  # fmt: skip
    return destination, {"text": "echo 1: late", "start": 0, "sent": 0}
