"""Conversation control over the Activity Protocol: /stop cancels the conversation's running turn."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest
from agent_framework_hosting import ConversationReference
from agent_framework_hosting.testing import OfflineChatClient, check_refused_at_once


def test_stop_cancels_the_running_turn_and_says_so(deploy: Any, mint: Any, make_activity: Any, wait_for: Any) -> None:
    chat = OfflineChatClient(response_delay=10.0)
    deployment = deploy(chat=chat)
    deployment.post(make_activity("a long question", channel_id="webchat"), token=mint())
    wait_for(lambda: chat.calls, message="the turn reached the model")
    started = time.monotonic()
    deployment.post(make_activity("/stop", channel_id="webchat"), token=mint())
    replies = wait_for(deployment.fake.messages, message="the stop notice")
    assert [reply["text"] for reply in replies] == ["Stopped."]
    assert time.monotonic() - started < 5
    chat.response_delay = 0.0
    deployment.post(make_activity("next", channel_id="webchat"), token=mint())
    wait_for(lambda: len(deployment.fake.messages()) == 2, message="the next answer")
    assert [m["text"] for m in deployment.fake.messages()] == ["Stopped.", "echo 2: next"]


def test_stop_with_nothing_running_says_so(deploy: Any, mint: Any, make_activity: Any, wait_for: Any) -> None:
    deployment = deploy()
    deployment.post(make_activity("/stop", channel_id="webchat"), token=mint())
    assert [m["text"] for m in wait_for(deployment.fake.messages, message="the notice")] == ["Nothing to stop."]


def test_stop_ends_a_teams_stream_early_keeping_what_was_streamed(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any
) -> None:
    long = " ".join(f"w{i}" for i in range(40))
    deployment = deploy(chat=OfflineChatClient(reply=lambda messages: long, chunk_delay=0.1))
    deployment.post(make_activity("tell me everything"), token=mint())
    wait_for(lambda: any(a.body["type"] == "typing" for a in deployment.fake.recorded()), message="streaming began")
    time.sleep(0.5)
    deployment.post(make_activity("/stop"), token=mint())
    final = wait_for(
        lambda: [m for m in deployment.fake.messages() if m.get("text") and m["text"].startswith("w0")],
        message="the final streamed message",
    )
    wait_for(lambda: any(m["text"] == "Stopped." for m in deployment.fake.messages()), message="the notice")
    assert len(final[-1]["text"]) < len(long)


ADMIN = "admin-token-0123456789"


def test_a_proactive_message_goes_through_the_connector_with_a_token(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any
) -> None:
    deployment = deploy(host_options={"admin_token": ADMIN})
    inbound = make_activity("hello")
    deployment.post(inbound, token=mint())
    wait_for(deployment.fake.messages, message="the answer")
    [key] = deployment.client.portal.call(deployment.host.state.keys, "conversation-refs")
    stored = deployment.client.portal.call(deployment.host.state.get, "conversation-refs", key)
    assert stored["destination"]["tenant_id"] == "tenant-1" and "password" not in str(stored)
    headers = {"Authorization": f"Bearer {ADMIN}"}
    body = {"to": key, "text": "Your report is ready"}
    response = deployment.client.post("/admin/deliver", json=body, headers=headers)
    assert response.status_code == 200, response.text
    proactive = [a for a in deployment.fake.recorded() if a.body.get("text") == "Your report is ready"]
    [sent] = proactive
    conversation = inbound["conversation"]["id"]
    assert sent.path.endswith(f"/v3/conversations/{quote(conversation, safe='')}/activities")
    assert sent.authorization.startswith("Bearer outbound-")
    assert sent.body["conversation"] == {"id": conversation, "tenantId": "tenant-1"}
    assert sent.body["recipient"]["id"] == inbound["from"]["id"]
    assert sent.body["from"]["id"] == inbound["recipient"]["id"]


@pytest.mark.parametrize("turn_wait", [None, 0.5], ids=["unbounded", "bounded"])
def test_waiting_messages_queue_in_order_whatever_the_turn_wait_and_stop_cuts_in(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any, turn_wait: float | None
) -> None:
    # Answers are posted into the conversation, so its messages wait in its queue (in order) even when turns
    # wait for the turn lock at most `turn_wait` (0.5 s here: waiting for the lock, they would be told "busy").
    chat = OfflineChatClient(response_delay=10.0)
    deployment = deploy(chat=chat, host_options={"turn_wait": turn_wait})
    for text in ("a long question", "second", "third"):
        assert deployment.post(make_activity(text, channel_id="webchat"), token=mint()).status_code == 202
    wait_for(lambda: chat.calls, message="the turn reached the model")
    chat.response_delay = 0.0  # the running turn keeps its 10 s; the queued ones answer at once
    time.sleep(1.0)  # longer than the bounded turn_wait
    started = time.monotonic()
    deployment.post(make_activity("/stop", channel_id="webchat"), token=mint())  # not queued behind them
    wait_for(lambda: len(deployment.fake.messages()) == 3, message="the notice and both answers")
    assert [m["text"] for m in deployment.fake.messages()] == ["Stopped.", "echo 2: second", "echo 3: third"]
    assert time.monotonic() - started < 5
    assert len(chat.calls) == 3


@pytest.mark.parametrize(
    "destination",
    [
        {"conversation_id": "c1", "channel_id": "msteams"},
        {"service_url": "http://127.0.0.1:9", "conversation_id": 7, "channel_id": "msteams"},
        {"service_url": "http://127.0.0.1:9", "conversation_id": "c1"},
    ],
    ids=["no service_url", "conversation id an int", "no channel_id"],
)
def test_a_malformed_reference_fails_at_once_and_is_never_retried(deploy: Any, destination: dict[str, Any]) -> None:
    deployment = deploy()
    portal, host = deployment.client.portal, deployment.host
    reference = ConversationReference("activity", "activity:bad", destination)
    check_refused_at_once(portal, host, deployment.channel, reference, naming="service_url|conversation_id|channel_id")
    assert deployment.fake.recorded() == []
