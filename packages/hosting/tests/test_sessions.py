"""Sessions per isolation key: continuity, isolation, reset, persistence and one turn at a time."""

from __future__ import annotations

import asyncio
import json
import math
import re
from pathlib import Path
from urllib.parse import unquote

import agent_framework._sessions as agent_sessions
import pytest
from agent_framework import Agent, Message
from agent_framework_hosting import (
    AgentFrameworkHost,
    ChannelIdentity,
    ChannelRequest,
    ChannelSession,
    SessionBusyError,
)
from agent_framework_hosting._history import INTERRUPTED_TEXT, append_messages, mark_interrupted
from agent_framework_hosting.testing import OfflineChatClient

from .conftest import turn


def history(session: object) -> list[str]:
    return [m.text for m in session.state["in_memory"]["messages"]]  # type: ignore[attr-defined]


async def test_requests_with_the_same_key_share_one_conversation(make_host) -> None:
    host = make_host()
    assert (await host.context.run(turn("hi", "alice"))).text == "echo 1: hi"
    assert (await host.context.run(turn("again", "alice"))).text == "echo 2: again"
    assert (await host.context.run(turn("hello", "bob"))).text == "echo 1: hello"


async def test_without_a_key_every_turn_starts_over(make_host) -> None:
    host = make_host()
    assert (await host.context.run(turn("one"))).text == "echo 1: one"
    result = await host.context.run(turn("two"))
    assert result.text == "echo 1: two" and result.session is None


async def test_disabled_session_mode_ignores_the_key(make_host) -> None:
    host = make_host()
    await host.context.run(turn("one", "k"))
    assert (await host.context.run(turn("two", "k", session_mode="disabled"))).text == "echo 1: two"
    assert (await host.context.run(turn("three", "k"))).text == "echo 2: three"


async def test_reset_starts_fresh_and_keeps_the_old_history(make_host) -> None:
    host = make_host()
    first = await host.context.run(turn("one", "k"))
    old_id = first.session.session_id
    new_id = await host.reset_session_async("k")
    assert re.fullmatch(r"k#[0-9a-f]{8}", new_id)
    after = await host.context.run(turn("two", "k"))
    assert after.text == "echo 1: two" and after.session.session_id == new_id
    assert history(await host.sessions.stored(old_id)) == ["one", "echo 1: one"]


async def test_history_survives_a_restart_with_state_dir(agent: Agent, tmp_path: Path) -> None:
    first = AgentFrameworkHost(agent, channels=[], state_dir=tmp_path)
    await first.context.run(turn("my name is Ada", "k"))
    await first.state.aclose()
    second = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[], state_dir=tmp_path)
    result = await second.context.run(turn("who am I?", "k"))
    assert result.text == "echo 2: who am I?"
    assert history(result.session) == ["my name is Ada", "echo 1: my name is Ada", "who am I?", "echo 2: who am I?"]
    assert (tmp_path / "sessions").is_dir()


async def test_reset_survives_a_restart(agent: Agent, tmp_path: Path) -> None:
    first = AgentFrameworkHost(agent, channels=[], state_dir=tmp_path)
    await first.context.run(turn("one", "k"))
    await first.reset_session_async("k")
    second = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[], state_dir=tmp_path)
    assert (await second.context.run(turn("two", "k"))).text == "echo 1: two"


async def test_session_files_are_plain_json_written_atomically(agent: Agent, tmp_path: Path) -> None:
    host = AgentFrameworkHost(agent, channels=[], state_dir=tmp_path)
    await host.context.run(turn("one", "user:1/../x"))
    files = list((tmp_path / "sessions" / "sessions").iterdir())
    assert len(files) == 1 and not files[0].name.startswith(".")
    record = json.loads(files[0].read_text())
    assert unquote(files[0].name) == "user:1/../x.json" and "key" not in record  # the name gives the key back
    assert record["value"]["session"]["session_id"] == "user:1/../x"
    (log,) = (tmp_path / "sessions" / "history").glob("*.jsonl")
    header, *lines = [line for line in log.read_text().splitlines()]
    assert header.startswith("#")  # when the list expires (0: never)
    lines = [json.loads(line) for line in lines]
    assert [line["contents"][0]["text"] for line in lines] == ["one", "echo 1: one"]
    assert not list(tmp_path.rglob("*.tmp"))


