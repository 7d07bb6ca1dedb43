"""A Discord host SIGKILLed after deferring an interaction: the restarted host answers it, exactly once."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import httpx
import pytest
from agent_framework_hosting import INTERRUPTED_NOTICE
from agent_framework_hosting.testing import ServerProcess

sys.path.insert(0, os.path.dirname(__file__))
from discord_crash_host import HERE  # noqa: E402
from discord_testkit import PATH, Signer, ask, encode, fake_discord  # noqa: E402

pytestmark = pytest.mark.slow


def host(state: Path, api: str, signer: Signer, delay: float, *extra: str) -> ServerProcess:
    command = [sys.executable, HERE, "--port", "{port}", "--state", str(state), "--api", api,
               "--public-key", signer.public_key, "--delay", str(delay), *extra]  # fmt: skip
    process = ServerProcess(command, name="discord")
    process.wait_ready(timeout=30)
    return process


def test_an_interaction_deferred_before_a_sigkill_is_answered_once_after_restart(tmp_path: Path) -> None:
    signer = Signer()
    interaction = ask("hello")
    token = interaction["token"]
    with fake_discord() as discord:
        first = host(tmp_path, discord.url, signer, delay=3)
        try:
            body = encode(interaction)
            response = httpx.post(first.url + PATH, content=body, headers=signer.headers(body), timeout=15)
            assert response.status_code == 200 and response.json()["type"] == 5  # deferred
            time.sleep(1.0)
            assert discord.webhook_calls(token) == []
        finally:
            first.kill()
        second = host(tmp_path, discord.url, signer, delay=0.2)
        try:
            discord.wait_for(lambda calls: any(token in call.path for call in calls), timeout=20)
            time.sleep(1.5)
            again = httpx.post(second.url + PATH, content=body, headers=signer.headers(body), timeout=15)
            assert again.status_code == 200
            time.sleep(0.5)
        finally:
            second.stop()
        contents = [call.json.get("content") for call in discord.webhook_calls(token)]
    assert contents == ["echo 1: hello"]


def test_a_streamed_answer_cut_by_a_sigkill_after_the_token_expired_gets_one_notice_in_the_channel(
    tmp_path: Path,
) -> None:
    signer = Signer()
    interaction = ask("tell me a long story", channel_id="5160")
    bot = ("--bot-token", "bot-secret")
    with fake_discord() as discord:
        first = host(tmp_path, discord.url, signer, 0.7, "--stream", *bot)
        try:
            body = encode(interaction)
            response = httpx.post(first.url + PATH, content=body, headers=signer.headers(body), timeout=15)
            assert response.status_code == 200 and response.json()["type"] == 5
            discord.wait_for(lambda calls: any(interaction["token"] in call.path for call in calls), timeout=20)
        finally:
            first.kill()  # mid-answer: part of it is on screen
        # The restarted host finds the interaction's token expired: the notice goes to the channel instead.
        second = host(tmp_path, discord.url, signer, 0.0, "--token-lifetime", "0", *bot)
        try:
            discord.wait_for(lambda calls: any("/channels/5160/" in call.path for call in calls), timeout=20)
            time.sleep(1.0)
        finally:
            second.stop()
        notices = [call.json for call in discord.accepted if "/channels/5160/" in call.path]
    assert [notice["content"] for notice in notices] == [INTERRUPTED_NOTICE]
    assert notices[0]["enforce_nonce"] is True
