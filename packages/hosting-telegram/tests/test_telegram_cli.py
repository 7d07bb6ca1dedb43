"""`agent-framework-host serve` with a token the Bot API rejects: one line on stderr, exit 1, no banner."""

from __future__ import annotations

import os
import subprocess
import sys

from agent_framework_hosting.testing import free_port

sys.path.insert(0, os.path.dirname(__file__))
from telegram_fake import FakeBotApi  # noqa: E402

COMMAND = [sys.executable, "-m", "agent_framework_hosting", "serve", "--channel", "telegram"]


def test_a_wrong_bot_token_is_one_line_and_exit_1(fake: FakeBotApi) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TELEGRAM_", "DISCORD_", "BOT_"))}
    environ = {**clean, "TELEGRAM_BOT_TOKEN": "123:wrong", "TELEGRAM_API_BASE": fake.url}
    for transport in ([], ["--public-url", "https://bot.example.com"]):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "agent_framework_hosting",
                "serve",
                "--channel",
                "telegram",
                "--port",
                str(free_port()),
                *transport,
            ],
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 1, (result.stdout, result.stderr)
        assert "serving" not in result.stdout
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("agent-framework-host: error: channel 'telegram' failed to start: ")
        assert "bot token was rejected" in lines[0]
        assert "123:wrong" not in result.stderr
    assert fake.of("setWebhook") == []
