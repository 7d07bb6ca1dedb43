"""An update that nests deep or holds a lone surrogate is a 400; the bot sends nothing; no traceback."""

from __future__ import annotations

import os
import sys

import httpx
from agent_framework_hosting.testing import hostile_bodies, hostile_json, watch_logs
from hypothesis import HealthCheck, given, settings

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


def test_fuzzed_hostile_updates_never_get_a_5xx_nor_log_a_traceback(fake: FakeBotApi) -> None:
    with serve_bot(fake, webhook_url="https://bot.example.com/telegram/webhook") as bot:
        headers = {**bot.headers(), "content-type": "application/json"}

        @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(body=hostile_json(message_update(1, "hi")))
        def check(body: bytes) -> None:
            with watch_logs() as logs:
                answer = httpx.post(bot.webhook, content=body, headers=headers, timeout=10)
            assert answer.status_code < 500, answer.text
            assert logs.tracebacks() == []

        check()
