"""Channels from the environment: installed packages whose settings are present; the rest skipped, with a reason."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting._channels_from_env import (
    KNOWN_CHANNELS,
    ChannelSelectionError,
    ChannelSpec,
    Setting,
    select_channels,
)
from agent_framework_hosting.testing import OfflineChatClient
from nacl.signing import SigningKey
from starlette.testclient import TestClient

SPECS = {spec.name: spec for spec in KNOWN_CHANNELS}


def names(selection: object) -> list[str]:
    return [s.spec.name for s in selection.selected]  # type: ignore[attr-defined]


def reasons(selection: object) -> dict[str, str]:
    return {s.name: s.reason for s in selection.skipped}  # type: ignore[attr-defined]


@pytest.fixture
def every_setting() -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": "123456:test-token",
        "TELEGRAM_WEBHOOK_URL": "https://bot.example.com/telegram/webhook",
        "TELEGRAM_SECRET_TOKEN": "s3cret-token",
        "DISCORD_APPLICATION_ID": "1234567890",
        "DISCORD_PUBLIC_KEY": SigningKey.generate().verify_key.encode().hex(),
        "BOT_APP_ID": "00000000-0000-0000-0000-000000000001",
        "BOT_APP_PASSWORD": "app-password",
    }


def test_without_settings_only_the_channels_that_need_none_start() -> None:
    selection = select_channels({})
    assert names(selection) == ["responses", "invocations", "webchat"]
    assert reasons(selection) == {
        "telegram": "needs TELEGRAM_BOT_TOKEN",
        "discord": "needs DISCORD_APPLICATION_ID and DISCORD_PUBLIC_KEY",
        "activity-protocol": "needs BOT_APP_ID and BOT_APP_PASSWORD",
    }


def test_a_channel_starts_when_its_settings_are_present(every_setting: dict[str, str]) -> None:
    selection = select_channels(every_setting)
    assert names(selection) == ["responses", "invocations", "telegram", "discord", "activity-protocol", "webchat"]
    assert selection.skipped == []
    assert [type(c).__name__ for c in selection.channels] == [spec.class_name for spec in KNOWN_CHANNELS]


def test_settings_become_constructor_arguments_and_blank_ones_are_ignored() -> None:
    environ = {
        "TELEGRAM_BOT_TOKEN": " 123:abc ",
        "TELEGRAM_WEBHOOK_URL": "https://x.example/hook",
        "TELEGRAM_SECRET_TOKEN": "",
    }
    assert SPECS["telegram"].kwargs(environ) == {"bot_token": "123:abc", "webhook_url": "https://x.example/hook"}
    assert SPECS["telegram"].missing({"TELEGRAM_BOT_TOKEN": "   "}) == ["TELEGRAM_BOT_TOKEN"]


def test_a_channel_that_rejects_its_settings_is_skipped_with_the_reason(every_setting: dict[str, str]) -> None:
    selection = select_channels({**every_setting, "DISCORD_PUBLIC_KEY": "not-a-key"})
    assert "discord" not in names(selection)
    assert reasons(selection)["discord"].startswith("could not be configured: ")


def test_asking_for_channels_by_name_serves_only_those(every_setting: dict[str, str]) -> None:
    selection = select_channels(every_setting, ["invocations", "telegram"])
    assert names(selection) == ["invocations", "telegram"]
    assert selection.skipped == []


def test_asking_for_a_channel_without_its_settings_is_an_error() -> None:
    with pytest.raises(
        ChannelSelectionError, match="channel 'discord' needs DISCORD_APPLICATION_ID and DISCORD_PUBLIC_KEY"
    ):
        select_channels({}, ["discord"])


def test_asking_for_an_unknown_channel_is_an_error() -> None:
    with pytest.raises(ChannelSelectionError, match="unknown channel 'slack'; known channels: responses, invocations"):
        select_channels({}, ["slack"])


def test_the_web_chat_needs_the_responses_channel() -> None:
    with pytest.raises(ChannelSelectionError, match="channel 'webchat' needs the responses channel"):
        select_channels({}, ["webchat"])
    assert names(select_channels({}, ["webchat", "responses"])) == ["responses", "webchat"]


def test_a_channel_package_that_is_not_installed_is_skipped_with_a_pip_hint() -> None:
    ghost = ChannelSpec("ghost", "agent-framework-hosting-ghost", "agent_framework_hosting_ghost", "GhostChannel")
    selection = select_channels({}, specs=[SPECS["invocations"], ghost])
    assert names(selection) == ["invocations"]
    assert reasons(selection) == {"ghost": "not installed (pip install agent-framework-hosting-ghost)"}
    with pytest.raises(ChannelSelectionError, match=r"channel 'ghost' not installed \(pip install"):
        select_channels({}, ["ghost"], specs=[ghost])


def test_a_broken_channel_package_says_what_is_wrong(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    broken, wrong = f"broken_channel_{uuid.uuid4().hex[:6]}", f"wrong_channel_{uuid.uuid4().hex[:6]}"
    (tmp_path / f"{broken}.py").write_text("import a_dependency_that_is_not_installed\n")
    (tmp_path / f"{wrong}.py").write_text(
        "class PickyChannel:\n"
        "    def __init__(self, *, token):\n"
        "        raise ValueError('token must look like 123:abc')\n"
    )
    specs = [
        ChannelSpec("broken", "broken-dist", broken, "BrokenChannel"),
        ChannelSpec("renamed", "wrong-dist", wrong, "RenamedChannel"),
        ChannelSpec(
            "picky", "wrong-dist", wrong, "PickyChannel", settings=(Setting("PICKY_TOKEN", "token", required=True),)
        ),
    ]
    selection = select_channels({"PICKY_TOKEN": "nope"}, specs=specs)
    assert selection.selected == []
    assert reasons(selection) == {
        "broken": "failed to import: No module named 'a_dependency_that_is_not_installed'",
        "renamed": f"{wrong} has no RenamedChannel (an incompatible version?)",
        "picky": "could not be configured: token must look like 123:abc",
    }


def test_responses_api_key_in_the_environment_protects_the_responses_channel() -> None:
    selection = select_channels({"RESPONSES_API_KEY": "sk-host-key"}, ["responses"])
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=selection.channels)
    with TestClient(host.app) as client:
        refused = client.post("/responses", json={"model": "m", "input": "hi"})
        allowed = client.post(
            "/responses", json={"model": "m", "input": "hi"}, headers={"Authorization": "Bearer sk-host-key"}
        )
    assert refused.status_code == 401
    assert allowed.status_code == 200
    assert allowed.json()["output"][0]["content"][0]["text"] == "echo 1: hi"
