"""Shared test kit: a real Ed25519 key, requests signed as Discord signs them, and a fake Discord REST API."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient, running_server
from agent_framework_hosting_discord import DiscordChannel
from nacl.signing import SigningKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

APP_ID = "100000000000000001"
PATH = "/discord/interactions"
_ids = itertools.count(900000000000000000)


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    json: Any
    at: float


@dataclass
class Scripted:
    method: str
    contains: str
    responses: list[tuple[int, Any]]


@dataclass
class FakeDiscord:
    """Discord's REST API as a real HTTP server: records every call; answers can be scripted (e.g. 429)."""

    calls: list[Call] = field(default_factory=list)
    scripts: list[Scripted] = field(default_factory=list)
    delays: dict[str, float] = field(default_factory=dict)
    holds: dict[str, threading.Event] = field(default_factory=dict)
    #: Calls that made or changed a message (scripted failures and nonce repeats excluded).
    accepted: list[Call] = field(default_factory=list)
    nonces: dict[str, Any] = field(default_factory=dict)
    url: str = ""
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def script(self, method: str, contains: str, *responses: tuple[int, Any]) -> None:
        """The next calls of `method` whose path contains `contains` get these (status, json) answers."""
        self.scripts.append(Scripted(method, contains, list(responses)))

    def delay(self, method: str, seconds: float) -> None:
        self.delays[method] = seconds

    def hold(self, method: str) -> threading.Event:
        """Calls of `method` get no answer until the returned event is set (at most 30 s)."""
        self.holds[method] = threading.Event()
        return self.holds[method]

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        call = Call(
            request.method,
            request.url.path,
            {k.lower(): v for k, v in request.headers.items()},
            json.loads(raw) if raw else None,
            time.monotonic(),
        )
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()
        if call.method in self.delays:
            await asyncio.sleep(self.delays[call.method])
        if call.method in self.holds:
            await asyncio.to_thread(self.holds[call.method].wait, 30)
        for scripted in self.scripts:
            if scripted.method == call.method and scripted.contains in call.path and scripted.responses:
                status, body = scripted.responses.pop(0)
                return JSONResponse(body, status_code=status)
        if call.method == "PUT":
            return JSONResponse([{**c, "id": str(i)} for i, c in enumerate(call.json)])
        nonce = (call.json or {}).get("nonce") if (call.json or {}).get("enforce_nonce") else None
        with self._changed:
            if nonce is not None and nonce in self.nonces:
                return JSONResponse(self.nonces[nonce])  # Discord returns the message the nonce already made
            created = {"id": str(next(_ids)), "content": (call.json or {}).get("content")}
            if nonce is not None:
                self.nonces[nonce] = created
            self.accepted.append(call)
        return JSONResponse(created)

    def app(self) -> Starlette:
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        return Starlette(routes=[Route("/{path:path}", self.handle, methods=methods)])

    def wait_for(self, predicate: Callable[[list[Call]], bool], timeout: float = 10.0) -> list[Call]:
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self.calls), timeout):
                raise AssertionError(f"Discord never saw the expected calls; it saw {self.calls!r}")
            return list(self.calls)

    def matching(self, method: str, contains: str = "") -> list[Call]:
        with self._changed:
            return [c for c in self.calls if c.method == method and contains in c.path]

    def webhook_calls(self, token: str) -> list[Call]:
        with self._changed:
            return [c for c in self.calls if f"/webhooks/{APP_ID}/{token}" in c.path]


@contextmanager
def fake_discord() -> Iterator[FakeDiscord]:
    fake = FakeDiscord()
    with running_server(fake.app()) as url:
        fake.url = url + "/api/v10"
        yield fake


class Signer:
    """Signs bodies exactly as Discord does: Ed25519 over the timestamp string followed by the raw body."""

    def __init__(self) -> None:
        self.key = SigningKey.generate()
        self.public_key = self.key.verify_key.encode().hex()

    def headers(self, body: bytes, timestamp: str | None = None) -> dict[str, str]:
        stamp = timestamp if timestamp is not None else str(int(time.time()))
        signature = self.key.sign(stamp.encode() + body).signature.hex()
        return {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": stamp, "Content-Type": "application/json"}


def encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def command(
    name: str = "ask",
    options: dict[str, Any] | None = None,
    *,
    user_id: str = "200000000000000001",
    channel_id: str = "300000000000000001",
    guild_id: str | None = "400000000000000001",
    interaction_id: str | None = None,
) -> dict[str, Any]:
    """An APPLICATION_COMMAND interaction shaped as Discord sends it (guild: `member.user`; DM: `user`)."""
    interaction_id = interaction_id or str(next(_ids))
    user = {"id": user_id, "username": f"user{user_id[-2:]}", "global_name": "Ada", "discriminator": "0"}
    payload: dict[str, Any] = {
        "id": interaction_id,
        "application_id": APP_ID,
        "type": 2,
        "token": f"aW50ZXJhY3Rpb246{interaction_id}",
        "version": 1,
        "locale": "en-US",
        "channel_id": channel_id,
        "channel": {"id": channel_id, "type": 0},
        "data": {
            "id": "500000000000000001",
            "name": name,
            "type": 1,
            "options": [{"name": k, "type": 3, "value": v} for k, v in (options or {}).items()],
        },
    }
    if guild_id is None:
        payload["user"] = user
    else:
        payload["guild_id"] = guild_id
        payload["member"] = {"user": user, "roles": [], "permissions": "0"}
    return payload


def ask(prompt: str, **kwargs: Any) -> dict[str, Any]:
    return command("ask", {"prompt": prompt}, **kwargs)


def make_channel(signer: Signer, discord: FakeDiscord | None, **kwargs: Any) -> DiscordChannel:
    settings: dict[str, Any] = {
        "application_id": APP_ID,
        "public_key": signer.public_key,
        "api_base_url": discord.url if discord else "http://127.0.0.1:9/api/v10",
    }
    settings.update(kwargs)
    channel = DiscordChannel(**settings)
    channel.retry_base_delay = 0.01
    return channel


def make_host(channel: DiscordChannel, client: OfflineChatClient | None = None, **kwargs: Any) -> AgentFrameworkHost:
    agent = Agent(client=client or OfflineChatClient(), name="echo")
    return AgentFrameworkHost(agent, channels=[channel], shutdown_timeout=10.0, **kwargs)


def post(client: TestClient, signer: Signer, payload: Any, **headers: str) -> Any:
    body = payload if isinstance(payload, bytes) else encode(payload)
    return client.post(PATH, content=body, headers={**signer.headers(body), **headers})