async def test_a_turn_appends_only_its_new_messages(agent: Agent, tmp_path: Path) -> None:
    host = AgentFrameworkHost(agent, channels=[], state_dir=tmp_path)
    for text in ("one", "two", "three"):
        await host.context.run(turn(text, "k"))
    (log,) = (tmp_path / "sessions" / "history").glob("*.jsonl")
    session_file = next((tmp_path / "sessions" / "sessions").iterdir())
    assert len(log.read_text().splitlines()) == 1 + 6
    assert b"three" not in session_file.read_bytes()
    restarted = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[], state_dir=tmp_path)
    assert (await restarted.context.run(turn("four", "k"))).text == "echo 4: four"
    assert history(await restarted.sessions.stored("k")) == [
        "one",
        "echo 1: one",
        "two",
        "echo 2: two",
        "three",
        "echo 3: three",
        "four",
        "echo 4: four",
    ]


@pytest.mark.parametrize("stored", [False, True], ids=["memory", "folder"])
async def test_the_agent_tells_a_history_s_messages_apart_by_id_at_any_length(
    agent: Agent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stored: bool
) -> None:
    serialized: list[Message] = []  # messages the agent's history provider had to serialize to compare
    identity = agent_sessions.get_message_identity

    def counted(message: Message) -> agent_sessions.MessageIdentity:
        found = identity(message)
        if found[0] == "content":
            serialized.append(message)
        return found

    monkeypatch.setattr(agent_sessions, "get_message_identity", counted)
    host = AgentFrameworkHost(agent, channels=[], state_dir=tmp_path if stored else None)
    own = Message(role="user", contents=["mine"], message_id="client-1")
    per_turn = []
    for n in range(12):
        await host.context.run(turn(f"message {n}", "k"))
        stream = await host.context.run_stream(turn(f"streamed {n}", "k"))
        async for _ in stream:
            pass
        await stream.get_final_response()
        per_turn.append(len(serialized))
        serialized.clear()
    await host.context.run(turn([own], "k"))
    # Only each turn's own answer, which the agent compares before the host names it: never the history.
    assert per_turn[0] <= 2 and per_turn[1:] == [2] * 11 and len(serialized) == 1
    messages = (await host.sessions.stored("k")).state["in_memory"]["messages"]  # type: ignore[union-attr]
    assert len(messages) == 50 and len({m.message_id for m in messages}) == 50
    assert messages[-2].message_id == "client-1" and own.message_id == "client-1"

    stateless = await host.context.run(turn("no session"))  # ids serve a history only
    assert [m.message_id for m in stateless.result.messages] == [None]


def test_messages_the_host_adds_to_a_history_itself_get_ids_too(agent: Agent) -> None:
    session = agent.create_session()
    assert append_messages(agent, session, [Message(role="assistant", contents=["a delivered reminder"])])
    mark_interrupted(agent, session, [Message(role="user", contents=["hi"], message_id="in-1")], start=1)
    messages = session.state["in_memory"]["messages"]
    assert [m.text for m in messages] == ["a delivered reminder", "hi", INTERRUPTED_TEXT]
    assert messages[1].message_id == "in-1" and len({m.message_id for m in messages if m.message_id}) == 3


async def test_a_rewritten_history_is_stored_afresh(agent: Agent, tmp_path: Path) -> None:
    host = AgentFrameworkHost(agent, channels=[], state_dir=tmp_path)
    await host.context.run(turn("one", "k"))
    session = await host.sessions.load("k")
    session.state["in_memory"]["messages"] = session.state["in_memory"]["messages"][1:]
    await host.sessions.save(session)
    assert history(await host.sessions.stored("k")) == ["echo 1: one"]


