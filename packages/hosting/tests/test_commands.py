"""Commands and host services a channel reaches through its context."""

from __future__ import annotations

import asyncio

from agent_framework_hosting import ChannelCommandContext

from .conftest import turn


async def test_the_built_in_reset_command_resets_the_invoking_users_session(make_host) -> None:
    host = make_host()
    await host.context.run(turn("one", "alice"))
    await host.context.run(turn("one", "bob"))
    replies: list[str] = []

    async def reply(text: str) -> None:
        replies.append(text)

    command = host.context.reset_command()
    assert (command.name, command.description) == ("reset", "Start a new conversation")
    await command.handle(ChannelCommandContext(request=turn("/reset", "alice"), reply=reply))
    assert replies == ["Started a new conversation."]
    assert (await host.context.run(turn("two", "alice"))).text == "echo 1: two"
    assert (await host.context.run(turn("two", "bob"))).text == "echo 2: two"


async def test_reset_without_a_session_says_so(make_host) -> None:
    replies: list[str] = []

    async def reply(text: str) -> None:
        replies.append(text)

    await make_host().context.reset_command().handle(ChannelCommandContext(request=turn("/reset"), reply=reply))
    assert replies == ["There is no conversation to reset here."]


async def test_channel_commands_are_collected_per_channel(make_host) -> None:
    from agent_framework_hosting import ChannelContribution
    from starlette.testclient import TestClient

    class WithCommands:
        name = "cmd"
        path = "/cmd"

        def contribute(self, context):
            return ChannelContribution(commands=[context.reset_command()])

    host = make_host(channels=[WithCommands()])
    with TestClient(host.app):
        assert [c.name for c in host.commands["cmd"]] == ["reset"]


async def test_once_lets_a_delivery_id_through_one_time(make_host) -> None:
    context = make_host().context
    outcomes = []
    for _ in range(3):
        async with context.once("telegram", "1001") as first:
            outcomes.append(first)
    assert outcomes == [True, False, False]
    async with context.once("telegram", "1002") as first:
        assert first
    async with context.once("discord", "1001") as first:
        assert first, "namespaces are separate"


async def test_once_releases_the_claim_when_the_work_fails(make_host) -> None:
    context = make_host().context
    try:
        async with context.once("activity", "a1") as first:
            assert first
            raise RuntimeError("delivery failed")
    except RuntimeError:
        pass
    async with context.once("activity", "a1") as first:
        assert first, "a retry after a failure must run"


async def test_spawned_work_is_awaited_at_shutdown(make_host) -> None:
    host = make_host()
    done: list[str] = []

    async def slow() -> None:
        await asyncio.sleep(0.05)
        done.append("slow")

    host.context.spawn(slow())
    assert len(host.tasks) == 1
    await host.tasks.drain(timeout=5)
    assert done == ["slow"] and len(host.tasks) == 0


async def test_spawned_work_that_outlives_the_shutdown_timeout_is_cancelled(make_host) -> None:
    host = make_host()
    cancelled = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    host.context.spawn(forever())
    await asyncio.sleep(0)
    await host.tasks.drain(timeout=0.05)
    assert cancelled.is_set()


async def test_copy_session_forks_a_conversation(make_host) -> None:
    host = make_host()
    await host.context.run(turn("one", "origin"))
    assert await host.context.copy_session("origin", "fork") is True
    assert (await host.context.run(turn("two", "fork"))).text == "echo 2: two"
    assert (await host.context.run(turn("two", "origin"))).text == "echo 2: two", "the fork must not change the origin"
    assert await host.context.copy_session("nobody", "other") is False


async def test_delete_session_forgets_the_conversation(make_host) -> None:
    host = make_host()
    await host.context.run(turn("one", "k"))
    await host.context.delete_session("k")
    assert (await host.context.run(turn("two", "k"))).text == "echo 1: two"
    assert host.context.supports_sessions
