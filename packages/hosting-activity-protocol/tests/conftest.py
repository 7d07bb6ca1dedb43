"""A local Bot Framework: OpenID metadata + JWKS, a token service and a recording connector, on 127.0.0.1."""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import jwt
import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient, running_server, wait_until
from agent_framework_hosting_activity_protocol import ActivityProtocolChannel
from cryptography.hazmat.primitives.asymmetric import rsa
from microsoft_agents.activity import Activity, ChannelAccount, ConversationAccount, Entity
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

APP_ID = "00000000-0000-0000-0000-00000000b0a7"
BOT_ISSUER = "https://api.botframework.com"
BOT_ID = "28:bot-id"
USER_ID = "29:user-id"


@dataclass
class RecordedActivity:
    path: str
    """The raw (still URL-encoded) request path."""
    authorization: str | None
    body: dict[str, Any]
    at: float


@dataclass
class Scripted:
    """A connector answer to give instead of the default, to the first matching request."""

    status: int
    match: Callable[[dict[str, Any]], bool]
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class SigningKeyPair:
    def __init__(self, kid: str, endorsements: list[str] | None = None) -> None:
        self.kid = kid
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.endorsements = endorsements

    def jwk(self) -> dict[str, Any]:
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key()))
        data.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        if self.endorsements is not None:
            data["endorsements"] = self.endorsements
        return data

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": kid or self.kid})


