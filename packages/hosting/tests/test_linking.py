"""Identity linking: /link codes, one shared conversation or shared memory, /unlink, and the limits."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from agent_framework import Agent, Message
from agent_framework_hosting import (
    AgentFrameworkHost,
    ChannelCommandContext,
    ChannelContribution,
    ChannelRequest,
    ChannelSession,
    IdentityLinking,
)
from agent_framework_hosting.testing import OfflineChatClient


class Chat:
    """A minimal chat channel: its contribution offers the host's /link and /unlink commands."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.path = f"/{name}"

    def contribute(self, context: Any) -> ChannelContribution:
        self.context = context
        commands = [context.link_command(), context.unlink_command()] if context.linking_enabled else []
        return ChannelContribution(commands=commands)

    async def say(self, user: str, text: str) -> str:
        request = ChannelRequest(self.name, "message", text, session=ChannelSession(f"{self.name}:{user}"))
        return (await self.context.run(request)).text

    async def command(self, user: str, text: str) -> str:
        name = text.split()[0].lstrip("/")
        [command] = [c for c in self.context._host.commands[self.name] if c.name == name]
        replies: list[str] = []

        async def reply(answer: str) -> None:
            replies.append(answer)

        request = ChannelRequest(self.name, "command", text, session=ChannelSession(f"{self.name}:{user}"))
        await command.handle(ChannelCommandContext(request=request, reply=reply))
        return " ".join(replies)


class RecordingClient(OfflineChatClient):
    def __init__(self) -> None:
        super().__init__()
        self.instructions: list[str] = []

    def _inner_get_response(self, *, messages: Sequence[Message], stream: bool, options: Any, **kwargs: Any) -> Any:
        self.instructions.append(str((options or {}).get("instructions") or ""))
        return super()._inner_get_response(messages=messages, stream=stream, options=options, **kwargs)


def serve(linking: IdentityLinking | None) -> tuple[AgentFrameworkHost, Chat, Chat, RecordingClient]:
    client = RecordingClient()
    chat_a, chat_b = Chat("tg"), Chat("teams")
    host = AgentFrameworkHost(Agent(client=client, name="echo"), channels=[chat_a, chat_b], linking=linking)
    host.app  # noqa: B018 - builds the app: channels get their contexts and commands
    return host, chat_a, chat_b, client


async def link(chat_a: Chat, chat_b: Chat) -> str:
    issued = await chat_a.command("ada", "/link")
    code = issued.split("Your link code is ")[1].split(".")[0]
    return await chat_b.command("ada", f"/link {code}")


async def test_without_linking_two_channels_never_share_a_conversation() -> None:
    _, chat_a, chat_b, _ = serve(None)
    await chat_a.say("ada", "my name is Ada")
    assert await chat_b.say("ada", "who am I?") == "echo 1: who am I?"


async def test_a_linked_person_has_one_conversation_on_both_channels_until_unlinked() -> None:
    _, chat_a, chat_b, _ = serve(IdentityLinking(share="conversation"))
    await chat_a.say("ada", "my name is Ada")
    assert "Linked" in await link(chat_a, chat_b)
    assert await chat_b.say("ada", "who am I?") == "echo 2: who am I?", "B continues A's conversation"
    assert await chat_a.say("ada", "and now?") == "echo 3: and now?"
    assert await chat_b.command("ada", "/unlink") == "Unlinked."
    assert await chat_b.say("ada", "alone again") == "echo 1: alone again"
    assert await chat_a.say("ada", "me too") == "echo 2: me too", "A is back on its own conversation"


async def test_shared_memory_keeps_conversations_apart_but_shows_the_other_channel() -> None:
    _, chat_a, chat_b, client = serve(IdentityLinking(share="memory"))
    await chat_a.say("ada", "remember the blue door")
    await link(chat_a, chat_b)
    assert await chat_b.say("ada", "which door?") == "echo 1: which door?", "separate conversations"
    assert "[tg] user: remember the blue door" in client.instructions[-1]
    await chat_b.command("ada", "/unlink")
    await chat_b.say("ada", "again")
    assert "blue door" not in client.instructions[-1]


async def test_a_code_is_single_use_and_cannot_link_a_chat_to_itself() -> None:
    _, chat_a, chat_b, _ = serve(IdentityLinking())
    issued = await chat_a.command("ada", "/link")
    code = issued.split("Your link code is ")[1].split(".")[0]
    assert "invalid" in await chat_a.command("ada", f"/link {code}")
    assert "Linked" in await chat_b.command("ada", f"/link {code.lower()}")
    assert "already used" in await chat_b.command("eve", f"/link {code}")


async def test_codes_expire() -> None:
    _, chat_a, chat_b, _ = serve(IdentityLinking(code_ttl=0.2))
    issued = await chat_a.command("ada", "/link")
    code = issued.split("Your link code is ")[1].split(".")[0]
    await asyncio.sleep(0.4)
    assert "expired" in await chat_b.command("ada", f"/link {code}")


async def test_guessing_is_rate_limited_even_for_a_right_code() -> None:
    _, chat_a, chat_b, _ = serve(IdentityLinking(attempts_per_window=3))
    issued = await chat_a.command("ada", "/link")
    code = issued.split("Your link code is ")[1].split(".")[0]
    for guess in ("AAAAAAAA", "BBBBBBBB", "CCCCCCCC"):
        assert "invalid" in await chat_b.command("eve", f"/link {guess}")
    assert "too many attempts" in await chat_b.command("eve", f"/link {code}")
    assert "Linked" in await chat_b.command("ada", f"/link {code}"), "the code itself was not spent"


async def test_asking_for_codes_is_rate_limited() -> None:
    _, chat_a, _, _ = serve(IdentityLinking(codes_per_hour=2))
    assert "link code" in await chat_a.command("ada", "/link")
    assert "link code" in await chat_a.command("ada", "/link")
    assert "too many link codes" in await chat_a.command("ada", "/link")


def test_linking_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="share"):
        IdentityLinking(share="everything")  # type: ignore[arg-type]