async def test_compaction_marks_on_stored_messages_are_kept(agent: Agent, tmp_path: Path) -> None:
    host = AgentFrameworkHost(agent, channels=[], state_dir=tmp_path)
    await host.context.run(turn("one", "k"))
    await host.context.run(turn("two", "k"))
    session = await host.sessions.load("k")
    session.state["in_memory"]["messages"][0].additional_properties["_excluded"] = True  # as CompactionProvider does
    await host.sessions.save(session)
    restarted = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[], state_dir=tmp_path)
    stored = await restarted.sessions.stored("k")
    assert [m.additional_properties.get("_excluded", False) for m in stored.state["in_memory"]["messages"]] == [
        True,
        False,
        False,
        False,
    ]


async def test_a_turn_sees_what_another_process_appended(agent: Agent, tmp_path: Path) -> None:
    first = AgentFrameworkHost(agent, channels=[], state_dir=tmp_path)
    second = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[], state_dir=tmp_path)
    await first.context.run(turn("one", "k"))
    await second.context.run(turn("two", "k"))
    assert (await first.context.run(turn("three", "k"))).text == "echo 3: three"
    assert history(await second.sessions.stored("k"))[-2:] == ["three", "echo 3: three"]


async def test_memory_mode_keeps_a_bounded_number_of_sessions(agent: Agent) -> None:
    host = AgentFrameworkHost(agent, channels=[], max_sessions=3)
    for index in range(10):
        await host.context.run(turn("x", f"user-{index}"))
    assert len(host.state._spaces["sessions"]) == 3  # type: ignore[attr-defined]
    assert (await host.context.run(turn("y", "user-9"))).text == "echo 2: y"
    assert (await host.context.run(turn("y", "user-0"))).text == "echo 1: y"


async def test_concurrent_turns_on_one_key_run_one_after_another(make_host) -> None:
    host = make_host()
    results = await asyncio.gather(*(host.context.run(turn(f"m{i}", "same")) for i in range(20)))
    numbers = sorted(int(r.text.split(":")[0].removeprefix("echo ")) for r in results)
    assert numbers == list(range(1, 21))
    final = await host.sessions.stored("same")
    assert len(history(final)) == 40


async def test_concurrent_streamed_turns_on_one_key_are_serialized(agent: Agent) -> None:
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(chunk_delay=0.001), name="echo"), channels=[])

    async def streamed(i: int) -> str:
        stream = await host.context.run_stream(turn(f"m{i}", "same"))
        return "".join([u.text async for u in stream])

    texts = await asyncio.gather(*(streamed(i) for i in range(10)))
    assert sorted(int(t.split(":")[0].removeprefix("echo ")) for t in texts) == list(range(1, 11))


async def test_different_keys_run_in_parallel() -> None:
    client = OfflineChatClient(chunk_delay=0.2)
    host = AgentFrameworkHost(Agent(client=client, name="echo"), channels=[])

    async def streamed(key: str) -> None:
        stream = await host.context.run_stream(turn("a b", key))
        async for _ in stream:
            pass

    started = asyncio.get_running_loop().time()
    await asyncio.gather(*(streamed(f"k{i}") for i in range(5)))
    elapsed = asyncio.get_running_loop().time() - started
    assert elapsed < 5 * 0.4, f"five independent turns took {elapsed:.2f}s: they did not overlap"


async def test_a_turn_waits_at_most_turn_wait_for_the_previous_one() -> None:
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(chunk_delay=0.5), name="echo"), channels=[], turn_wait=0.1)
    stream = await host.context.run_stream(turn("a b c", "k"))
    with pytest.raises(SessionBusyError) as raised:
        await host.context.run(turn("next", "k"))
    assert raised.value.status_code == 409
    await stream.aclose()
    assert (await host.context.run(turn("next", "k"))).text.startswith("echo 2")


