"""MCP authorization: protected-resource metadata (RFC 9728) and JWT access tokens of an external authorization server.

The authorization server is a real HTTP server on loopback serving its key set (JWKS); tokens are real
RS256 JWTs signed with its private key.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient, free_port, running_server
from agent_framework_hosting_mcp import JWTVerifier, MCPChannel, OAuthOptions
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.client.auth.utils import (
    build_protected_resource_metadata_discovery_urls,
    extract_resource_metadata_from_www_auth,
    extract_scope_from_www_auth,
    handle_protected_resource_response,
)
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
HEADERS = {"accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25"}


class FakeAuthorizationServer:
    """An authorization server's key set on loopback, and tokens signed with its key."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "key-1"
        self.fetches = 0
        self.url = ""

    def app(self) -> Starlette:
        async def jwks(request: Request) -> JSONResponse:
            self.fetches += 1
            public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
            return JSONResponse({"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]})

        return Starlette(routes=[Route("/jwks", jwks)])

    def token(self, audience: str, *, key: Any = None, lifetime: float = 300, **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": self.url, "sub": "user-1", "client_id": "ide", "aud": audience, "iat": now,
                   "exp": now + lifetime, "scope": "mcp:ask", **claims}  # fmt: skip
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": self.kid})


@dataclass
class Protected:
    url: str
    resource: str
    auth: FakeAuthorizationServer
    model: OfflineChatClient


@pytest.fixture
def protected() -> Iterator[Callable[..., Protected]]:
    stack = ExitStack()

    def build(*, scopes: tuple[str, ...] = ("mcp:ask",), verify: bool = True, api_key: str | None = None) -> Protected:
        auth = FakeAuthorizationServer()
        auth.url = stack.enter_context(running_server(auth.app()))
        port = free_port()
        resource = f"http://127.0.0.1:{port}/mcp"  # the endpoint's public URL: the tokens' audience
        verifier = JWTVerifier(jwks_url=auth.url + "/jwks", audience=resource, issuer=auth.url)
        oauth = OAuthOptions(
            resource=resource, authorization_servers=[auth.url], scopes=scopes, verifier=verifier if verify else None
        )
        model = OfflineChatClient()
        host = AgentFrameworkHost(Agent(client=model, name="echo"), channels=[MCPChannel(api_key=api_key, oauth=oauth)])
        url = stack.enter_context(running_server(host.app, port=port))
        return Protected(url + "/mcp", resource, auth, model)

    yield build
    stack.close()


def test_the_metadata_names_the_resource_its_authorization_server_and_scopes(protected: Any) -> None:
    served = protected()
    refused = httpx.post(served.url, json=LIST_TOOLS, headers=HEADERS)
    assert refused.status_code == 401
    metadata_url = extract_resource_metadata_from_www_auth(refused)
    assert metadata_url == served.url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
    assert extract_scope_from_www_auth(refused) == "mcp:ask"
    assert build_protected_resource_metadata_discovery_urls(metadata_url, served.url)[0] == metadata_url
    found = httpx.get(metadata_url)
    assert found.status_code == 200
    metadata = asyncio.run(handle_protected_resource_response(found))
    assert metadata is not None, "the mcp SDK's client accepts the document"
    assert str(metadata.resource) == served.resource
    assert [str(server).rstrip("/") for server in metadata.authorization_servers] == [served.auth.url]
    assert metadata.scopes_supported == ["mcp:ask"]
    assert metadata.bearer_methods_supported == ["header"]


async def test_a_valid_access_token_calls_the_tool(protected: Any) -> None:
    served = protected()
    token = served.auth.token(served.resource)
    http = create_mcp_http_client(headers={"authorization": f"Bearer {token}"})
    async with http, Client(streamable_http_client(served.url, http_client=http)) as client:
        result = await client.call_tool("ask", {"message": "with a token"})
    assert result.content[0].text == "echo 1: with a token"
    assert served.auth.fetches == 1, "the key set is fetched once and kept"


@pytest.mark.parametrize(
    "case",
    ["another audience", "expired", "another key", "another issuer", "not a jwt", "no exp", "alg none"],
)
def test_tokens_that_are_not_for_this_resource_or_not_valid_are_refused_with_a_challenge(
    protected: Any, case: str
) -> None:
    served = protected()
    auth = served.auth
    tokens = {
        "another audience": lambda: auth.token("http://127.0.0.1:1/other"),
        "expired": lambda: auth.token(served.resource, lifetime=-120),
        "another key": lambda: auth.token(served.resource, key=rsa.generate_private_key(65537, 2048)),
        "another issuer": lambda: auth.token(served.resource, iss="http://127.0.0.1:1"),
        "not a jwt": lambda: "abc.def.ghi",
        "no exp": lambda: jwt.encode(
            {"aud": served.resource, "iss": auth.url, "scope": "mcp:ask"}, auth.key, "RS256", headers={"kid": auth.kid}
        ),  # fmt: skip
        "alg none": lambda: jwt.encode(
            {"aud": served.resource, "iss": auth.url, "exp": time.time() + 60}, None, "none"
        ),
    }
    refused = httpx.post(served.url, json=LIST_TOOLS, headers={**HEADERS, "authorization": f"Bearer {tokens[case]()}"})
    assert refused.status_code == 401
    challenge = refused.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    assert "resource_metadata=" in challenge
    assert refused.json()["error"]["code"] == -32600
    assert served.model.calls == []


def test_a_token_without_the_required_scope_is_forbidden(protected: Any) -> None:
    served = protected(scopes=("mcp:ask", "mcp:admin"))
    token = served.auth.token(served.resource, scope="mcp:ask")
    refused = httpx.post(served.url, json=LIST_TOOLS, headers={**HEADERS, "authorization": f"Bearer {token}"})
    assert refused.status_code == 403
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    assert extract_scope_from_www_auth(refused) == "mcp:ask mcp:admin"
    both = served.auth.token(served.resource, scope="mcp:admin mcp:ask")
    allowed = httpx.post(served.url, json=INITIALIZE, headers={**HEADERS, "authorization": f"Bearer {both}"})
    assert allowed.status_code == 200


def test_the_static_key_still_works_beside_oauth_and_metadata_alone_accepts_no_token(protected: Any) -> None:
    served = protected(verify=False, api_key="s3cret")
    keyed = httpx.post(served.url, json=INITIALIZE, headers={**HEADERS, "authorization": "Bearer s3cret"})
    assert keyed.status_code == 200
    token = served.auth.token(served.resource)
    refused = httpx.post(served.url, json=LIST_TOOLS, headers={**HEADERS, "authorization": f"Bearer {token}"})
    assert refused.status_code == 401 and "resource_metadata=" in refused.headers["www-authenticate"]


async def test_an_unreachable_key_set_is_a_503_not_a_401() -> None:
    verifier = JWTVerifier(jwks_url="http://127.0.0.1:9/jwks", audience="http://127.0.0.1:1/mcp", timeout=2)
    options = OAuthOptions(resource="http://127.0.0.1:1/mcp", authorization_servers=["http://127.0.0.1:9"],
                           verifier=verifier)  # fmt: skip
    token = jwt.encode({"exp": time.time() + 60}, rsa.generate_private_key(65537, 2048), "RS256", headers={"kid": "k"})
    refusal = await options.check(token)
    assert refusal is not None and refusal.status == 503


def test_options_need_an_authorization_server_and_urls() -> None:
    with pytest.raises(ValueError):
        OAuthOptions(resource="http://127.0.0.1/mcp", authorization_servers=[])
    with pytest.raises(ValueError):
        OAuthOptions(resource="not a url", authorization_servers=["http://127.0.0.1"])


def test_any_authorization_header_is_refused_without_a_5xx(protected: Any) -> None:
    served = protected()

    printable = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=200)
    segment = st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), max_size=80)
    jwt_shaped = st.builds(lambda *parts: ".".join(parts), segment, segment, segment)

    @settings(max_examples=60, deadline=None)
    @given(authorization=st.one_of(printable, st.builds("Bearer {}".format, st.one_of(printable, jwt_shaped))))
    def check(authorization: str) -> None:
        refused = httpx.post(served.url, json=LIST_TOOLS, headers={**HEADERS, "authorization": authorization})
        assert refused.status_code in (401, 403)

    check()


