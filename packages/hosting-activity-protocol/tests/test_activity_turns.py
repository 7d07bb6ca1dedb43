"""Message turns end to end: ack first, reply to the connector, typing, dedupe, allow-list, retries."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest
from agent_framework_hosting import DeliveryOptions
from agent_framework_hosting.testing import GatedChatClient, OfflineChatClient
from microsoft_agents.activity import Activity


def test_a_message_turn_replies_to_the_activity_with_a_bearer_token(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any, app_id: str
) -> None:
    deployment = deploy()
    inbound = make_activity("hello there", channel_id="webchat")
    assert deployment.post(inbound, token=mint()).status_code == 202
    reply = wait_for(deployment.fake.messages, message="a reply")[0]
    Activity.model_validate(reply)
    assert reply["text"] == "echo 1: hello there"
    assert reply["textFormat"] == "markdown"
    assert reply["replyToId"] == inbound["id"]
    assert reply["from"]["id"] == inbound["recipient"]["id"]
    assert reply["recipient"]["id"] == inbound["from"]["id"]
    recorded = [a for a in deployment.fake.recorded() if a.body["type"] == "message"][0]
    conversation = quote(inbound["conversation"]["id"], safe="")
    assert recorded.path == f"/v3/conversations/{conversation}/activities/{quote(inbound['id'], safe='')}"
    assert recorded.authorization == "Bearer outbound-1"
    (token_request,) = deployment.fake.token_requests
    assert token_request == {
        "grant_type": "client_credentials",
        "client_id": app_id,
        "client_secret": "s3cret-password",
        "scope": "https://api.botframework.com/.default",
    }


def test_the_conversation_keeps_its_history_and_the_token_is_cached(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any
) -> None:
    deployment = deploy()
    deployment.post(make_activity("first", channel_id="webchat"), token=mint())
    wait_for(lambda: len(deployment.fake.messages()) == 1, message="first reply")
    deployment.post(make_activity("second", channel_id="webchat"), token=mint())
    messages = wait_for(lambda: len(deployment.fake.messages()) == 2 and deployment.fake.messages())
    assert [m["text"] for m in messages] == ["echo 1: first", "echo 2: second"]
    assert len(deployment.fake.token_requests) == 1


def test_the_ack_does_not_wait_for_a_slow_agent(deploy: Any, mint: Any, make_activity: Any, wait_for: Any) -> None:
    chat = GatedChatClient(reply=lambda messages: "a slow answer")
    deployment = deploy(chat=chat)
    try:
        # The model cannot answer until the gate opens, so the 202 proves the ack did not wait for it.
        assert deployment.post(make_activity("take your time"), token=mint()).status_code == 202
        wait_for(lambda: chat.held == ["take your time"], message="the turn to reach the model")
        assert deployment.fake.messages() == []
    finally:
        chat.release()
    [reply] = wait_for(deployment.fake.messages, message="the eventual reply")
    assert reply["text"] == "a slow answer"


def test_a_typing_activity_precedes_the_reply(deploy: Any, mint: Any, make_activity: Any, wait_for: Any) -> None:
    deployment = deploy()
    deployment.post(make_activity("hi", channel_id="webchat"), token=mint())
    wait_for(deployment.fake.messages, message="a reply")
    types = [a.body["type"] for a in deployment.fake.recorded()]
    assert types[0] == "typing" and types[-1] == "message"
    assert types.count("typing") == 1


def test_typing_can_be_turned_off(deploy: Any, mint: Any, make_activity: Any, wait_for: Any) -> None:
    deployment = deploy(send_typing_action=False)
    deployment.post(make_activity("hi", channel_id="webchat"), token=mint())
    wait_for(deployment.fake.messages, message="a reply")
    assert [a.body["type"] for a in deployment.fake.recorded()] == ["message"]


def test_a_redelivered_activity_id_runs_the_agent_once(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any
) -> None:
    deployment = deploy(send_typing_action=False)
    inbound = make_activity("once please", channel_id="webchat")
    assert deployment.post(inbound, token=mint()).status_code == 202
    assert deployment.post(inbound, token=mint()).status_code == 202
    wait_for(deployment.fake.messages, message="a reply")
    time.sleep(0.3)
    assert len(deployment.chat.calls) == 1
    assert len(deployment.fake.messages()) == 1


def test_a_disallowed_service_url_is_refused_before_any_work(deploy: Any, make_activity: Any) -> None:
    deployment = deploy(authenticated=False)
    inbound = make_activity("hi", service_url="https://attacker.example/")
    response = deployment.post(inbound)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "service_url_not_allowed"
    time.sleep(0.2)
    assert deployment.chat.calls == [] and deployment.fake.recorded() == []


def test_a_connector_429_is_retried_after_the_time_it_asks(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any
) -> None:
    deployment = deploy(send_typing_action=False)
    deployment.fake.script(429, headers={"Retry-After": "1"}, body={"error": {"code": "throttled"}})
    deployment.post(make_activity("hi", channel_id="webchat"), token=mint())
    wait_for(lambda: len(deployment.fake.recorded()) == 2, message="the retried reply")
    first, second = deployment.fake.recorded()
    assert first.body == second.body
    assert second.at - first.at >= 0.9


def test_an_undeliverable_reply_is_logged_with_the_conversation_id(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    deployment = deploy(send_typing_action=False)
    deployment.fake.script(404, body={"error": {"code": "ConversationNotFound"}})
    inbound = make_activity("hi", channel_id="webchat", conversation_id="conv-gone")
    deployment.post(inbound, token=mint())
    wait_for(lambda: "undeliverable" in caplog.text, message="the log line")
    assert "conv-gone" in caplog.text and "404" in caplog.text


def test_a_reply_the_connector_keeps_failing_goes_out_later_from_the_durable_outbox(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any
) -> None:
    delivery = DeliveryOptions(outbox_backoff=0.2, outbox_interval=0.1)
    deployment = deploy(send_typing_action=False, host_options={"delivery": delivery})
    for _ in range(5):  # the send's own 4 attempts, then the outbox's first retry
        deployment.fake.script(503, body={"error": {"code": "ServiceUnavailable"}})
    deployment.post(make_activity("hi", channel_id="webchat"), token=mint())
    wait_for(lambda: len(deployment.fake.recorded()) == 6, timeout=20, message="the kept reply")
    time.sleep(0.5)
    assert len(deployment.fake.recorded()) == 6
    assert [message["text"] for message in deployment.fake.messages()] == ["echo 1: hi"] * 6
    assert deployment.fake.scripted == []


def test_mentions_of_the_bot_are_stripped_before_the_agent_sees_the_text(
    deploy: Any, make_activity: Any, mention: Any, wait_for: Any
) -> None:
    deployment = deploy(authenticated=False, stream=False)
    inbound = make_activity("<at>Echo Bot</at> what's up", entities=[mention()], conversation_type="groupChat")
    deployment.post(inbound)
    assert wait_for(deployment.fake.messages)[0]["text"] == "echo 1: what's up"


def test_expect_replies_are_answered_inline_and_nothing_goes_to_the_connector(
    deploy: Any, mint: Any, make_activity: Any
) -> None:
    deployment = deploy()
    inbound = make_activity("inline", channel_id="directline", delivery_mode="expectReplies")
    response = deployment.post(inbound, token=mint())
    assert response.status_code == 200
    (reply,) = response.json()["activities"]
    assert reply["text"] == "echo 1: inline" and reply["replyToId"] == inbound["id"]
    time.sleep(0.2)
    assert deployment.fake.recorded() == []


def test_long_answers_are_split_into_several_messages(deploy: Any, make_activity: Any, wait_for: Any) -> None:
    long_answer = "\n\n".join(f"Paragraph {n}: " + "lorem ipsum " * 20 for n in range(6))
    deployment = deploy(
        authenticated=False, chat=OfflineChatClient(reply=lambda messages: long_answer), max_message_length=500
    )
    deployment.post(make_activity("essay", channel_id="webchat"))

    def whole_answer() -> Any:
        messages = deployment.fake.messages()
        return " ".join(m["text"] for m in messages).split() == long_answer.split() and messages

    messages = wait_for(whole_answer, message="every part of the answer")
    assert len(messages) >= 4
    assert all(len(m["text"]) <= 500 for m in messages)


def test_an_agent_failure_sends_an_apology_not_silence(deploy: Any, make_activity: Any, wait_for: Any) -> None:
    deployment = deploy(authenticated=False, send_typing_action=False)
    deployment.post(make_activity("please [fail]", channel_id="webchat"))
    (reply,) = wait_for(deployment.fake.messages)
    assert "went wrong" in reply["text"]


def test_invoke_activities_get_an_invoke_response(deploy: Any, mint: Any, make_activity: Any) -> None:
    deployment = deploy()
    unhandled = deployment.post(make_activity(type="invoke", name="task/fetch"), token=mint())
    assert unhandled.status_code == 501

    async def handler(activity: Any) -> Any:
        if activity.get("name") == "adaptiveCard/action":
            return 200, {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": "ok"}
        return None

    handled = deploy(invoke_handler=handler)
    response = handled.post(make_activity(type="invoke", name="adaptiveCard/action"), token=mint())
    assert response.status_code == 200 and response.json()["value"] == "ok"
    assert handled.post(make_activity(type="invoke", name="other"), token=mint()).status_code == 501
    assert deployment.chat.calls == [] and handled.chat.calls == []


def test_conversation_update_welcomes_new_members_but_not_the_bot(
    deploy: Any, make_activity: Any, wait_for: Any
) -> None:
    deployment = deploy(authenticated=False, welcome_message="Hi! Ask me anything.")
    bot_only = make_activity(type="conversationUpdate", members_added=[{"id": "28:bot-id", "name": "Echo Bot"}])
    assert deployment.post(bot_only).status_code == 202
    user_added = make_activity(type="conversationUpdate", members_added=[{"id": "29:user-id", "name": "Ada"}])
    assert deployment.post(user_added).status_code == 202
    assert deployment.post(user_added).status_code == 202
    (welcome,) = wait_for(deployment.fake.messages)
    time.sleep(0.2)
    assert len(deployment.fake.messages()) == 1
    assert welcome["text"] == "Hi! Ask me anything."
    assert deployment.chat.calls == []


@pytest.mark.parametrize(
    "activity_type", ["typing", "messageReaction", "installationUpdate", "event", "endOfConversation"]
)
def test_other_activity_types_are_acknowledged_without_work(
    deploy: Any, make_activity: Any, activity_type: str
) -> None:
    deployment = deploy(authenticated=False)
    response = deployment.post(make_activity(type=activity_type))
    assert response.status_code == 202 and response.content == b""
    time.sleep(0.1)
    assert deployment.chat.calls == [] and deployment.fake.recorded() == []


def test_the_reset_command_starts_a_new_conversation(deploy: Any, make_activity: Any, wait_for: Any) -> None:
    deployment = deploy(authenticated=False, send_typing_action=False)
    deployment.post(make_activity("one", channel_id="webchat"))
    wait_for(lambda: len(deployment.fake.messages()) == 1)
    deployment.post(make_activity("/reset", channel_id="webchat"))
    wait_for(lambda: len(deployment.fake.messages()) == 2)
    deployment.post(make_activity("two", channel_id="webchat"))
    messages = wait_for(lambda: len(deployment.fake.messages()) == 3 and deployment.fake.messages())
    assert [m["text"] for m in messages] == ["echo 1: one", "Started a new conversation.", "echo 1: two"]


def test_the_run_hook_sees_the_request_and_the_raw_activity(deploy: Any, make_activity: Any, wait_for: Any) -> None:
    seen: list[Any] = []

    def hook(request: Any, *, target: Any, protocol_request: Any) -> Any:
        seen.append((request.isolation_key, request.identity.native_id, protocol_request["id"]))
        return request

    deployment = deploy(authenticated=False, run_hook=hook, send_typing_action=False)
    inbound = make_activity("hooked", channel_id="webchat", conversation_id="c-9")
    deployment.post(inbound)
    wait_for(deployment.fake.messages)
    assert seen == [("activity:webchat:c-9", "29:user-id", inbound["id"])]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"[1, 2]", 400),
        (b'{"type": "message"}', 400),
    ],
)
def test_malformed_bodies_are_400(deploy: Any, body: bytes, status: int) -> None:
    deployment = deploy(authenticated=False)
    response = deployment.client.post(deployment.channel.path, content=body)
    assert response.status_code == status
    assert "error" in response.json()


def test_oversized_bodies_are_413(deploy: Any, make_activity: Any) -> None:
    deployment = deploy(authenticated=False, max_body_bytes=2000)
    response = deployment.post(make_activity("x" * 5000))
    assert response.status_code == 413


def test_an_injected_token_provider_signs_outbound_calls(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any
) -> None:
    calls: list[int] = []

    async def provider() -> str:
        calls.append(1)
        return "from-managed-identity"

    deployment = deploy(app_password=None, token_provider=provider, send_typing_action=False)
    deployment.post(make_activity("hi", channel_id="webchat"), token=mint())
    wait_for(deployment.fake.messages)
    assert [a.authorization for a in deployment.fake.recorded()] == ["Bearer from-managed-identity"]
    assert deployment.fake.token_requests == [] and calls == [1]


def test_a_refused_outbound_token_is_renewed_once(deploy: Any, mint: Any, make_activity: Any, wait_for: Any) -> None:
    deployment = deploy(send_typing_action=False)
    deployment.fake.script(401, body={"message": "Authorization has been denied for this request."})
    deployment.post(make_activity("hi", channel_id="webchat"), token=mint())
    wait_for(deployment.fake.messages)
    wait_for(lambda: len(deployment.fake.recorded()) == 2)
    assert [a.authorization for a in deployment.fake.recorded()] == ["Bearer outbound-1", "Bearer outbound-2"]
    assert len(deployment.fake.token_requests) == 2
