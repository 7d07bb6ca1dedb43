"""Retention: idle conversations expire after `session_ttl` on every backend; sizes show; a user's data is erasable."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting._cli import build_parser, plan_serve
from agent_framework_hosting._sessions import HISTORY, SESSIONS
from agent_framework_hosting.testing import OfflineChatClient

from .conftest import postgres_url, turn


def _location(kind: str, request: Any, tmp_path: Path) -> Any:
    if kind == "memory":
        return None
    if kind == "folder":
        return tmp_path / "state"
    if kind == "redis":
        server = request.getfixturevalue("redis")
        from redis_server import state_url

        return state_url(server)
    return postgres_url(request.getfixturevalue("postgres"))


@pytest.fixture(params=["memory", "folder", "redis", "postgresql"])
def location(request: Any, tmp_path: Path) -> Any:
    return _location(request.param, request, tmp_path)


@pytest.fixture(params=["folder", "redis", "postgresql"])
def durable_location(request: Any, tmp_path: Path) -> Any:
    return _location(request.param, request, tmp_path)


def echo() -> Agent:
    return Agent(client=OfflineChatClient(), name="echo")


async def test_an_idle_conversation_is_forgotten_after_the_session_ttl(location: Any) -> None:
    def host() -> AgentFrameworkHost:
        return AgentFrameworkHost(echo(), channels=[], state_dir=location, session_ttl=1.5)

    first = host()
    await first.context.run(turn("one", "idle"))
    await first.context.run(turn("two", "busy"))
    assert (await first.context.run(turn("again", "idle"))).text == "echo 2: again"
    await asyncio.sleep(0.9)
    assert (await first.context.run(turn("still here", "busy"))).text == "echo 2: still here"  # a turn renews it
    await asyncio.sleep(0.9)
    second = host() if location else first
    assert (await second.context.run(turn("three", "busy"))).text == "echo 3: three"
    await asyncio.sleep(1.7)
    third = host() if location else first
    assert (await third.context.run(turn("back", "idle"))).text == "echo 1: back"
    for each in {first, second, third}:
        await each.state.aclose()


async def test_expired_messages_leave_the_store(durable_location: Any) -> None:
    location = durable_location
    host = AgentFrameworkHost(echo(), channels=[], state_dir=location, session_ttl=0.3)
    result = await host.context.run(turn("one", "k"))
    record = await host.state.get(SESSIONS, result.session.session_id)
    ((log, _, _),) = record["logs"]["in_memory"]
    assert len(await host.state.items(HISTORY, log)) == 2
    await asyncio.sleep(2.0)  # the record's ttl, and the list's grace beyond it (ttl * 1.1 + 1 s)
    assert await host.state.get(SESSIONS, result.session.session_id) is None
    assert await host.state.items(HISTORY, log) == []
    if isinstance(location, Path):
        assert not list((location / "sessions" / HISTORY).glob("*.jsonl"))
    elif location.startswith("redis"):
        assert await host.state.client.exists(host.state.key(HISTORY, log)) == 0
    else:
        assert await host.state.sweep() >= 2  # the record and the list: deleted, not only hidden
        assert (await host.state._run("SELECT count(*) FROM {s}.afh_items WHERE key = %s", (log,)))[0][0] == 0
    await host.state.aclose()


def test_the_command_line_takes_ttls_from_options_or_the_environment() -> None:
    def host_of(*argv: str, environ: dict[str, str] | None = None) -> AgentFrameworkHost:
        environ = environ or {}
        args = build_parser(environ).parse_args(["serve", *argv])
        return plan_serve(args, environ).host

    default = host_of()
    assert default.session_ttl is None and default.response_ttl == 30 * 86400
    chosen = host_of("--session-ttl", "12h", "--response-ttl", "forever")
    assert chosen.session_ttl == 12 * 3600 and chosen.response_ttl is None
    from_env = host_of(environ={"SESSION_TTL": "90m", "RESPONSE_TTL": "7d"})
    assert from_env.session_ttl == 90 * 60 and from_env.response_ttl == 7 * 86400
    with pytest.raises(SystemExit):
        build_parser({}).parse_args(["serve", "--session-ttl", "soon"])


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent_framework_hosting", "sessions", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(params=["folder", "postgresql"])
def durable(request: Any, tmp_path: Path) -> str:
    if request.param == "folder":
        return str(tmp_path / "state")
    return postgres_url(request.getfixturevalue("postgres"))


async def test_sessions_list_show_and_delete_erase_one_users_data(durable: str) -> None:
    host = AgentFrameworkHost(echo(), channels=[], state_dir=durable)
    for text in ("one", "two"):
        await host.context.run(turn(text, "alice"))
    await host.reset_session_async("alice")
    await host.context.run(turn("after reset", "alice"))
    await host.context.run(turn("hi", "bob"))
    await host.state.aclose()

    listed = await asyncio.to_thread(cli, "--state-dir", durable, "list")
    assert listed.returncode == 0, listed.stderr
    lines = sorted(listed.stdout.splitlines())
    assert "alice\t4 messages" in lines and "bob\t2 messages" in lines and len(lines) == 3
    shown = await asyncio.to_thread(cli, "--state-dir", durable, "show", "bob")
    assert shown.returncode == 0 and shown.stdout.startswith("session bob: 2 messages, ")
    assert int(shown.stdout.split(", ")[1].split()[0]) > len(json.dumps(["hi", "echo 1: hi"]))

    deleted = await asyncio.to_thread(cli, "--state-dir", durable, "delete", "alice")
    assert deleted.returncode == 0, deleted.stderr
    assert "deleted 2 session(s)" in deleted.stdout
    assert sorted((await asyncio.to_thread(cli, "--state-dir", durable, "list")).stdout.splitlines()) == [
        "bob\t2 messages"
    ]
    again = await asyncio.to_thread(cli, "--state-dir", durable, "delete", "alice")
    assert again.returncode == 1 and "no stored conversation for 'alice'" in again.stderr
    after = AgentFrameworkHost(echo(), channels=[], state_dir=durable)
    assert (await after.context.run(turn("hello again", "alice"))).text == "echo 1: hello again"
    if not durable.startswith("postgresql"):
        texts = [p.read_text() for p in (Path(durable) / "sessions" / HISTORY).glob("*.jsonl")]
        assert not any('"one"' in text or "after reset" in text for text in texts)
    await after.state.aclose()


def test_sessions_without_a_state_location_is_a_clear_error() -> None:
    done = cli("list")
    assert done.returncode == 1 and "needs --state-dir" in done.stderr and "Traceback" not in done.stderr
