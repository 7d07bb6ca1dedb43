"""Update JSON -> events and ChannelRequests. Pure functions, no server."""

from __future__ import annotations

import os
import sys

from agent_framework import Content
from agent_framework_hosting import ChannelIdentity, ChannelSession
from agent_framework_hosting_telegram._parse import (
    CallbackQuery,
    CommandMessage,
    Ignored,
    TextMessage,
    Unsupported,
    callback_request,
    chat_key,
    command_request,
    message_request,
    parse_command,
    parse_update,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))
from telegram_fake import message_update  # noqa: E402


def test_text_message_becomes_a_turn_in_the_chats_session_from_the_sender() -> None:
    event = parse_update(message_update(10, "hi there", chat_id=-100, user_id=7, chat_type="group"))
    assert isinstance(event, TextMessage)
    request = message_request(event, stream=True)
    assert request.session == ChannelSession("telegram:-100")
    assert request.identity == ChannelIdentity(
        "telegram", "7", {"username": "ada", "first_name": "Ada", "chat_id": -100, "chat_type": "group"}
    )
    assert request.input[0].role == "user" and request.input[0].text == "hi there"
    assert request.attributes == {"chat_id": -100, "chat_type": "group", "update_id": 10, "message_id": 510}
    assert request.stream is True and request.operation == "message.create"


def test_two_members_of_a_group_share_the_session_but_not_the_identity() -> None:
    first = message_request(parse_update(message_update(1, "a", chat_id=-5, user_id=1)))  # type: ignore[arg-type]
    second = message_request(parse_update(message_update(2, "b", chat_id=-5, user_id=2)))  # type: ignore[arg-type]
    assert first.session == second.session
    assert first.identity != second.identity


def test_photo_with_caption_takes_the_largest_size() -> None:
    photo = [{"file_id": "small", "width": 90}, {"file_id": "large", "width": 1280, "file_size": 1000}]
    event = parse_update(message_update(3, None, photo=photo, caption="what is this?"))
    assert isinstance(event, TextMessage)
    assert event.text == "what is this?"
    assert event.image is not None and (event.image.file_id, event.image.media_type) == ("large", "image/jpeg")
    image = Content.from_data(data=b"\xff\xd8jpeg", media_type="image/jpeg")
    request = message_request(event, image=image)
    assert [c.type for c in request.input[0].contents] == ["text", "data"]


def test_image_document_counts_as_an_image_and_other_documents_as_caption_only() -> None:
    png = parse_update(message_update(4, None, document={"file_id": "d1", "mime_type": "image/png"}))
    assert isinstance(png, TextMessage) and png.image is not None and png.image.media_type == "image/png"
    pdf = parse_update(
        message_update(5, None, document={"file_id": "d2", "mime_type": "application/pdf"}, caption="read")
    )
    assert isinstance(pdf, TextMessage) and pdf.image is None and pdf.text == "read"
    bare = parse_update(message_update(6, None, document={"file_id": "d3", "mime_type": "application/pdf"}))
    assert isinstance(bare, Unsupported) and bare.kind == "document"


def test_stickers_voice_and_edits_are_unsupported_and_service_messages_ignored() -> None:
    assert parse_update(message_update(1, None, sticker={"file_id": "s"})) == Unsupported(
        1,
        parse_update(message_update(1)).target,
        "sticker",  # type: ignore[union-attr]
    )
    assert isinstance(parse_update(message_update(2, None, voice={"file_id": "v"})), Unsupported)
    edited = {"update_id": 3, "edited_message": message_update(3)["message"]}
    assert isinstance(parse_update(edited), Unsupported) and parse_update(edited).kind == "edited_message"  # type: ignore[union-attr]
    assert isinstance(parse_update(message_update(4, None, new_chat_members=[{"id": 1}])), Ignored)
    assert isinstance(parse_update({"update_id": 5, "my_chat_member": {}}), Ignored)


def test_messages_from_bots_are_ignored() -> None:
    update = message_update(1)
    update["message"]["from"]["is_bot"] = True
    assert isinstance(parse_update(update), Ignored)


def test_commands_match_case_insensitively_with_or_without_the_bot_name() -> None:
    assert parse_command("/Reset") == ("reset", "")
    assert parse_command("/ask@Echo_Bot  what is 2+2? ", "echo_bot") == ("ask", "what is 2+2?")
    assert parse_command("/ask@other_bot hi", "echo_bot") is False
    assert parse_command("/usr/bin/env") is None
    assert parse_command("not /a command") is None
    assert parse_command("/" + "x" * 33) is None
    event = parse_update(message_update(9, "/HELP@echo_bot me"), bot_username="echo_bot")
    assert isinstance(event, CommandMessage) and (event.name, event.args) == ("help", "me")
    request = command_request(event)
    assert request.operation == "command.invoke" and request.attributes["command"] == "help"
    assert isinstance(parse_update(message_update(9, "/help@someone_else"), bot_username="echo_bot"), Ignored)


def test_forum_topic_messages_keep_their_thread() -> None:
    event = parse_update(message_update(1, "hi", chat_type="supergroup", is_topic_message=True, message_thread_id=77))
    assert isinstance(event, TextMessage) and event.target.thread_id == 77
    assert message_request(event).attributes["message_thread_id"] == 77


def test_callback_query_runs_its_data_in_the_messages_chat() -> None:
    update = {
        "update_id": 20,
        "callback_query": {
            "id": "cb1",
            "from": {"id": 7, "is_bot": False, "first_name": "Ada"},
            "message": {"message_id": 3, "date": 0, "chat": {"id": 42, "type": "private"}},
            "data": "option_a",
        },
    }
    event = parse_update(update)
    assert isinstance(event, CallbackQuery) and event.query_id == "cb1"
    request = callback_request(event)
    assert request is not None and request.input == "option_a" and request.attributes["callback_query_id"] == "cb1"
    assert chat_key(update) == "42"
    update["callback_query"].pop("data")
    assert callback_request(parse_update(update)) is None  # type: ignore[arg-type]


def test_chat_key_orders_messages_and_edits_of_one_chat_together() -> None:
    assert chat_key(message_update(1, chat_id=5)) == "5"
    assert chat_key({"update_id": 2, "edited_message": {"chat": {"id": 5}}}) == "5"
    assert chat_key({"update_id": 3}) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
update_like = st.fixed_dictionaries(
    {"update_id": st.integers() | st.text(max_size=3)},
    optional={
        "message": st.fixed_dictionaries(
            {},
            optional={
                "chat": st.dictionaries(st.sampled_from(["id", "type"]), json_values) | json_values,
                "from": st.dictionaries(st.sampled_from(["id", "username", "is_bot"]), json_values) | json_values,
                "text": json_values,
                "caption": json_values,
                "photo": json_values,
                "document": json_values,
                "message_id": json_values,
                "is_topic_message": json_values,
                "message_thread_id": json_values,
            },  # fmt: skip
        ),
        "edited_message": json_values,
        "callback_query": json_values,
    },
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values | update_like)
def test_parsing_any_json_never_raises(update: object) -> None:
    event = parse_update(update)
    chat_key(update)
    if isinstance(event, TextMessage):
        message_request(event)
    elif isinstance(event, CommandMessage):
        command_request(event)
    elif isinstance(event, CallbackQuery):
        callback_request(event)
