"""Whatever a client posts to /mcp, the answer is never a 5xx: a JSON-RPC result, a JSON-RPC error, or a 4xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient
from agent_framework_hosting_mcp import MCPChannel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

MODERN = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientInfo": {"name": "fuzz", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    host = AgentFrameworkHost(
        Agent(client=OfflineChatClient(), name="echo"), channels=[MCPChannel(max_body_bytes=4096)]
    )
    with TestClient(host.app) as test_client:
        yield test_client


def call(client: TestClient, body: Any, *, method: str = "tools/call", name: str = "ask") -> Any:
    headers = {
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-protocol-version": MODERN,
        "mcp-method": method,
        "mcp-name": name,
    }
    return client.post("/mcp", content=json.dumps(body).encode(), headers=headers)


def test_a_well_formed_stateless_call_is_answered(client: TestClient) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "ask", "arguments": {"message": "hi"}, "_meta": META},
    }
    response = call(client, body)
    assert response.status_code == 200
    assert response.json()["result"]["content"][0]["text"] == "echo 1: hi"


def test_an_oversized_body_is_refused(client: TestClient) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "ask", "arguments": {"message": "x" * 5000}, "_meta": META},
    }
    assert call(client, body).status_code == 413


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
arguments = st.fixed_dictionaries(
    {},
    optional={
        "message": st.text(max_size=20) | json_values,
        "conversation": st.text(max_size=10) | json_values,
        "x": json_values,
    },
)
params = st.fixed_dictionaries(
    {"_meta": st.just(META) | json_values},
    optional={"name": st.sampled_from(["ask", "other"]) | json_values, "arguments": arguments | json_values},
)
envelopes = st.fixed_dictionaries(
    {
        "jsonrpc": st.just("2.0") | json_values,
        "method": st.sampled_from(["tools/call", "tools/list", "initialize", "x"]) | json_values,
    },
    optional={"id": st.integers() | st.text(max_size=4) | json_values, "params": params | json_values},
)
bodies = st.one_of(
    envelopes.map(lambda e: json.dumps(e).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=60),
)
versions = st.sampled_from([None, MODERN, "2025-11-25", "2025-03-26", "1999-01-01", "garbage"])
session_ids = st.sampled_from([None, "nope", ""])


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(body=bodies, version=versions, session=session_ids, method=st.sampled_from(["tools/call", "tools/list", None]))
def test_fuzz_never_a_server_error(
    client: TestClient, body: bytes, version: str | None, session: str | None, method: str | None
) -> None:
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    if version is not None:
        headers["mcp-protocol-version"] = version
    if session is not None:
        headers["mcp-session-id"] = session
    if method is not None:
        headers["mcp-method"] = method
        headers["mcp-name"] = "ask"
    response = client.post("/mcp", content=body, headers=headers)
    assert response.status_code < 500, response.text
    if response.headers.get("content-type", "").startswith("application/json") and response.content:
        answer = response.json()
        assert isinstance(answer, dict)
        if "error" in answer:
            assert isinstance(answer["error"]["code"], int) and answer["error"]["code"] != -32603, answer
