"""Conversation control on Slack: /stop, the concurrency policies, and proactive delivery."""

from __future__ import annotations

import time
from typing import Any

import pytest
from agent_framework_hosting import ConversationReference, DeliveryError
from agent_framework_hosting.testing import OfflineChatClient, check_refused_at_once
from slack_fake import TEAM, FakeSlack, Signer, envelope, mention, message
from slack_kit import COMMANDS, make_channel, make_host, post_event, post_form
from starlette.testclient import TestClient

SLOW = " ".join(f"w{n}" for n in range(200))


def slow_agent() -> OfflineChatClient:
    return OfflineChatClient(reply=lambda messages: SLOW, chunk_delay=0.05)


def test_stop_in_a_thread_ends_the_running_answer_at_once(slack: FakeSlack, signer: Signer) -> None:
    agent = slow_agent()
    with TestClient(make_host(make_channel(slack), agent).app) as client:
        post_event(client, signer, envelope(mention("talk a lot", channel="C1", ts="90.000001")))
        slack.wait_for(lambda fake: fake.of("chat.appendStream"), what="the answer streaming")
        post_event(client, signer, envelope(mention("/stop", channel="C1", ts="90.000005", thread_ts="90.000001")))
        slack.wait_for(lambda fake: "Stopped." in fake.texts("C1", "90.000001"), what="the stop confirmation")
        slack.wait_for(lambda fake: all(m.stopped for m in fake.thread("C1", "90.000001") if m.streamed), what="end")
        time.sleep(0.3)
    streamed = [m for m in slack.thread("C1", "90.000001") if m.streamed]
    assert len(streamed) == 1 and streamed[0].stopped
    assert len(streamed[0].text) < len(SLOW), "the answer ran to its end"
    assert "Sorry" not in " ".join(slack.texts("C1", "90.000001"))


def test_slash_stop_in_a_dm_stops_that_conversation_and_in_a_channel_explains_threads(
    slack: FakeSlack, signer: Signer
) -> None:
    with TestClient(make_host(make_channel(slack), slow_agent()).app) as client:
        post_event(client, signer, envelope(message("talk a lot", channel="D1")))
        slack.wait_for(lambda fake: fake.of("chat.update"), what="the answer growing")
        form = {
            "team_id": TEAM,
            "channel_id": "D1",
            "channel_name": "directmessage",
            "user_id": "U0ADA",
            "command": "/stop",
            "text": "",
            "response_url": f"{slack.url}/respond/stop",
        }
        assert post_form(client, signer, COMMANDS, form).status_code == 200
        slack.wait_for(lambda fake: fake.responses, what="the stop confirmation")
        channel = post_form(client, signer, COMMANDS, {**form, "channel_id": "C1", "channel_name": "general"})
    assert slack.responses == [{"response_type": "ephemeral", "text": "Stopped."}]
    assert "mention me with `/stop` inside the thread" in channel.json()["text"]


def test_under_the_reject_policy_a_message_during_a_turn_gets_a_busy_notice(slack: FakeSlack, signer: Signer) -> None:
    agent = slow_agent()
    host = make_host(make_channel(slack), agent, concurrency="reject")
    with TestClient(host.app) as client:
        post_event(client, signer, envelope(mention("first", channel="C1", ts="91.000001")))
        slack.wait_for(lambda fake: fake.of("chat.startStream"), what="the first answer starting")
        post_event(client, signer, envelope(mention("second", channel="C1", ts="91.000002", thread_ts="91.000001")))
        slack.wait_for(lambda fake: any("still" in t.lower() for t in fake.texts("C1", "91.000001")), what="busy")
    assert len(agent.calls) == 1


def test_the_host_delivers_a_message_into_a_slack_thread_it_has_seen(slack: FakeSlack, signer: Signer) -> None:
    host = make_host(make_channel(slack))
    with TestClient(host.app) as client:
        post_event(client, signer, envelope(mention("remind me", channel="C1", ts="92.000001")))
        slack.expect("C1", "92.000001", ["echo 1: remind me"])
        result: Any = client.portal.call(host.deliver, f"slack:{TEAM}:C1:92.000001", "Your **reminder**")
    assert result.delivered
    slack.expect("C1", "92.000001", ["echo 1: remind me", "Your *reminder*"])


@pytest.mark.parametrize(
    "destination",
    [{"channel": "C1"}, {"team": TEAM, "channel": 7}, {"team": TEAM, "channel": "C1", "thread_ts": 90.1}],
    ids=["no team", "channel an int", "thread_ts a float"],
)
def test_a_malformed_reference_fails_at_once_and_is_never_retried(
    slack: FakeSlack, destination: dict[str, Any]
) -> None:
    channel = make_channel(slack)
    host = make_host(channel)
    reference = ConversationReference("slack", "slack:bad", destination)
    with TestClient(host.app) as client:
        check_refused_at_once(client.portal, host, channel, reference, naming="team|channel|thread_ts")
    assert slack.of("chat.postMessage") == []


@pytest.mark.parametrize(
    ("answer", "kept"),
    [((200, {"ok": False, "error": "not_in_channel"}), False), ((503, {"ok": False, "error": "fatal_error"}), True)],
    ids=["refused", "unavailable"],
)
def test_a_refused_delivery_is_a_dead_letter_at_once_and_an_outage_is_kept(
    slack: FakeSlack, answer: tuple[int, Any], kept: bool
) -> None:
    channel = make_channel(slack)
    host = make_host(channel)
    slack.script("chat.postMessage", *[answer] * 20)
    reference = ConversationReference("slack", "slack:C1", {"team": TEAM, "channel": "C1"})
    with TestClient(host.app) as client:
        if kept:
            result = client.portal.call(host.deliver, reference, "hi")
            assert result.queued and not result.delivered
            assert len(client.portal.call(host.state.keys, "outbox")) == 1
            assert client.portal.call(host.dead_letters.list) == []
        else:
            with pytest.raises(DeliveryError, match="not_in_channel"):
                client.portal.call(host.deliver, reference, "hi")
            [letter] = client.portal.call(host.dead_letters.list)
            assert letter["attempts"] == 1 and client.portal.call(host.state.keys, "outbox") == []
            assert len(slack.of("chat.postMessage")) == 1, "a refusal is not retried"
