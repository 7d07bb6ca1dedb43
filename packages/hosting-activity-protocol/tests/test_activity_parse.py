"""Pure parsing and rendering: activities in, ChannelRequests and wire activities out."""

from __future__ import annotations

from typing import Any

import pytest
from agent_framework_hosting.http import BadRequest
from agent_framework_hosting_activity_protocol._parse import (
    command_name,
    members_to_welcome,
    read_activity,
    strip_mentions,
    to_channel_request,
)
from agent_framework_hosting_activity_protocol._render import (
    final_stream_message,
    informative_update,
    message_activities,
    reply_activity,
    streaming_update,
    typing_activity,
)
from agent_framework_hosting_activity_protocol._urls import activities_url, normalize_hosts, service_url_allowed
from microsoft_agents.activity import Activity

BOT = {"id": "28:bot", "name": "Echo Bot"}
USER = {"id": "29:user", "name": "Ada", "aadObjectId": "aad-1"}


def activity(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "message",
        "id": "1234",
        "channelId": "msteams",
        "serviceUrl": "https://smba.trafficmanager.net/amer/",
        "from": USER,
        "recipient": BOT,
        "conversation": {"id": "a:conv", "conversationType": "personal", "tenantId": "t-1"},
        "text": "hello",
    }
    base.update(fields)
    return {name: value for name, value in base.items() if value is not None}


def test_a_message_becomes_a_request_keyed_by_channel_and_conversation() -> None:
    request = to_channel_request(read_activity(activity()), channel="activity", stream=True)
    assert request is not None
    assert request.isolation_key == "activity:msteams:a:conv"
    assert request.operation == "message"
    assert request.stream is True
    assert request.input[0].text == "hello"
    assert request.identity is not None
    assert request.identity.native_id == "29:user"
    assert request.identity.attributes["aad_object_id"] == "aad-1"
    assert request.identity.attributes["tenant_id"] == "t-1"
    assert request.attributes["service_url"] == "https://smba.trafficmanager.net/amer/"
    assert request.metadata["reply_to_id"] == "1234"


def test_the_same_conversation_on_another_channel_is_another_session() -> None:
    teams = to_channel_request(read_activity(activity()), channel="activity", stream=False)
    webchat = to_channel_request(read_activity(activity(channelId="webchat")), channel="activity", stream=False)
    assert teams is not None and webchat is not None
    assert teams.isolation_key != webchat.isolation_key


def test_the_bots_own_mention_is_stripped_and_other_mentions_keep_their_name() -> None:
    entities = [
        {"type": "mention", "text": "<at>Echo Bot</at>", "mentioned": BOT},
        {"type": "mention", "text": "<at>Grace</at>", "mentioned": {"id": "29:grace", "name": "Grace"}},
    ]
    text = "<at>Echo Bot</at>  please ask <at>Grace</at> about it"
    assert strip_mentions(text, tuple(entities), "28:bot") == "please ask Grace about it"


def test_a_message_with_only_a_mention_carries_nothing_to_answer() -> None:
    payload = activity(
        text="<at>Echo Bot</at>", entities=[{"type": "mention", "text": "<at>Echo Bot</at>", "mentioned": BOT}]
    )
    assert to_channel_request(read_activity(payload), channel="activity", stream=False) is None


def test_attachments_with_a_url_and_media_type_reach_the_agent() -> None:
    payload = activity(
        attachments=[
            {"contentType": "image/png", "contentUrl": "https://files.example/cat.png"},
            {"contentType": "text/html", "content": "<p>hello</p>"},
            {"contentType": "image/png", "contentUrl": "javascript:alert(1)"},
        ]
    )
    request = to_channel_request(read_activity(payload), channel="activity", stream=False)
    assert request is not None
    contents = request.input[0].contents
    assert [c.type for c in contents] == ["text", "uri"]
    assert contents[1].uri == "https://files.example/cat.png"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("type", None),
        ("type", 7),
        ("serviceUrl", None),
        ("channelId", ["msteams"]),
        ("conversation", None),
        ("conversation", {"id": 3}),
        ("from", None),
        ("from", {"name": "no id"}),
        ("text", {"rich": True}),
        ("entities", "mention"),
        ("id", 5),
    ],
)
def test_malformed_activities_are_bad_requests(field: str, value: Any) -> None:
    payload = activity()
    if value is None:
        payload.pop(field)
    else:
        payload[field] = value
    with pytest.raises(BadRequest):
        read_activity(payload)


def test_only_messages_need_a_sender() -> None:
    parsed = read_activity(activity(type="conversationUpdate", text=None, **{"from": None}))
    assert parsed.sender == {}


