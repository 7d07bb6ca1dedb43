"""Memory mode: sessions stay live while warm and are frozen to compact JSON when idle, without losing anything."""

from __future__ import annotations

from typing import Any

import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost, MemoryStateStore
from agent_framework_hosting._parked import ParkedSession
from agent_framework_hosting.testing import OfflineChatClient

from .conftest import turn


def host_with_warm(size: int, **kwargs: object) -> AgentFrameworkHost:
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[], **kwargs)  # type: ignore[arg-type]
    host.sessions._warm.size = size
    return host


async def test_an_idle_session_is_frozen_and_thaws_with_its_history() -> None:
    host = host_with_warm(2)
    await host.context.run(turn("my name is Ada", "ada"))
    for key in ("b", "c", "d"):
        await host.context.run(turn("hi", key))
    parked = host.state._spaces["sessions"]["ada"][0]  # type: ignore[attr-defined]
    assert isinstance(parked, ParkedSession) and parked._session is None and parked._frozen
    assert len(parked._frozen) < 1000
    result = await host.context.run(turn("who am I?", "ada"))
    assert result.text == "echo 2: who am I?"
    assert [m.text for m in result.session.state["in_memory"]["messages"]] == [
        "my name is Ada",
        "echo 1: my name is Ada",
        "who am I?",
        "echo 2: who am I?",
    ]
    assert parked._session is result.session  # warm again: the live object until it goes idle


async def test_copies_and_deletes_work_on_frozen_sessions() -> None:
    host = host_with_warm(1)
    await host.context.run(turn("one", "source"))
    await host.context.run(turn("x", "other"))
    assert await host.context.copy_session("source", "fork")
    assert (await host.context.run(turn("two", "fork"))).text == "echo 2: two"
    assert (await host.context.run(turn("two", "source"))).text == "echo 2: two"
    stored = await host.sessions.stored("fork")
    assert stored is not None and len(stored.state["in_memory"]["messages"]) == 4
    await host.context.delete_session("fork")
    assert await host.sessions.stored("fork") is None
    assert (await host.context.run(turn("again", "fork"))).text == "echo 1: again"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
async def test_a_session_whose_state_is_not_json_stays_live() -> None:
    host = host_with_warm(1)
    first = await host.context.run(turn("one", "odd"))
    first.session.state["handle"] = object()
    await host.sessions.save(first.session)
    await host.context.run(turn("x", "other"))
    parked = host.state._spaces["sessions"]["odd"][0]  # type: ignore[attr-defined]
    assert parked._session is first.session
    assert (await host.context.run(turn("two", "odd"))).text == "echo 2: two"


async def test_a_session_the_full_store_forgot_is_dropped_not_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    host = host_with_warm(2, max_sessions=3)
    for key in ("first", "b", "c"):
        await host.context.run(turn("hi", key))
    await host.sessions.stored("first")  # read without a turn: recent for the store, not for the warm set
    parked = host.state._spaces["sessions"]["b"][0]  # type: ignore[attr-defined]
    frozen: list[str] = []
    monkeypatch.setattr(ParkedSession, "freeze", lambda self: frozen.append("frozen"))
    await host.context.run(turn("hi", "d"))
    assert "b" not in host.state._spaces["sessions"]  # type: ignore[attr-defined]
    assert frozen == [] and parked._session is not None  # forgotten with the store's LRU, never frozen
    assert (await host.context.run(turn("again", "b"))).text == "echo 1: again"


async def test_with_every_session_warm_the_store_keeps_the_live_session_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default up to 1,000 sessions: the store forgets a session before it could go cold, so none is wrapped."""
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[], max_sessions=2)  # type: ignore[arg-type]
    frozen: list[str] = []
    monkeypatch.setattr(ParkedSession, "freeze", lambda self: frozen.append("frozen"))
    first = await host.context.run(turn("one", "first"))
    assert host.state._spaces["sessions"]["first"][0] is first.session  # type: ignore[attr-defined]
    for key in ("b", "c"):
        await host.context.run(turn("hi", key))
    assert "first" not in host.state._spaces["sessions"] and frozen == []  # type: ignore[attr-defined]
    assert (await host.context.run(turn("two", "b"))).text == "echo 2: two"
    assert (await host.context.run(turn("again", "first"))).text == "echo 1: again"


async def test_a_session_the_store_still_holds_is_frozen_when_it_goes_cold() -> None:
    host = host_with_warm(1, max_sessions=10)
    await host.context.run(turn("one", "kept"))
    await host.context.run(turn("hi", "other"))
    parked = host.state._spaces["sessions"]["kept"][0]  # type: ignore[attr-defined]
    assert parked._session is None and parked._frozen


@pytest.mark.parametrize("warm", [1, 8])
async def test_a_channel_reads_a_conversations_history_as_a_copy(warm: int, tmp_path: Any) -> None:
    for host in (host_with_warm(warm), host_with_warm(warm, state_dir=str(tmp_path))):
        await host.context.run(turn("one", "talk"))
        await host.context.run(turn("x", "other"))  # with one warm session, "talk" is frozen now
        history = await host.context.history("talk")
        assert [(m.role, m.text) for m in history] == [("user", "one"), ("assistant", "echo 1: one")]
        history[0].contents.clear()
        assert [m.text for m in await host.context.history("talk")] == ["one", "echo 1: one"]
        assert await host.context.history("nobody") == []


async def test_sessions_a_pinned_store_never_forgets_are_still_frozen_when_cold() -> None:
    """A store that keeps every session (its namespace pinned) cannot stand in for freezing: cold ones are frozen."""
    store = MemoryStateStore(max_entries=2, pinned={"sessions"})
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[], state_dir=store)  # type: ignore[arg-type]
    host.sessions._warm.size = 2
    for key in ("first", "b", "c", "d"):
        await host.context.run(turn("hi", key))
    parked = store._spaces["sessions"]["first"][0]
    assert isinstance(parked, ParkedSession) and parked._session is None and parked._frozen
    assert (await host.context.run(turn("again", "first"))).text == "echo 2: again"
