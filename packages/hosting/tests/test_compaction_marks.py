"""Compaction marks on stored messages: noticed as they are written, saved by every durable backend."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from agent_framework import Agent, CompactionProvider, InMemoryHistoryProvider, Message, SlidingWindowStrategy
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting._marks import EXCLUDED, WatchedProperties, marks_of
from agent_framework_hosting.testing import OfflineChatClient

from .conftest import postgres_url, turn


@pytest.fixture(params=["folder", "redis", "postgresql"])
def location(request: Any, tmp_path: Path) -> Any:
    if request.param == "folder":
        return tmp_path / "state"
    if request.param == "redis":
        server = request.getfixturevalue("redis")  # (puts redis_server on the path)
        from redis_server import state_url

        return state_url(server)
    return postgres_url(request.getfixturevalue("postgres"))


def echo(*, compacting: bool = False) -> Agent:
    if not compacting:
        return Agent(client=OfflineChatClient(), name="echo")
    compaction = CompactionProvider(after_strategy=SlidingWindowStrategy(keep_last_groups=4))
    return Agent(client=OfflineChatClient(), name="echo", context_providers=[InMemoryHistoryProvider(), compaction])


def stored_marks(session: Any) -> list[bool]:
    return [bool(mark) for mark in marks_of(session.state["in_memory"]["messages"])]


async def close(*hosts: AgentFrameworkHost) -> None:
    """As the host's shutdown does: the stop watcher ends before the store closes."""
    for host in hosts:
        await host.turns.aclose()
        await host.state.aclose()


async def reread(location: Any, key: str) -> Any:
    """The session as a fresh process reads it from the store."""
    other = AgentFrameworkHost(echo(), channels=[], state_dir=location)
    try:
        return await other.sessions.stored(key)
    finally:
        await close(other)


async def test_sliding_window_compaction_in_a_long_conversation_is_saved_every_turn(location: Any) -> None:
    host = AgentFrameworkHost(echo(compacting=True), channels=[], state_dir=location)
    for number in range(1, 13):
        result = await host.context.run(turn(f"message {number}", "k"))
        assert result.text == f"echo {number}: message {number}"
        live = stored_marks(result.session)
        assert stored_marks(await reread(location, "k")) == live
    assert live[:4] == [True] * 4 and live[-4:] == [False] * 4  # compaction began mid-conversation
    restarted = AgentFrameworkHost(echo(compacting=True), channels=[], state_dir=location)
    assert (await restarted.context.run(turn("and now?", "k"))).text == "echo 13: and now?"
    await close(host, restarted)


async def test_a_mark_set_or_cleared_on_an_old_message_is_saved_by_the_next_turn(location: Any) -> None:
    host = AgentFrameworkHost(echo(), channels=[], state_dir=location)
    for number in range(1, 31):
        await host.context.run(turn(f"message {number}", "k"))
    session = await host.sessions.load("k")
    session.state["in_memory"]["messages"][3].additional_properties[EXCLUDED] = True  # as compaction does
    await host.sessions.save(session)
    expected = [index == 3 for index in range(60)]
    assert stored_marks(await reread(location, "k")) == expected
    result = await host.context.run(turn("more", "k"))
    assert stored_marks(await reread(location, "k")) == [*expected, False, False]
    result.session.state["in_memory"]["messages"][3].additional_properties.pop(EXCLUDED)
    await host.sessions.save(result.session)
    assert stored_marks(await reread(location, "k")) == [False] * 62
    await close(host)


async def test_a_turn_without_compaction_appends_without_rewriting(location: Any) -> None:
    host = AgentFrameworkHost(echo(), channels=[], state_dir=location)
    first = await host.context.run(turn("one", "k"))
    record = await host.state.get("sessions", first.session.session_id)
    for number in range(2, 21):
        await host.context.run(turn(f"message {number}", "k"))
    later = await host.state.get("sessions", first.session.session_id)
    ((log, start, _),) = record["logs"]["in_memory"]
    assert later["logs"]["in_memory"] == [[log, start, 40]]
    await close(host)


def test_watched_properties_count_only_changes_of_the_mark() -> None:
    properties = WatchedProperties({"hosting": {"channel": "x"}})
    counted = WatchedProperties.changes
    properties["other"] = 1
    properties.setdefault(EXCLUDED, False)
    properties[EXCLUDED] = False
    assert WatchedProperties.changes == counted
    properties[EXCLUDED] = True
    assert WatchedProperties.changes == counted + 1
    properties.setdefault(EXCLUDED, False)
    properties.update(other=2)
    assert WatchedProperties.changes == counted + 1
    properties.pop(EXCLUDED)
    properties.update({EXCLUDED: True})
    del properties[EXCLUDED]
    properties |= {EXCLUDED: True}
    properties.clear()
    assert WatchedProperties.changes == counted + 6


def test_copies_of_watched_properties_are_plain_dicts() -> None:
    properties = WatchedProperties({EXCLUDED: True, "hosting": {"channel": "x"}})
    for each in (copy.copy(properties), copy.deepcopy(properties), pickle.loads(pickle.dumps(properties))):
        assert type(each) is dict and each == properties
    message = Message(role="user", contents=["hi"])
    message.additional_properties = properties
    assert Message.from_dict(json.loads(json.dumps(message.to_dict()))).additional_properties[EXCLUDED] is True