class FakeBotFramework:
    """OpenID metadata, JWKS, token service and connector in one Starlette app; records everything."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.keys: list[SigningKeyPair] = []
        self.metadata_hits = 0
        self.token_requests: list[dict[str, str]] = []
        self.activities: list[RecordedActivity] = []
        self.scripted: list[Scripted] = []
        self.token_counter = itertools.count(1)
        self.base_url = ""

    @property
    def service_url(self) -> str:
        return self.base_url + "/"

    @property
    def metadata_url(self) -> str:
        return self.base_url + "/openid"

    @property
    def token_url(self) -> str:
        return self.base_url + "/token"

    def script(self, status: int, match: Callable[[dict[str, Any]], bool] = lambda body: True, **kwargs: Any) -> None:
        with self.lock:
            self.scripted.append(Scripted(status, match, **kwargs))

    def recorded(self) -> list[RecordedActivity]:
        with self.lock:
            return list(self.activities)

    def messages(self) -> list[dict[str, Any]]:
        return [a.body for a in self.recorded() if a.body.get("type") == "message"]

    def app(self) -> Starlette:
        async def metadata(request: Request) -> Response:
            with self.lock:
                self.metadata_hits += 1
            return JSONResponse({"issuer": BOT_ISSUER, "jwks_uri": self.base_url + "/keys"})

        async def keys(request: Request) -> Response:
            with self.lock:
                return JSONResponse({"keys": [pair.jwk() for pair in self.keys]})

        async def token(request: Request) -> Response:
            form = dict(parse_qsl((await request.body()).decode()))
            with self.lock:
                self.token_requests.append(form)
                number = next(self.token_counter)
            return JSONResponse({"token_type": "Bearer", "expires_in": 3600, "access_token": f"outbound-{number}"})

        async def connector(request: Request) -> Response:
            body = await request.json()
            with self.lock:
                self.activities.append(
                    RecordedActivity(
                        request.scope["raw_path"].decode(), request.headers.get("authorization"), body, time.monotonic()
                    )
                )
                for index, scripted in enumerate(self.scripted):
                    if scripted.match(body):
                        del self.scripted[index]
                        return JSONResponse(scripted.body or {}, status_code=scripted.status, headers=scripted.headers)
            return JSONResponse({"id": f"act-{uuid.uuid4().hex[:8]}"})

        return Starlette(
            routes=[
                Route("/openid", metadata),
                Route("/keys", keys),
                Route("/token", token, methods=["POST"]),
                Route("/v3/conversations/{rest:path}", connector, methods=["POST"]),
            ]
        )


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, message: str = "condition") -> Any:
    return wait_until(predicate, timeout=timeout, message=message)


@pytest.fixture(name="wait_for")
def wait_for_fixture() -> Callable[..., Any]:
    return wait_for


@pytest.fixture
def new_key() -> Callable[..., SigningKeyPair]:
    """A fresh RSA signing key pair: `new_key(kid, endorsements=None)`."""
    return SigningKeyPair


@pytest.fixture
def app_id() -> str:
    return APP_ID


@pytest.fixture
def bot_framework() -> Iterator[FakeBotFramework]:
    fake = FakeBotFramework()
    fake.keys.append(SigningKeyPair("key-1", endorsements=["msteams", "webchat", "directline", "emulator"]))
    with running_server(fake.app()) as base_url:
        fake.base_url = base_url
        yield fake


@pytest.fixture
def signing_key(bot_framework: FakeBotFramework) -> SigningKeyPair:
    return bot_framework.keys[0]


@pytest.fixture
def mint(bot_framework: FakeBotFramework, signing_key: SigningKeyPair) -> Callable[..., str]:
    """A Bot Connector token for the fake service URL; keyword arguments override claims."""

    def make(*, key: SigningKeyPair | None = None, kid: str | None = None, **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": BOT_ISSUER,
            "aud": APP_ID,
            "iat": now,
            "nbf": now - 10,
            "exp": now + 3600,
            "serviceurl": bot_framework.service_url,
        }
        claims.update(overrides)
        claims = {name: value for name, value in claims.items() if value is not None}
        return (key or signing_key).sign(claims, kid=kid)

    return make


@pytest.fixture
def make_activity(bot_framework: FakeBotFramework) -> Callable[..., dict[str, Any]]:
    """An Activity as the Bot Connector sends it, built with the microsoft-agents-activity models."""
    counter = itertools.count(1)

    def make(
        text: str = "hello",
        *,
        type: str = "message",
        channel_id: str = "msteams",
        conversation_id: str = "a:conv/1;messageid=42",
        conversation_type: str | None = "personal",
        id: str | None = "",
        service_url: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        activity = Activity(
            type=type,
            id=f"act-{next(counter)}-{uuid.uuid4().hex[:6]}" if id == "" else id,
            text=text if type == "message" else None,
            channel_id=channel_id,
            service_url=service_url or bot_framework.service_url,
            from_property=ChannelAccount(id=USER_ID, name="Ada", aad_object_id="aad-ada"),
            recipient=ChannelAccount(id=BOT_ID, name="Echo Bot"),
            conversation=ConversationAccount(
                id=conversation_id, conversation_type=conversation_type, tenant_id="tenant-1", is_group=False
            ),
            locale="en-US",
            **extra,
        )
        return activity.model_dump(mode="json", by_alias=True, exclude_none=True)

    return make


@pytest.fixture
def mention() -> Callable[..., Entity]:
    """A Teams mention entity, of the bot unless another id is given."""

    def make(name: str = "Echo Bot", account_id: str = BOT_ID) -> Entity:
        return Entity(type="mention", text=f"<at>{name}</at>", mentioned={"id": account_id, "name": name})

    return make


@dataclass
class Deployment:
    client: TestClient
    channel: ActivityProtocolChannel
    chat: OfflineChatClient
    fake: FakeBotFramework
    host: AgentFrameworkHost

    def post(self, activity: dict[str, Any], token: str | None = None, **headers: str) -> Any:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.post(self.channel.path, json=activity, headers=headers)


@pytest.fixture
def deploy(bot_framework: FakeBotFramework) -> Iterator[Callable[..., Deployment]]:
    """Start a host with an ActivityProtocolChannel wired to the local Bot Framework."""
    clients: list[TestClient] = []

    def start(
        *,
        chat: OfflineChatClient | None = None,
        authenticated: bool = True,
        host_options: dict[str, Any] | None = None,
        **options: Any,
    ) -> Deployment:
        chat = chat or OfflineChatClient()
        settings: dict[str, Any] = {
            "service_url_allowed_hosts": ("127.0.0.1",),
            "stream_edit_min_interval": 0.0,
        }
        if authenticated:
            settings.update(
                app_id=APP_ID,
                app_password="s3cret-password",
                openid_metadata_url=bot_framework.metadata_url,
                entra_openid_metadata_url=bot_framework.metadata_url,
                token_endpoint=bot_framework.token_url,
            )
        settings.update(options)
        channel = ActivityProtocolChannel(**settings)
        host = AgentFrameworkHost(Agent(client=chat, name="echo"), channels=[channel], **(host_options or {}))
        client = TestClient(host.app)
        client.__enter__()
        clients.append(client)
        return Deployment(client=client, channel=channel, chat=chat, fake=bot_framework, host=host)

    yield start
    for client in reversed(clients):
        client.__exit__(None, None, None)
