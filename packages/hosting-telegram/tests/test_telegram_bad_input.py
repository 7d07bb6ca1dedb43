"""An update that nests deep or holds a lone surrogate is a 400; the bot sends nothing; no traceback."""

from __future__ import annotations

import os
import sys

import httpx
from agent_framework_hosting.testing import hostile_bodies, watch_logs

sys.path.insert(0, os.path.dirname(__file__))
from telegram_fake import FakeBotApi, message_update, serve_bot  # noqa: E402


def test_hostile_updates_are_400(fake: FakeBotApi) -> None:
    with serve_bot(fake, webhook_url="https://bot.example.com/telegram/webhook") as bot, watch_logs() as logs:
        headers = {**bot.headers(), "content-type": "application/json"}
        for name, body in hostile_bodies(message_update(1, "hi")).items():
            answer = httpx.post(bot.webhook, content=body, headers=headers, timeout=10)
            assert answer.status_code == 400, (name, answer.text)
        assert fake.of("sendMessage") == []
    assert logs.tracebacks() == []
    assert bot.client.calls == []
