"""`serve` before it listens: the target, the channels from the environment, the state, and the banner."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_framework_hosting._cli import CliError, ServePlan, build_parser, plan_serve

TARGETS = """
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import JsonChannel, OfflineChatClient

agent = Agent(client=OfflineChatClient(), name="echo")
host = AgentFrameworkHost(agent, channels=[JsonChannel()])
"""


def plan(*argv: str, environ: dict[str, str] | None = None, cwd: Path | None = None) -> ServePlan:
    environ = environ or {}
    args = build_parser(environ).parse_args(["serve", *argv])
    return plan_serve(args, environ, search_path=str(cwd) if cwd else None)


def banner(result: ServePlan, environ: dict[str, str] | None = None) -> str:
    return result.banner.render(environ or {})


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(sys, "path", list(sys.path))
    name = f"cli_plan_targets_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(TARGETS)
    yield name
    sys.modules.pop(name, None)


def test_without_target_the_demo_is_served_on_every_settingless_channel() -> None:
    result = plan()
    assert [c.name for c in result.host.channels] == ["responses", "invocations", "webchat", "a2a", "mcp", "ag-ui"]
    assert result.host.target.name == "demo"
    text = banner(result)
    assert "serving the demo agent" in text
    assert "model: offline demo model" in text
    responses = "  responses          http://127.0.0.1:8000/responses"
    assert f"{responses}  (OpenAI Responses API; also at http://127.0.0.1:8000/v1/responses)" in text
    assert "  invocations        http://127.0.0.1:8000/invocations" in text
    assert "  webchat            http://127.0.0.1:8000/  (open it in a browser)" in text
    assert "  a2a                http://127.0.0.1:8000/a2a  (A2A v1.0/v0.3 JSON-RPC; agent card at" in text
    assert "  mcp                http://127.0.0.1:8000/mcp  (MCP Streamable HTTP; tool 'ask')" in text
    assert "  ag-ui              http://127.0.0.1:8000/ag-ui  (AG-UI event stream; POST a RunAgentInput)" in text
    assert "  telegram           needs TELEGRAM_BOT_TOKEN" in text
    assert (
        "state: memory, the 1000 most recent conversations (conversations are lost on restart; --state-dir keeps them)"
        in text
    )
    assert "curl -N http://127.0.0.1:8000/responses -H 'Content-Type: application/json' -d" in text


def test_channel_options_choose_the_channels_and_the_curl_line() -> None:
    result = plan("--channel", "invocations", "--port", "9001")
    assert [c.name for c in result.host.channels] == ["invocations"]
    text = banner(result)
    assert "skipped:" not in text
    assert "curl http://127.0.0.1:9001/invocations -H 'Content-Type: application/json' -d" in text


def test_the_port_defaults_to_the_port_variable() -> None:
    assert "http://127.0.0.1:8123/responses" in banner(plan(environ={"PORT": "8123"}))


def test_a_state_dir_keeps_sessions_on_disk(tmp_path: Path) -> None:
    result = plan("--state-dir", str(tmp_path / "state"))
    assert result.host.state_location == tmp_path / "state" / "sessions"
    assert f"state: {tmp_path / 'state'}" in banner(result)


def test_concurrency_chooses_the_policy_and_the_collect_window() -> None:
    assert plan().host.concurrency.policy == "queue"
    chosen = plan("--concurrency", "collect", "--collect-window", "2.5").host.concurrency
    assert (chosen.policy, chosen.collect_window) == ("collect", 2.5)
    with pytest.raises(SystemExit):
        plan("--concurrency", "drop")
    with pytest.raises(SystemExit):
        plan("--concurrency", "collect", "--collect-window", "soon")


def test_openai_settings_put_the_demo_on_a_real_model() -> None:
    environ = {"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1", "OPENAI_MODEL": "llama3.2"}
    result = plan(environ=environ)
    assert type(result.host.target.client).__name__ == "OpenAIChatCompletionClient"
    assert "model: llama3.2 at http://127.0.0.1:11434/v1 (Chat Completions)" in banner(result, environ)


def test_a_responses_api_key_shows_in_the_curl_line() -> None:
    environ = {"RESPONSES_API_KEY": "sk-host"}
    text = banner(plan(environ=environ), environ)
    assert '-H "Authorization: Bearer $RESPONSES_API_KEY"' in text
    assert "sk-host" not in text


def test_a_telegram_token_starts_telegram_in_polling_mode() -> None:
    environ = {"TELEGRAM_BOT_TOKEN": "123456:secret-token-value"}
    result = plan(environ=environ)
    text = banner(result, environ)
    assert "telegram" in [c.name for c in result.host.channels]
    assert "  telegram           long polling (no public URL needed)" in text
    assert "secret-token-value" not in text


def test_a_telegram_webhook_url_starts_telegram_in_webhook_mode() -> None:
    environ = {"TELEGRAM_BOT_TOKEN": "123456:abc", "TELEGRAM_WEBHOOK_URL": "https://bot.example.com/telegram/webhook"}
    text = banner(plan(environ=environ), environ)
    assert (
        "  telegram           http://127.0.0.1:8000/telegram/webhook"
        "  (webhook: Telegram posts to https://bot.example.com/telegram/webhook)"
    ) in text


def test_several_workers_with_memory_state_are_warned_about() -> None:
    text = banner(plan("--workers", "2"))
    assert "workers: 2" in text
    assert "each worker keeps its own" in text


def test_an_agent_target_is_served_on_the_environment_channels(module: str, tmp_path: Path) -> None:
    result = plan(f"{module}:agent", cwd=tmp_path)
    assert result.host.target.name == "echo"
    assert [c.name for c in result.host.channels] == ["responses", "invocations", "webchat", "a2a", "mcp", "ag-ui"]
    assert f"serving {module}:agent (agent 'echo')" in banner(result)
    assert "model:" not in banner(result)


def test_a_ready_host_keeps_its_own_channels(module: str, tmp_path: Path) -> None:
    result = plan(f"{module}:host", cwd=tmp_path)
    assert [c.name for c in result.host.channels] == ["json"]
    assert "  json               http://127.0.0.1:8000/json" in banner(result)


def test_a_ready_host_refuses_channel_and_state_options(module: str, tmp_path: Path) -> None:
    with pytest.raises(CliError, match="ready AgentFrameworkHost"):
        plan(f"{module}:host", "--channel", "responses", cwd=tmp_path)


def test_a_channel_asked_for_without_its_settings_is_a_cli_error() -> None:
    with pytest.raises(CliError, match="channel 'telegram' needs TELEGRAM_BOT_TOKEN"):
        plan("--channel", "telegram")


def test_bot_anonymous_serves_the_activity_channel_for_local_emulators_with_a_loud_warning() -> None:
    environ = {"BOT_ANONYMOUS": "1"}
    result = plan("--channel", "activity-protocol", environ=environ)
    (channel,) = result.host.channels
    assert channel.app_id is None
    assert "127.0.0.1" in channel.service_url_allowed_hosts and "localhost" in channel.service_url_allowed_hosts
    text = banner(result, environ)
    assert "WARNING: activity accepts ANONYMOUS callers (BOT_ANONYMOUS is set)" in text
    assert "Agents Playground" in text
    assert "WARNING" not in banner(plan("--channel", "responses"))


def test_bot_anonymous_with_credentials_is_refused() -> None:
    environ = {"BOT_ANONYMOUS": "true", "BOT_APP_ID": "app", "BOT_APP_PASSWORD": "pw"}
    with pytest.raises(CliError, match="BOT_ANONYMOUS and BOT_APP_ID and BOT_APP_PASSWORD set; choose one"):
        plan("--channel", "activity-protocol", environ=environ)
    authenticated = plan("--channel", "activity-protocol", environ={"BOT_APP_ID": "app", "BOT_APP_PASSWORD": "pw"})
    assert "127.0.0.1" not in authenticated.host.channels[0].service_url_allowed_hosts


def test_the_banner_never_prints_a_redis_password() -> None:
    result = plan("--state-dir", "redis://:hunter2@127.0.0.1:6399/0")
    text = banner(result)
    assert "hunter2" not in text
    assert "state: redis://:***@127.0.0.1:6399/0" in text


DISCORD = {"DISCORD_APPLICATION_ID": "100000000000000001", "DISCORD_PUBLIC_KEY": "ab" * 32}


def test_without_a_public_url_the_banner_says_platforms_cannot_call_loopback() -> None:
    text = banner(plan("--channel", "discord", environ=DISCORD), DISCORD)
    assert "http://127.0.0.1:8000/discord/interactions" in text
    assert "note: discord must be reachable from the internet over https" in text
    assert "--public-url https://..." in text


def test_a_public_url_is_what_the_banner_shows_and_where_telegram_is_told_to_post() -> None:
    environ = {**DISCORD, "TELEGRAM_BOT_TOKEN": "123:abc"}
    result = plan(
        "--channel", "discord", "--channel", "telegram", "--public-url", "https://bot.example.com/", environ=environ
    )
    text = banner(result, environ)
    assert "https://bot.example.com/discord/interactions" in text and "note:" not in text
    telegram = next(c for c in result.host.channels if c.name == "telegram")
    assert telegram.webhook_url == "https://bot.example.com/telegram/webhook"
    assert "webhook: Telegram posts to https://bot.example.com/telegram/webhook" in text


def test_public_url_must_be_a_url() -> None:
    with pytest.raises(SystemExit):
        plan("--public-url", "bot.example.com")
