"""Fixtures and every outbound call checked against aiogram's typed Bot API models (an independent oracle)."""

from __future__ import annotations

import os
import sys
from typing import Any

import aiogram.methods
import httpx
from agent_framework_hosting.testing import OfflineChatClient, eventually
from aiogram.types import Update

sys.path.insert(0, os.path.dirname(__file__))
from telegram_fake import FakeBotApi, message_update, serve_bot  # noqa: E402

PHOTO = [
    {"file_id": "small", "file_unique_id": "s1", "width": 90, "height": 90},
    {"file_id": "big", "file_unique_id": "b1", "width": 800, "height": 800, "file_size": 12},
]
CALLBACK = {
    "update_id": 30,
    "callback_query": {
        "id": "cbq",
        "from": {"id": 7, "is_bot": False, "first_name": "Ada"},
        "message": {"message_id": 3, "date": 0, "chat": {"id": 42, "type": "private"}, "text": "pick"},
        "chat_instance": "ci",
        "data": "B",
    },
}
FIXTURES: list[dict[str, Any]] = [
    message_update(1, "hello"),
    message_update(2, None, photo=PHOTO, caption="what is this?"),
    message_update(3, "/start"),
    message_update(4, "hi", chat_id=-100, chat_type="supergroup", is_topic_message=True, message_thread_id=12),
    {"update_id": 5, "edited_message": {**message_update(5, "fixed")["message"], "edit_date": 1_700_000_100}},
    message_update(
        6,
        None,
        sticker={
            "file_id": "st",
            "file_unique_id": "u",
            "type": "regular",
            "width": 1,
            "height": 1,
            "is_animated": False,
            "is_video": False,
        },
    ),
    CALLBACK,
]


def test_fixture_updates_are_valid_bot_api_updates() -> None:
    for fixture in FIXTURES:
        Update.model_validate(fixture)


def check_call(method: str, payload: dict[str, Any]) -> None:
    model = getattr(aiogram.methods, method[0].upper() + method[1:])
    unknown = set(payload) - set(model.model_fields)
    assert not unknown, f"{method} sent unknown fields {unknown}"
    model.model_validate(payload)


async def test_every_call_the_channel_makes_is_a_valid_bot_api_call(fake: FakeBotApi) -> None:
    fake.files["big"] = b"\xff\xd8jpeg"
    answer = "**Long** answer. " * 400
    client = OfflineChatClient(reply=lambda messages: answer, chunk_delay=0.0)
    with serve_bot(
        fake, client=client, webhook_url="https://bot.example.com/hook", stream=True, stream_edit_min_interval=0.05
    ) as bot:
        async with httpx.AsyncClient(timeout=10) as http:
            for fixture in FIXTURES:
                response = await http.post(bot.webhook, json=fixture, headers=bot.headers())
                assert response.status_code == 200
        await eventually(
            lambda: fake.of("answerCallbackQuery") and len(fake.sent_texts(42)) >= 8, message="all replies"
        )
    with serve_bot(fake, client=client, stream=False):
        fake.push_update(message_update(40, "polled"))
        await eventually(lambda: len(fake.of("getUpdates")) >= 2, message="polling")
    methods = {call.method for call in fake.calls}
    assert {"setWebhook", "setMyCommands", "getMe", "getFile", "sendMessage", "editMessageText", "getUpdates",
            "deleteWebhook", "sendMessageDraft", "sendChatAction", "answerCallbackQuery"} <= methods  # fmt: skip
    for call in fake.calls:
        check_call(call.method, call.payload)