async def test_sender_identity_is_recorded_on_the_persisted_message(make_host) -> None:
    host = make_host()
    original = Message(role="user", contents=["hi"], additional_properties={"mine": 1})
    identity = ChannelIdentity("telegram", "42", {"username": "ada"})
    result = await host.context.run(turn([original], "k", identity=identity))  # type: ignore[arg-type]
    stored = result.session.state["in_memory"]["messages"][0]
    assert stored.additional_properties["hosting"] == {"channel": "test", "identity": identity.to_dict()}
    assert stored.additional_properties["mine"] == 1
    assert "hosting" not in original.additional_properties, "the caller's message must not be mutated"


async def test_options_are_forwarded_to_the_agent(client: OfflineChatClient, agent: Agent, make_host) -> None:
    seen: list[object] = []
    client.reply = lambda messages: "ok"
    original = client._inner_get_response

    def spy(*, messages, stream, options, **kwargs):
        seen.append(options.get("temperature"))
        return original(messages=messages, stream=stream, options=options, **kwargs)

    client._inner_get_response = spy  # type: ignore[method-assign]
    await make_host().context.run(turn("x", options={"temperature": 0.25}))
    assert seen == [0.25]


async def test_a_session_reference_stands_for_the_stored_session_without_its_record(
    agent: Agent, tmp_path: Path
) -> None:
    host = AgentFrameworkHost(agent, channels=[], state_dir=tmp_path)
    context = host.context
    result = await context.run(turn("one", "user-a"))
    result = await context.run(turn("two", "user-a"))
    pointer = await context.session_reference(result.session)
    assert pointer is not None and "user-a" not in json.dumps(pointer)  # positions in lists, not the session's id
    restarted = AgentFrameworkHost(agent, channels=[], state_dir=tmp_path)  # reads the store, holds nothing live
    assert await restarted.context.session_reference(result.session) == pointer
    await context.detach_session(result.session)
    assert await context.history("user-a") == []  # no session record any more
    history_then = await restarted.context.referenced_history(pointer)
    assert [message.text for message in history_then or []] == ["one", "echo 1: one", "two", "echo 2: two"]
    for key, host_here in (("b", host), ("c", restarted)):  # from this process's live copy, and from the store
        assert await host_here.context.attach_session(pointer, key, origin="user-a")
        assert (await host_here.context.run(turn(f"on {key}", key))).text == f"echo 3: on {key}"
    assert [message.text for message in await context.referenced_history(pointer) or []][-1] == "echo 2: two"
    await context.delete_session("b", purge=True)  # erases the lists b shares with the reference
    assert await context.referenced_history(pointer) is None
    # Attaching what is gone fails and stores nothing, even where this process still holds the messages live.
    for host_here in (host, restarted):
        assert not await host_here.context.attach_session(pointer, "d", origin="user-a")
        assert await host_here.state.get("sessions", "d") is None


async def test_a_session_with_an_infinite_ttl_outlives_the_host_s_session_ttl(agent: Agent, tmp_path: Path) -> None:
    host = AgentFrameworkHost(agent, channels=[], state_dir=tmp_path, session_ttl=0.4)
    forever = ChannelRequest(
        channel="test", operation="message", input="kept", session=ChannelSession("kept", ttl=math.inf)
    )
    await host.context.run(forever)
    await host.context.run(turn("dropped", "dropped"))
    assert await host.context.copy_session("kept", "copy", ttl=math.inf)
    await asyncio.sleep(2.0)  # past the session ttl, and past its lists' (1.1 x ttl + 1)
    restarted = AgentFrameworkHost(agent, channels=[], state_dir=tmp_path, session_ttl=0.4)
    assert [message.text for message in await restarted.context.history("kept")] == ["kept", "echo 1: kept"]
    assert [message.text for message in await restarted.context.history("copy")] == ["kept", "echo 1: kept"]
    assert await restarted.context.history("dropped") == []


async def test_memory_state_gives_no_session_reference(agent: Agent) -> None:
    host = AgentFrameworkHost(agent, channels=[])
    result = await host.context.run(turn("one", "user-a"))
    assert await host.context.session_reference(result.session) is None