def test_the_command_line_configures_oauth_from_the_environment() -> None:
    from agent_framework_hosting.plugins import ChannelUnavailable
    from agent_framework_hosting_mcp._plugin import PLUGIN

    environ = {
        "MCP_OAUTH_RESOURCE": "https://agent.example.com/mcp",
        "MCP_OAUTH_SERVER": "https://login.example.com",
        "MCP_OAUTH_JWKS_URL": "https://login.example.com/jwks",
        "MCP_OAUTH_SCOPES": "mcp:ask, mcp:read",
    }
    channel = PLUGIN.from_settings(environ)
    assert channel.oauth.resource == "https://agent.example.com/mcp"
    assert channel.oauth.scopes == ("mcp:ask", "mcp:read")
    verifier = channel.oauth.verifier
    assert isinstance(verifier, JWTVerifier)
    assert (verifier.audience, verifier.issuer) == ("https://agent.example.com/mcp", "https://login.example.com")
    assert "OAuth resource https://agent.example.com/mcp" in PLUGIN.describe_note(channel, "http://127.0.0.1:8000")
    assert PLUGIN.from_settings({}).oauth is None
    with pytest.raises(ChannelUnavailable, match="MCP_OAUTH_RESOURCE"):
        PLUGIN.from_settings({"MCP_OAUTH_SERVER": "https://login.example.com"})
