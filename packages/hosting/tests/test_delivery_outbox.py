"""Durable proactive delivery: a send the platform fails goes to the outbox, is retried (never before its
Retry-After), is idempotent per destination, and becomes a dead letter when the platform never takes it.

The platform is a real HTTP server on 127.0.0.1 that fails as scripted, then recovers.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from agent_framework import Agent, Message
from agent_framework_hosting import (
    AgentFrameworkHost,
    ChannelContribution,
    ChannelRequest,
    ChannelSession,
    ConversationReference,
    DeliveryError,
    DeliveryFailed,
    DeliveryOptions,
)
from agent_framework_hosting.outbound import header_retry_after
from agent_framework_hosting.testing import OfflineChatClient, running_server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


class FakePlatform:
    """`POST /send`: answers the scripted statuses first (429s carry Retry-After), then 200 and keeps the message."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str]]] = []
        self.calls = 0
        self.accepted: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/send", self._send, methods=["POST"])])

    async def _send(self, request: Request) -> Response:
        body = await request.json()
        with self._lock:
            self.calls += 1
            if self.script:
                status, headers = self.script.pop(0)
                return JSONResponse({"ok": False}, status_code=status, headers=headers)
            self.accepted.append((body["to"], body["text"]))
        return JSONResponse({"ok": True})


class Relay:
    """A delivery channel that sends through the fake platform, one attempt per call (the outbox retries)."""

    name = "relay"
    path = "/relay"

    def __init__(self, url: str) -> None:
        self.url = url

    def contribute(self, context: Any) -> ChannelContribution:
        self.context = context
        return ChannelContribution()

    def conversation_reference(self, request: ChannelRequest) -> dict[str, Any] | None:
        return {"to": request.attributes["to"]}

    async def deliver(self, reference: ConversationReference, message: Message) -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.post(
                f"{self.url}/send", json={"to": reference.destination["to"], "text": message.text}
            )
        if response.status_code == 429:
            raise DeliveryFailed("the platform is rate limiting", retry_after=header_retry_after(response))
        if 400 <= response.status_code < 500:
            raise DeliveryFailed(f"the platform refused ({response.status_code})", permanent=True)
        if response.status_code >= 500:
            raise DeliveryFailed(f"the platform failed ({response.status_code})")


@pytest.fixture
def platform() -> Iterator[tuple[FakePlatform, str]]:
    fake = FakePlatform()
    with running_server(fake.app) as url:
        yield fake, url


def make_host(url: str, **options: Any) -> tuple[AgentFrameworkHost, Relay]:
    relay = Relay(url)
    delivery = DeliveryOptions(outbox_backoff=0.05, outbox_max_delay=0.05, **options)
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[relay], delivery=delivery)
    host.app  # noqa: B018 - builds the app, binding the channel's context
    return host, relay


async def say(relay: Relay, who: str, text: str) -> str:
    request = ChannelRequest("relay", "message", text, session=ChannelSession(f"relay:{who}"), attributes={"to": who})
    return (await relay.context.run(request)).text


def history(host: AgentFrameworkHost) -> list[str]:
    return [m.text for m in host.target.client.calls[-1]]  # type: ignore[attr-defined]


async def test_a_rate_limited_send_is_kept_retried_after_retry_after_and_recorded_once(
    platform: tuple[FakePlatform, str],
) -> None:
    fake, url = platform
    host, relay = make_host(url)
    await say(relay, "ada", "hi")
    fake.script = [(429, {"retry-after": "1"})]

    result = await host.deliver("relay:ada", "Your parcel arrived.", idempotency_key="parcel-1")
    assert (result.delivered, result.queued) == (False, True) and "rate limiting" in (result.error or "")
    assert await host.outbox.flush() == 0 and fake.calls == 1, "not before the platform's Retry-After"
    repeat = await host.deliver("relay:ada", "Your parcel arrived.", idempotency_key="parcel-1")
    assert repeat.duplicate and fake.calls == 1, "the outbox holds it; a repeat does not send it again"

    await asyncio.sleep(1.1)
    assert await host.outbox.flush() == 1
    assert fake.accepted == [("ada", "Your parcel arrived.")] and fake.calls == 2
    assert await host.outbox.flush() == 0 and fake.calls == 2

    await say(relay, "ada", "thanks")
    assert history(host)[-2:] == ["Your parcel arrived.", "thanks"], "recorded in history once, when it went out"


async def test_a_platform_that_never_recovers_leaves_a_dead_letter_that_an_operator_can_retry(
    platform: tuple[FakePlatform, str],
) -> None:
    fake, url = platform
    host, relay = make_host(url, outbox_attempts=3)
    await say(relay, "bob", "hi")
    fake.script = [(503, {})] * 3

    result = await host.deliver("relay:bob", "Maintenance at 22:00.")
    assert result.queued
    for _ in range(3):
        await asyncio.sleep(0.1)
        await host.outbox.flush()
    assert fake.calls == 3 and fake.accepted == []
    letters = await host.dead_letters.list()
    assert [(letter["channel"], letter["destination"]["key"], letter["attempts"]) for letter in letters] == [
        ("deliver", "relay:bob", 3)
    ]
    assert await host.outbox.flush() == 0 and fake.calls == 3, "a dead letter is not retried on its own"

    assert await host.dead_letters.retry(letters[0]["id"])
    assert await host.outbox.flush() == 1
    assert fake.accepted == [("bob", "Maintenance at 22:00.")] and await host.dead_letters.list() == []


async def test_a_permanent_refusal_raises_and_is_a_dead_letter_at_once(platform: tuple[FakePlatform, str]) -> None:
    fake, url = platform
    host, relay = make_host(url)
    await say(relay, "cy", "hi")
    fake.script = [(403, {})]
    with pytest.raises(DeliveryError, match="refused"):
        await host.deliver("relay:cy", "hello?")
    assert [letter["destination"]["key"] for letter in await host.dead_letters.list()] == ["relay:cy"]
    assert await host.outbox.flush() == 0 and fake.calls == 1


async def test_in_a_multicast_each_destination_is_kept_on_its_own_and_sent_once(
    platform: tuple[FakePlatform, str],
) -> None:
    fake, url = platform
    host, relay = make_host(url)
    for who in ("ada", "bob"):
        await say(relay, who, "hi")
    fake.script = [(503, {})]  # whichever destination the platform sees first fails once
    results = await host.deliver(["relay:ada", "relay:bob"], "Sale!", idempotency_key="sale-1")
    assert sorted((r.delivered, r.queued) for r in results) == [(False, True), (True, False)]
    again = await host.deliver(["relay:ada", "relay:bob"], "Sale!", idempotency_key="sale-1")
    assert [r.duplicate for r in again] == [True, True]
    await asyncio.sleep(0.1)
    assert await host.outbox.flush() == 1
    assert sorted(fake.accepted) == [("ada", "Sale!"), ("bob", "Sale!")] and fake.calls == 3
