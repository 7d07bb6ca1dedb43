"""A polling bot whose token stops working makes `/readiness` 503 naming the channel, until polling recovers."""

from __future__ import annotations

import os
import sys

import httpx
from agent_framework_hosting.testing import wait_until

sys.path.insert(0, os.path.dirname(__file__))
from telegram_fake import FakeBotApi, serve_bot  # noqa: E402


def readiness(url: str) -> httpx.Response:
    return httpx.get(f"{url}/readiness", timeout=10)


def test_a_rejected_token_while_polling_makes_readiness_name_the_channel(fake: FakeBotApi) -> None:
    with serve_bot(fake, polling_timeout=1) as bot:
        assert readiness(bot.url).status_code == 200
        fake.fail("getUpdates", "unauthorized", times=2)
        down = wait_until(lambda: (r := readiness(bot.url)).status_code == 503 and r, timeout=15, message="503")
        assert down.json() == {
            "status": "unavailable",
            "down": {"channel 'telegram'": "polling failed 1 time(s) in a row: getUpdates failed: 401 Unauthorized"},
        }
        wait_until(lambda: readiness(bot.url).status_code == 200, timeout=20, message="recovery")
