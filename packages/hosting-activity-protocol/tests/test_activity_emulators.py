"""What local emulators (Agents Playground) and Teams send: loopback service URLs, refused streams, card actions."""

from __future__ import annotations

import json
import time
from typing import Any

from agent_framework_hosting.testing import OfflineChatClient
from agent_framework_hosting_activity_protocol import ActivityProtocolChannel
from agent_framework_hosting_activity_protocol._urls import service_url_allowed

ANSWER = " ".join(f"word{n}" for n in range(16))
CARD_MESSAGE = "application/vnd.microsoft.activity.message"


def stream_info(activity: dict[str, Any]) -> dict[str, Any] | None:
    return next((e for e in activity.get("entities") or [] if e.get("type") == "streaminfo"), None)


def test_without_an_app_id_loopback_service_urls_are_allowed_by_default(
    deploy: Any, make_activity: Any, wait_for: Any
) -> None:
    deployment = deploy(authenticated=False, send_typing_action=False, service_url_allowed_hosts=None)
    assert deployment.post(make_activity("hi from the playground", channel_id="emulator")).status_code == 202
    (reply,) = wait_for(deployment.fake.messages, message="the reply")
    assert reply["text"] == "echo 1: hi from the playground"
    anonymous = ActivityProtocolChannel()
    assert service_url_allowed("http://localhost:56150/_connector", anonymous.service_url_allowed_hosts)
    assert service_url_allowed("https://smba.trafficmanager.net/amer/", anonymous.service_url_allowed_hosts)


def test_with_an_app_id_loopback_service_urls_stay_refused_by_default(
    deploy: Any, mint: Any, make_activity: Any
) -> None:
    deployment = deploy(service_url_allowed_hosts=None)
    refused = deployment.post(make_activity("hi"), token=mint())
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "service_url_not_allowed"
    assert not service_url_allowed("http://localhost:56150/_connector", deployment.channel.service_url_allowed_hosts)


def test_a_405_on_the_first_stream_update_falls_back_to_one_plain_reply_at_once(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any
) -> None:
    deployment = deploy(chat=OfflineChatClient(reply=lambda messages: ANSWER, chunk_delay=0.03))
    deployment.fake.script(
        405,
        match=lambda body: (stream_info(body) or {}).get("streamType") == "informative",
        body={"error": {"code": "BadArgument", "message": "Streaming API is not enabled for non personal scope"}},
    )
    started = time.monotonic()
    deployment.post(make_activity("stream please"), token=mint())
    (final,) = wait_for(deployment.fake.messages, message="the fallback message")
    assert time.monotonic() - started < 5
    time.sleep(0.3)
    assert final["text"] == ANSWER and stream_info(final) is None
    assert [a.body["type"] for a in deployment.fake.recorded()] == ["typing", "message"]


def test_a_405_on_a_stream_chunk_stops_streaming(deploy: Any, mint: Any, make_activity: Any, wait_for: Any) -> None:
    deployment = deploy(chat=OfflineChatClient(reply=lambda messages: ANSWER, chunk_delay=0.03))
    deployment.fake.script(405, match=lambda body: (stream_info(body) or {}).get("streamType") == "streaming")
    deployment.post(make_activity("stream please"), token=mint())
    (final,) = wait_for(deployment.fake.messages, message="the fallback message")
    time.sleep(0.3)
    assert final["text"] == ANSWER and stream_info(final) is None
    chunks = [a for a in deployment.fake.recorded() if (stream_info(a.body) or {}).get("streamType") == "streaming"]
    assert len(chunks) == 1


def test_an_adaptive_card_submit_reaches_the_agent_as_readable_data(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any
) -> None:
    deployment = deploy(send_typing_action=False, stream=False)
    submit = make_activity("", value={"drink": "tea", "sugar": 2})
    submit.pop("text", None)
    assert deployment.post(submit, token=mint()).status_code == 202
    (reply,) = wait_for(deployment.fake.messages, message="the reply")
    assert reply["text"] == 'echo 1: Submitted card data: {"drink": "tea", "sugar": 2}'
    (call,) = deployment.chat.calls
    assert call[-1].text == 'Submitted card data: {"drink": "tea", "sugar": 2}'


def card_action(make_activity: Any, data: Any, verb: str = "order") -> dict[str, Any]:
    return make_activity(
        type="invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"},
    )


def test_an_adaptive_card_action_without_a_handler_goes_to_the_agent(
    deploy: Any, mint: Any, make_activity: Any
) -> None:
    deployment = deploy()
    answer = deployment.post(card_action(make_activity, {"drink": "coffee"}), token=mint())
    assert answer.status_code == 200
    assert answer.json() == {
        "statusCode": 200,
        "type": CARD_MESSAGE,
        "value": 'echo 1: Card action "order": {"drink": "coffee"}',
    }
    assert deployment.fake.recorded() == [], "an invoke is answered in the HTTP response, nothing is posted"
    broken = make_activity(type="invoke", name="adaptiveCard/action", value={"no": "action"})
    refused = deployment.post(broken, token=mint())
    assert refused.status_code == 200
    assert refused.json()["statusCode"] == 400 and refused.json()["type"] == "application/vnd.microsoft.error"
    assert len(deployment.chat.calls) == 1


def test_a_handler_that_declines_a_card_action_leaves_it_to_the_agent(
    deploy: Any, mint: Any, make_activity: Any
) -> None:
    seen: list[str] = []

    async def handler(activity: Any) -> Any:
        seen.append(activity["name"])
        return None

    deployment = deploy(invoke_handler=handler)
    answer = deployment.post(card_action(make_activity, [1, 2], verb="sum"), token=mint())
    assert seen == ["adaptiveCard/action"]
    assert json.loads(answer.text)["value"] == 'echo 1: Card action "sum": [1, 2]'
    assert deployment.post(make_activity(type="invoke", name="composeExtension/query"), token=mint()).status_code == 501
