"""Channels from the environment: installed packages whose settings are present; the rest skipped, with a reason."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.plugins import (
    ChannelPlugin,
    ChannelSelectionError,
    ChannelSetting,
    SkippedChannel,
    channels_table,
    discover,
    select_channels,
)
from agent_framework_hosting.testing import OfflineChatClient
from nacl.signing import SigningKey
from starlette.testclient import TestClient

INSTALLED = discover().plugins
PLUGINS = {plugin.name: plugin for plugin in INSTALLED}


def names(selection: object) -> list[str]:
    return [s.plugin.name for s in selection.selected]  # type: ignore[attr-defined]


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
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": "slack-signing-secret",
    }


def test_without_settings_only_the_channels_that_need_none_start() -> None:
    selection = select_channels({})
    assert names(selection) == ["responses", "invocations", "webchat", "a2a", "mcp", "ag-ui"]
    assert reasons(selection) == {
        "telegram": "needs TELEGRAM_BOT_TOKEN",
        "discord": "needs DISCORD_APPLICATION_ID and DISCORD_PUBLIC_KEY",
        "activity-protocol": "needs BOT_APP_ID and BOT_APP_PASSWORD",
        "slack": "needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET or SLACK_APP_TOKEN",
    }


def test_a_channel_starts_when_its_settings_are_present(every_setting: dict[str, str]) -> None:
    selection = select_channels(every_setting)
    assert names(selection) == [
        "responses", "invocations", "telegram", "discord", "slack", "activity-protocol", "webchat", "a2a", "mcp",
        "ag-ui",
    ]  # fmt: skip
    assert selection.skipped == []
    assert [type(c) for c in selection.channels] == [plugin.channel for plugin in INSTALLED]


def test_settings_become_constructor_arguments_and_blank_ones_are_ignored() -> None:
    environ = {
        "TELEGRAM_BOT_TOKEN": " 123:abc ",
        "TELEGRAM_WEBHOOK_URL": "https://x.example/hook",
        "TELEGRAM_SECRET_TOKEN": "",
    }
    assert PLUGINS["telegram"].arguments(environ) == {"bot_token": "123:abc", "webhook_url": "https://x.example/hook"}
    assert PLUGINS["telegram"].missing({"TELEGRAM_BOT_TOKEN": "   "}) == ["TELEGRAM_BOT_TOKEN"]


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
    with pytest.raises(
        ChannelSelectionError, match="unknown channel 'sms'; installed channels: responses, invocations"
    ):
        select_channels({}, ["sms"])


def test_the_web_chat_needs_the_responses_channel() -> None:
    with pytest.raises(ChannelSelectionError, match="channel 'webchat' needs the responses channel"):
        select_channels({}, ["webchat"])
    assert names(select_channels({}, ["webchat", "responses"])) == ["responses", "webchat"]


def test_a_plugin_that_cannot_be_loaded_is_skipped_and_asking_for_it_says_why() -> None:
    broken = [SkippedChannel("ghost", "failed to import: ModuleNotFoundError: No module named 'ghost_dependency'")]
    selection = select_channels({}, plugins=[PLUGINS["invocations"]], broken=broken)
    assert names(selection) == ["invocations"]
    assert reasons(selection) == {"ghost": "failed to import: ModuleNotFoundError: No module named 'ghost_dependency'"}
    with pytest.raises(ChannelSelectionError, match=r"channel 'ghost' failed to import: ModuleNotFoundError"):
        select_channels({}, ["ghost"], plugins=[], broken=broken)


def test_a_plugin_whose_channel_rejects_its_settings_says_what_is_wrong() -> None:
    class PickyChannel:
        def __init__(self, *, token: str) -> None:
            raise ValueError("token must look like 123:abc")

    picky = ChannelPlugin(
        "picky", channel=PickyChannel, settings=(ChannelSetting("PICKY_TOKEN", "token", required=True),)
    )
    selection = select_channels({"PICKY_TOKEN": "nope"}, plugins=[picky])
    assert selection.selected == []
    assert reasons(selection) == {"picky": "could not be configured: token must look like 123:abc"}


def test_entry_points_that_fail_to_load_or_are_not_plugins_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"odd_channels_{uuid.uuid4().hex[:6]}"
    (tmp_path / f"{module}.py").write_text("import a_dependency_that_is_not_installed\n")
    (tmp_path / f"{module}_plain.py").write_text("PLUGIN = 'not a plugin'\n")
    info = tmp_path / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        f"[agent_framework_hosting.channels]\nbroken = {module}:PLUGIN\nplain = {module}_plain:PLUGIN\n"
    )
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    found = discover()
    assert {b.name: b.reason for b in found.broken} == {
        "broken": "failed to import: ModuleNotFoundError: No module named 'a_dependency_that_is_not_installed'",
        "plain": f"{module}_plain:PLUGIN is not a ChannelPlugin (an incompatible version?)",
    }
    assert [p.name for p in found.plugins] == [p.name for p in INSTALLED]


def test_every_installed_plugin_declares_a_channel_and_its_settings_once() -> None:
    first_party = ["responses", "invocations", "telegram", "discord", "slack", "activity-protocol", "webchat"]
    assert [p.name for p in INSTALLED if p.name in first_party] == first_party
    for plugin in INSTALLED:
        assert plugin.distribution.startswith("agent-framework-hosting-")
        assert len({s.variable for s in plugin.settings}) == len(plugin.settings)
    secrets = {s.variable for p in INSTALLED for s in p.settings if s.secret}
    assert {"TELEGRAM_BOT_TOKEN", "BOT_APP_PASSWORD", "RESPONSES_API_KEY"} <= secrets


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


def test_the_readme_channel_table_is_the_plugins_declaration() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    first_party = [p for p in INSTALLED if p.distribution.startswith("agent-framework-hosting-")]
    assert channels_table(first_party) in readme, "regenerate it: python -m agent_framework_hosting.plugins"