def test_command_names_are_lower_cased_and_drop_a_bot_suffix() -> None:
    assert command_name("/Reset@EchoBot now") == "reset"
    assert command_name("/help") == "help"
    assert command_name("reset") is None
    assert command_name("/") is None
    assert command_name("/ x") is None


def test_welcome_goes_to_added_members_other_than_the_bot() -> None:
    update = read_activity(activity(type="conversationUpdate", membersAdded=[BOT, USER, "junk"]))
    assert [m["id"] for m in members_to_welcome(update)] == ["29:user"]
    only_bot = read_activity(activity(type="conversationUpdate", membersAdded=[BOT]))
    assert members_to_welcome(only_bot) == []


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://smba.trafficmanager.net/amer/", True),
        ("https://emea.smba.trafficmanager.net/emea/", True),
        ("https://directline.botframework.com/", True),
        ("https://botframework.com.attacker.example/", False),
        ("https://attacker.example/?x=botframework.com", False),
        ("https://botframework.com@attacker.example/", False),
        ("https://user@directline.botframework.com/", False),
        ("http://directline.botframework.com/", False),
        ("ftp://directline.botframework.com/", False),
        ("https://[::1", False),
        ("https://directline.botframework.com:99999/", False),
        ("", False),
        (None, False),
    ],
)
def test_service_url_allow_list(url: Any, allowed: bool) -> None:
    hosts = normalize_hosts(("botframework.com", ".SMBA.trafficmanager.net"))
    assert service_url_allowed(url, hosts) is allowed


def test_plain_http_is_allowed_only_for_loopback_hosts() -> None:
    assert service_url_allowed("http://127.0.0.1:3978/", ("127.0.0.1",))
    assert service_url_allowed("http://localhost:3978/", ("localhost",))
    assert not service_url_allowed("http://10.0.0.1:3978/", ("10.0.0.1",))


def test_an_empty_allow_list_is_refused() -> None:
    with pytest.raises(ValueError):
        normalize_hosts(())
    with pytest.raises(ValueError):
        normalize_hosts(("",))


def test_conversation_and_activity_ids_are_url_encoded() -> None:
    url = activities_url("https://smba.trafficmanager.net/amer/", "19:abc@thread.v2;messageid=1", "1/2?x")
    assert url == (
        "https://smba.trafficmanager.net/amer/v3/conversations/19%3Aabc%40thread.v2%3Bmessageid%3D1/activities/1%2F2%3Fx"
    )
    assert activities_url("https://h/", "c", None) == "https://h/v3/conversations/c/activities"


def test_a_reply_goes_from_the_bot_to_the_sender_as_markdown() -> None:
    inbound = read_activity(activity())
    reply = reply_activity(inbound, text="hi **there**")
    assert reply["from"] == BOT and reply["recipient"] == USER
    assert reply["replyToId"] == "1234"
    assert reply["textFormat"] == "markdown"
    assert reply["conversation"]["id"] == "a:conv"
    Activity.model_validate(reply)


def test_long_replies_are_split_and_attachments_ride_on_the_last_message() -> None:
    inbound = read_activity(activity())
    text = "\n\n".join(f"paragraph {n} " + "word " * 30 for n in range(10))
    attachment = {"contentType": "image/png", "contentUrl": "https://x/y.png"}
    messages = message_activities(inbound, text, limit=400, attachments=[attachment])
    assert len(messages) > 1
    assert all(len(m["text"]) <= 400 for m in messages)
    assert "attachments" not in messages[0] and messages[-1]["attachments"] == [attachment]
    assert " ".join(m["text"] for m in messages).split() == text.split()


def test_an_empty_answer_renders_no_message() -> None:
    assert message_activities(read_activity(activity()), "", limit=100) == []


def test_teams_stream_activities_carry_streaminfo_entities() -> None:
    inbound = read_activity(activity())
    first = informative_update(inbound, "Working on it")
    chunk = streaming_update(inbound, "partial", stream_id="s-1", sequence=2)
    final = final_stream_message(inbound, "done", stream_id="s-1")
    assert first["type"] == "typing" and first["entities"] == [
        {"type": "streaminfo", "streamType": "informative", "streamSequence": 1}
    ]
    assert chunk["type"] == "typing" and chunk["text"] == "partial"
    assert chunk["entities"] == [
        {"type": "streaminfo", "streamType": "streaming", "streamId": "s-1", "streamSequence": 2}
    ]
    assert final["type"] == "message" and final["entities"] == [
        {"type": "streaminfo", "streamType": "final", "streamId": "s-1"}
    ]
    for wire in (first, chunk, final, typing_activity(inbound)):
        Activity.model_validate(wire)
