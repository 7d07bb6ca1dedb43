"""Conversation control on Discord: /stop and the host's concurrency policies."""

from __future__ import annotations

import time
from typing import Any

import pytest
from agent_framework_hosting import ConversationReference
from agent_framework_hosting.testing import OfflineChatClient, check_refused_at_once
from discord_testkit import APP_ID, Call, FakeDiscord, Signer, ask, command, make_channel, make_host, post
from starlette.testclient import TestClient


def _edits(discord: FakeDiscord, payload: dict[str, Any]) -> list[Call]:
    suffix = f"/webhooks/{APP_ID}/{payload['token']}/messages/@original"
    discord.wait_for(lambda calls: any(c.method == "PATCH" and c.path.endswith(suffix) for c in calls))
    return [c for c in discord.matching("PATCH") if c.path.endswith(suffix)]


def _wait_for_call(client: OfflineChatClient, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not client.calls:
        if time.monotonic() > deadline:
            raise AssertionError("the turn never reached the model")
        time.sleep(0.02)


def test_stop_cancels_the_running_answer_and_says_so(signer: Signer, discord: FakeDiscord) -> None:
    agent_client = OfflineChatClient(response_delay=10.0)
    question, stop, later = ask("a long question"), command("stop"), ask("next")
    with TestClient(make_host(make_channel(signer, discord), agent_client).app) as client:
        post(client, signer, question)
        _wait_for_call(agent_client)
        started = time.monotonic()
        post(client, signer, stop)
        assert _edits(discord, stop)[-1].json["content"] == "Stopped."
        assert _edits(discord, question)[-1].json["content"] == "(stopped before answering)"
        assert time.monotonic() - started < 5
        agent_client.response_delay = 0.0
        post(client, signer, later)
        assert _edits(discord, later)[-1].json["content"] == "echo 2: next", "the stopped question stays in history"


def test_stop_with_nothing_running_says_so(signer: Signer, discord: FakeDiscord) -> None:
    stop = command("stop")
    with TestClient(make_host(make_channel(signer, discord)).app) as client:
        post(client, signer, stop)
        assert _edits(discord, stop)[-1].json["content"] == "Nothing to stop."


def test_reject_answers_a_second_question_with_a_busy_notice(signer: Signer, discord: FakeDiscord) -> None:
    agent_client = OfflineChatClient(response_delay=1.0)
    first, second = ask("first"), ask("second")
    with TestClient(make_host(make_channel(signer, discord), agent_client, concurrency="reject").app) as client:
        post(client, signer, first)
        _wait_for_call(agent_client)
        post(client, signer, second)
        assert "still answering" in _edits(discord, second)[-1].json["content"]
        assert _edits(discord, first)[-1].json["content"] == "echo 1: first"


ADMIN = "admin-token-0123456789"


def test_a_proactive_message_is_posted_to_the_channel_with_the_bot_token(signer: Signer, discord: FakeDiscord) -> None:
    first = ask("hello")
    channel = make_channel(signer, discord, bot_token="bot-secret", register_commands=False)
    host = make_host(channel, admin_token=ADMIN)
    with TestClient(host.app) as client:
        post(client, signer, first)
        _edits(discord, first)
        [key] = client.portal.call(host.state.keys, "conversation-refs")
        headers = {"Authorization": f"Bearer {ADMIN}"}
        delivered = client.post("/admin/deliver", json={"to": key, "text": "Standup in 5 minutes"}, headers=headers)
        discord.script("POST", "/channels/", (403, {"message": "Missing Access", "code": 50001}))
        refused = client.post("/admin/deliver", json={"to": key, "text": "again"}, headers=headers)
        [letter] = client.portal.call(host.dead_letters.list)  # a refusal: a dead letter at once, never retried
        assert letter["attempts"] == 1 and client.portal.call(host.state.keys, "outbox") == []
    [sent] = [c for c in discord.matching("POST", "/channels/300000000000000001/messages")][:1]
    assert delivered.status_code == 200 and delivered.json()["results"][0]["delivered"] is True
    assert sent.json["content"] == "Standup in 5 minutes" and sent.headers["authorization"] == "Bot bot-secret"
    assert sent.json["allowed_mentions"] == {"parse": []}
    assert refused.status_code == 207 and "Missing Access" in refused.json()["results"][0]["error"]
    assert refused.json()["results"][0]["queued"] is False
    assert len(discord.matching("POST", "/channels/300000000000000001/messages")) == 2


@pytest.mark.parametrize("destination", [{}, {"channel_id": 300000000000000001}], ids=["no channel_id", "an int id"])
def test_a_malformed_reference_fails_at_once_and_is_never_retried(
    signer: Signer, discord: FakeDiscord, destination: dict[str, Any]
) -> None:
    channel = make_channel(signer, discord, bot_token="bot-secret", register_commands=False)
    host = make_host(channel)
    reference = ConversationReference("discord", "discord:bad", destination)
    with TestClient(host.app) as client:
        check_refused_at_once(client.portal, host, channel, reference, naming="channel_id")
    assert discord.matching("POST", "/channels/") == []
