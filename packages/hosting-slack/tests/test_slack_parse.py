"""Parsing Slack payloads (pure): who is addressed, which conversation, what is ignored."""

from __future__ import annotations

from typing import Any

import pytest
from agent_framework_hosting.http import BadRequest
from agent_framework_hosting_slack._parse import (
    AssistantThreadStarted,
    BlockAction,
    Ignored,
    Place,
    SlashCommand,
    UrlVerification,
    UserMessage,
    command_in,
    interaction_payload,
    parse_block_action,
    parse_events_payload,
    parse_slash_command,
    to_request,
    unescape,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_fake import BOT_USER, TEAM, envelope, mention, message


def parsed(event: dict[str, Any], **kwargs: Any) -> Any:
    return parse_events_payload(envelope(event, eid="Ev1"), **kwargs)


def test_url_verification_returns_the_challenge() -> None:
    assert parse_events_payload({"type": "url_verification", "token": "t", "challenge": "abc"}) == UrlVerification(
        "abc"
    )


def test_a_mention_in_a_channel_starts_a_thread_on_the_mention_and_strips_the_mention() -> None:
    event = parsed(mention("what is 2+2?", channel="C1", ts="100.1"))
    assert isinstance(event, UserMessage)
    assert event.text == "what is 2+2?"
    assert event.place == Place(TEAM, "C1", "U0ADA", "100.1", dm=False, user_team=TEAM)
    assert event.place.conversation_key == f"slack:{TEAM}:C1:100.1"
    assert not event.needs_thread


def test_a_mention_inside_a_thread_answers_in_that_thread() -> None:
    event = parsed(mention("and now?", channel="C1", ts="200.5", thread_ts="100.1"))
    assert isinstance(event, UserMessage)
    assert event.place.thread_ts == "100.1"
    assert event.place.conversation_key == f"slack:{TEAM}:C1:100.1"


def test_the_mention_is_stripped_wherever_it_is_and_in_its_labelled_form() -> None:
    event = parsed(message(f"hey <@{BOT_USER}|bot>, help <@U0OTHER>", channel="D1"))
    assert isinstance(event, UserMessage) and event.text == "hey help @U0OTHER"


def test_a_channel_message_with_a_mention_is_left_to_its_app_mention_event() -> None:
    event = parsed(message(f"<@{BOT_USER}> hi", channel="C1"))
    assert isinstance(event, Ignored) and "app_mention" in event.reason


def test_a_channel_message_without_a_mention_is_ignored_at_the_top_level() -> None:
    assert isinstance(parsed(message("just chatting", channel="C1")), Ignored)


def test_a_thread_reply_without_a_mention_is_answered_only_in_threads_the_bot_is_part_of() -> None:
    event = parsed(message("follow-up", channel="C1", thread_ts="100.1"))
    assert isinstance(event, UserMessage) and event.needs_thread
    assert event.place.thread_key == f"{TEAM}:C1:100.1"


def test_a_direct_message_is_one_conversation_per_user_at_the_top_level() -> None:
    first = parsed(message("hello", channel="D1", user="U1"))
    second = parsed(message("again", channel="D1", user="U1"))
    assert isinstance(first, UserMessage) and isinstance(second, UserMessage)
    assert first.place.dm and first.place.thread_ts is None
    assert first.place.conversation_key == second.place.conversation_key == f"slack:{TEAM}:dm:U1"


def test_a_thread_in_a_dm_is_its_own_conversation() -> None:
    event = parsed(message("in a thread", channel="D1", thread_ts="300.1"))
    assert isinstance(event, UserMessage) and event.place.conversation_key == f"slack:{TEAM}:D1:300.1"


def test_an_app_mention_in_a_dm_is_ignored_because_the_message_event_carries_it() -> None:
    event = mention("hi", channel="D1")
    assert isinstance(parsed(event), Ignored)


@pytest.mark.parametrize(
    "subtype", ["message_changed", "message_deleted", "channel_join", "bot_message", "channel_topic"]
)
def test_subtypes_that_are_not_user_text_are_ignored(subtype: str) -> None:
    assert isinstance(parsed(message("x", channel="D1", subtype=subtype)), Ignored)


@pytest.mark.parametrize("subtype", ["file_share", "thread_broadcast"])
def test_user_text_subtypes_are_answered(subtype: str) -> None:
    assert isinstance(parsed(message("x", channel="D1", subtype=subtype)), UserMessage)


def test_bot_messages_are_ignored_the_bots_own_included() -> None:
    assert isinstance(parsed(message("x", channel="D1", bot_id="B9")), Ignored)
    assert isinstance(parsed(message("x", channel="D1", user=BOT_USER)), Ignored)
    own = message("x", channel="D1", user=BOT_USER)
    assert isinstance(parse_events_payload(envelope(own) | {"authorizations": []}, bot_user_id=BOT_USER), Ignored)


def test_the_bot_user_comes_from_the_envelope_when_not_known() -> None:
    event = parse_events_payload(envelope(mention("hi", channel="C1")), bot_user_id=None)
    assert isinstance(event, UserMessage) and event.text == "hi"


def test_assistant_thread_started() -> None:
    event = parsed(
        {
            "type": "assistant_thread_started",
            "assistant_thread": {"user_id": "U1", "channel_id": "D1", "thread_ts": "400.1", "context": {}},
            "event_ts": "400.2",
        }
    )
    assert isinstance(event, AssistantThreadStarted)
    assert event.place.conversation_key == f"slack:{TEAM}:D1:400.1"


def test_images_are_listed_and_non_images_recognised() -> None:
    files = [
        {"id": "F1", "name": "cat.png", "mimetype": "image/png", "url_private_download": "https://files.slack.com/a"},
        {"id": "F2", "name": "doc.pdf", "mimetype": "application/pdf", "url_private": "https://files.slack.com/b"},
        {"id": "F3"},
    ]
    event = parsed(message("look", channel="D1", files=files, subtype="file_share"))
    assert isinstance(event, UserMessage)
    assert [(f.id, f.is_image) for f in event.files] == [("F1", True), ("F2", False)]


def test_slack_markup_is_unescaped_for_the_model() -> None:
    assert unescape("a &lt;b&gt; &amp; <https://x.y|site> <https://z> <#C1|general> <!here>") == (
        "a <b> & site (https://x.y) https://z #general @here"
    )


def test_commands_in_text() -> None:
    assert command_in("/reset") == ("reset", "")
    assert command_in("  /Summarize the thread please ") == ("summarize", "the thread please")
    assert command_in("not /a command") is None


def test_slash_command_form() -> None:
    body = (
        b"token=x&team_id=T1&channel_id=D5&channel_name=directmessage&user_id=U1&command=%2Freset&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1&trigger_id=t.1"
    )
    command = parse_slash_command(body)
    assert isinstance(command, SlashCommand)
    assert (command.command, command.place.dm, command.response_url) == (
        "reset",
        True,
        "https://hooks.slack.com/commands/1",
    )
    assert command.place.conversation_key == "slack:T1:dm:U1"
    assert isinstance(parse_slash_command(b"\xff\xfe"), Ignored)
    assert isinstance(parse_slash_command(b"command=reset&team_id=T"), Ignored)


def test_block_actions_carry_the_buttons_value_into_the_thread() -> None:
    payload = {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": "U1"},
        "channel": {"id": "C1"},
        "container": {"type": "message", "channel_id": "C1", "message_ts": "500.2", "thread_ts": "500.1"},
        "trigger_id": "tr",
        "actions": [{"action_id": "a1", "type": "button", "value": "Tell me more"}],
    }
    action = parse_block_action(payload)
    assert isinstance(action, BlockAction)
    assert (action.value, action.place.thread_ts) == ("Tell me more", "500.1")
    assert isinstance(parse_block_action({"type": "view_submission"}), Ignored)
    assert interaction_payload(b"payload=%7B%22a%22%3A1%7D") == {"a": 1}
    with pytest.raises(BadRequest):
        interaction_payload(b"payload=not-json")
    assert interaction_payload(b"other=1") is None


def test_a_request_carries_the_conversation_identity_and_images_as_data() -> None:
    from agent_framework import Content

    place = Place(TEAM, "C1", "U1", "100.1")
    image = Content.from_data(data=b"\x89PNG", media_type="image/png")
    request = to_request(place, "what is this?", images=[image], stream=True)
    assert request.isolation_key == f"slack:{TEAM}:C1:100.1"
    assert request.identity is not None and request.identity.native_id == "U1"
    contents = request.input.contents
    assert contents[0].text == "what is this?" and contents[1].media_type == "image/png"
    assert "http" not in str(request.input.to_dict())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(
    value=json_values,
    event=st.dictionaries(
        st.sampled_from(
            [
                "type",
                "user",
                "channel",
                "ts",
                "thread_ts",
                "text",
                "subtype",
                "bot_id",
                "files",
                "channel_type",
                "assistant_thread",
            ]
        ),
        json_values,
    ),
)
def test_parsers_never_raise(value: Any, event: dict[str, Any]) -> None:
    parse_events_payload(value)
    parse_events_payload({"type": "event_callback", "event_id": "E", "team_id": "T", "event": event})
    parse_events_payload(
        {"type": "event_callback", "event_id": "E", "team_id": "T", "event": event | {"type": "message"}}
    )
    parse_block_action(value)
    parse_slash_command(value if isinstance(value, dict) else {})
