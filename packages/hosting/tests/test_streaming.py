"""Streamed turns: updates pass through, hooks apply, and a stream always releases its session."""

from __future__ import annotations

import asyncio
import gc
import weakref

import httpx
import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import JsonChannel, OfflineChatClient, running_server

from .conftest import turn
from .test_sessions import history


async def test_a_stream_yields_the_answer_and_saves_the_turn(make_host) -> None:
    host = make_host()
    stream = await host.context.run_stream(turn("one two", "k"))
    texts = [u.text async for u in stream]
    assert "".join(texts) == "echo 1: one two"
    final = await stream.get_final_response()
    assert final.text == "echo 1: one two"
    assert history(stream.session) == ["one two", "echo 1: one two"]
    assert (await host.context.run(turn("next", "k"))).text == "echo 2: next"


async def test_a_finished_stream_is_freed_without_the_cycle_collector(make_host) -> None:
    """Its turn's callbacks are dropped once it is done: nothing refers back to it in a cycle."""
    host = make_host()
    for key in ("k", None):
        stream = await host.context.run_stream(turn("one two", key))
        gc.disable()
        try:
            assert "".join([u.text async for u in stream]) == "echo 1: one two"
            freed = weakref.ref(stream)
            del stream
            assert freed() is None
        finally:
            gc.enable()


async def test_get_final_response_without_iterating_drains_the_run(make_host) -> None:
    host = make_host()
    stream = await host.context.run_stream(turn("a b c", "k"))
    assert (await stream.get_final_response()).text == "echo 1: a b c"
    assert (await stream).text == "echo 1: a b c"


async def test_closing_a_stream_early_keeps_the_partial_answer_and_releases_the_session() -> None:
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(chunk_delay=0.01), name="echo"), channels=[], turn_wait=2)
    stream = await host.context.run_stream(turn("one two three four five six", "k"))
    received = []
    async for update in stream:
        received.append(update.text)
        if len(received) == 2:
            break
    await stream.aclose()
    stored = history(await host.sessions.stored("k"))
    assert stored[0] == "one two three four five six"
    assert stored[1].startswith("echo 1:") and len(stored[1]) < len("echo 1: one two three four five six")
    assert (await host.context.run(turn("next", "k"))).text == "echo 2: next"


async def test_a_failing_stream_raises_and_releases_the_session(make_host) -> None:
    host = make_host(turn_wait=2)
    stream = await host.context.run_stream(turn("please [fail] now", "k"))
    with pytest.raises(RuntimeError, match="offline model failure"):
        async for _ in stream:
            pass
    assert (await host.context.run(turn("after", "k"))).text.startswith("echo")


def test_a_client_that_disconnects_mid_stream_cancels_the_run_and_frees_the_session() -> None:
    client = OfflineChatClient(chunk_delay=0.1)
    host = AgentFrameworkHost(Agent(client=client, name="echo"), channels=[JsonChannel()], turn_wait=5)
    words = " ".join(f"w{i}" for i in range(40))
    with running_server(host.app) as url, httpx.Client(base_url=url, timeout=10) as http:
        with http.stream("POST", "/json", json={"text": words, "key": "k", "stream": True}) as response:
            chunks = response.iter_raw()
            first = next(chunks)
            assert first.startswith(b"echo")
        answer = http.post("/json", json={"text": "next", "key": "k"}).json()["text"]
    assert answer == "echo 2: next", "the abandoned turn (user message + partial answer) must be in history"
    abandoned_turn = client.calls[1]
    assert [m.text for m in abandoned_turn][0] == words
    partial = abandoned_turn[1].text
    assert partial.startswith("echo 1:") and len(partial) < len(f"echo 1: {words}"), "the run must stop early"


async def test_stream_update_hook_can_rewrite_and_drop_updates(make_host) -> None:
    host = make_host()

    def shout(update):
        return None if update.text.startswith("echo") else update

    async def upper(update):
        update.contents[0].text = update.text.upper() if update.text else update.contents[0].text
        return update

    dropped = await host.context.bind("test", stream_update_hook=shout).run_stream(turn("a b", "k1"))
    assert "".join([u.text async for u in dropped]) == "1: a b"
    rewritten = await host.context.bind("test", stream_update_hook=upper).run_stream(turn("a b", "k2"))
    assert "".join([u.text async for u in rewritten]) == "ECHO 1: A B"


async def test_response_hook_sees_the_session_when_streaming(make_host) -> None:
    host = make_host()
    seen = {}

    def hook(result, *, request, channel_name):
        seen.update(session=result.session, channel=channel_name, text=result.result.text)
        return result.replace(result="redacted")

    stream = await host.context.bind("mine", response_hook=hook).run_stream(turn("x", "k"))
    async for _ in stream:
        pass
    assert await stream.get_final_response() == "redacted"
    assert seen["session"] is not None and seen["channel"] == "mine" and seen["text"] == "echo 1: x"


async def test_updates_pass_through_as_they_are_produced() -> None:
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(chunk_delay=0.3), name="echo"), channels=[])
    stream = await host.context.run_stream(turn("a b c d e f", "k"))
    loop = asyncio.get_running_loop()
    started = loop.time()
    first = await stream.__aiter__().__anext__()
    assert first.text == "echo "
    assert loop.time() - started < 1.0, "the first update must not wait for the whole answer"
    await stream.aclose()


async def test_a_fast_target_runs_ahead_so_its_ready_updates_are_pending() -> None:
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[])
    stream = await host.context.run_stream(turn("a b c d", "k"))
    updates = stream.__aiter__()
    first = await updates.__anext__()
    assert first.text == "echo " and not stream.pending, "the first update is handed over before the target goes on"
    second = await updates.__anext__()
    assert stream.pending, "an agent that answers at once has its next updates ready"
    texts = [first.text, second.text, *[update.text async for update in updates]]
    assert "".join(texts) == "echo 1: a b c d" and not stream.pending


async def test_a_slow_targets_next_update_is_not_pending_until_it_is_produced() -> None:
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(chunk_delay=0.3), name="echo"), channels=[])
    stream = await host.context.run_stream(turn("a b", "k"))
    updates = stream.__aiter__()
    await updates.__anext__()
    assert not stream.pending, "the next update is still being produced"
    await stream.aclose()


async def test_a_consumer_that_stops_reading_holds_the_run_back_after_run_ahead_updates() -> None:
    from agent_framework_hosting._stream import RUN_AHEAD

    client = OfflineChatClient()
    host = AgentFrameworkHost(Agent(client=client, name="echo"), channels=[])
    words = " ".join(f"w{n}" for n in range(RUN_AHEAD * 3))
    stream = await host.context.run_stream(turn(words, "k"))
    updates = stream.__aiter__()
    await updates.__anext__()
    await asyncio.sleep(0.2)
    await stream.aclose()
    stored = history(await host.sessions.stored("k"))
    assert stored[0] == words
    assert len(stored[1].split()) <= RUN_AHEAD + 3, "the agent waited for the consumer instead of finishing"
