"""The HTTP+JSON (REST) binding, with the a2a-sdk client speaking it as the peer; errors in its shape; fuzz."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from a2a.client import Client, ClientConfig, ClientFactory
from a2a.types import CancelTaskRequest, GetTaskRequest, ListTasksRequest, SubscribeToTaskRequest, TaskState
from a2a.utils.constants import TransportProtocol
from a2a.utils.errors import TaskNotFoundError
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient
from agent_framework_hosting_a2a import A2AChannel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

sys.path.insert(0, os.path.dirname(__file__))
from a2a_helpers import collect, send_request, wait_for_state  # noqa: E402

COMPLETED = TaskState.TASK_STATE_COMPLETED
LONG = " ".join(f"w{n}" for n in range(30))
V1 = {"A2A-Version": "1.0"}


@asynccontextmanager
async def rest_client(url: str, *, streaming: bool = True, paths: list[str] | None = None) -> AsyncIterator[Client]:
    """An a2a-sdk client that may speak only HTTP+JSON; `paths` collects the paths it calls."""

    async def record(request: httpx.Request) -> None:
        if paths is not None:
            paths.append(f"{request.method} {request.url.path}")

    async with httpx.AsyncClient(timeout=30, event_hooks={"request": [record]}) as http:
        config = ClientConfig(
            streaming=streaming, httpx_client=http, supported_protocol_bindings=[TransportProtocol.HTTP_JSON.value]
        )
        yield await ClientFactory(config).create_from_url(url)


async def test_the_sdk_client_speaks_http_json_send_get_list(serve: Any) -> None:
    served = serve()
    paths: list[str] = []
    async with rest_client(served.url + "/a2a", streaming=False, paths=paths) as client:
        [event] = await collect(client.send_message(send_request("hello", context_id="rest")))
        assert event.task.status.state == COMPLETED
        assert event.task.status.message.parts[0].text == "echo 1: hello"
        got = await client.get_task(GetTaskRequest(id=event.task.id))
        assert got.status.state == COMPLETED
        listed = await client.list_tasks(ListTasksRequest(context_id="rest"))
        assert [task.id for task in listed.tasks] == [event.task.id]
        with pytest.raises(TaskNotFoundError):
            await client.get_task(GetTaskRequest(id="missing"))
    assert "POST /a2a/message:send" in paths and f"GET /a2a/tasks/{event.task.id}" in paths
    assert "GET /a2a/tasks" in paths and "POST /a2a" not in paths, "JSON-RPC was not used"


async def test_the_sdk_client_streams_cancels_and_subscribes_over_http_json(serve: Any) -> None:
    served = serve(chunk_delay=0.03)
    paths: list[str] = []
    async with rest_client(served.url + "/a2a", paths=paths) as client:
        events = await collect(client.send_message(send_request("stream me", context_id="rs")))
        assert events[-1].status_update.status.state == COMPLETED
        chunks = [e.artifact_update.artifact.parts[0].text for e in events if e.HasField("artifact_update")]
        assert chunks[-1] == "echo 1: stream me" and len(chunks) > 2

        first = await anext(client.send_message(send_request(LONG, context_id="rs2")))
        followed = await collect(client.subscribe(SubscribeToTaskRequest(id=first.task.id)))
        assert followed[-1].status_update.status.state == COMPLETED

        request = send_request(LONG, context_id="rs3", return_immediately=True)
        async with rest_client(served.url + "/a2a", streaming=False) as blocking:
            [started] = await collect(blocking.send_message(request))
            await wait_for_state(blocking, started.task.id, {TaskState.TASK_STATE_WORKING})
            cancelled = await blocking.cancel_task(CancelTaskRequest(id=started.task.id))
        assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
    assert "POST /a2a/message:stream" in paths
    assert any(path.endswith(f"/a2a/tasks/{first.task.id}:subscribe") for path in paths)
    assert not any(path.endswith(" /a2a") for path in paths), "JSON-RPC was not used"


@pytest.fixture
def client() -> Iterator[TestClient]:
    host = AgentFrameworkHost(
        Agent(client=OfflineChatClient(), name="echo"), channels=[A2AChannel(max_body_bytes=4096, api_key="k")]
    )
    with TestClient(host.app) as test_client:
        yield test_client


AUTH = {"authorization": "Bearer k", **V1}


def test_rest_refusals_come_in_the_bindings_error_shape(client: TestClient) -> None:
    unauthenticated = client.get("/a2a/tasks/x", headers=V1)
    assert unauthenticated.status_code == 401 and unauthenticated.headers["www-authenticate"] == "Bearer"
    assert unauthenticated.json()["error"]["status"] == "UNAUTHENTICATED"
    oversized = client.post("/a2a/message:send", content=b"x" * 5000, headers=AUTH)
    assert oversized.status_code == 413 and oversized.json()["error"]["code"] == 413
    missing = client.get("/a2a/tasks/nope", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["error"]["status"] == "NOT_FOUND"
    garbled = client.post("/a2a/message:send", content=b"{not json", headers=AUTH)
    assert garbled.status_code == 400 and "error" in garbled.json()
    message = {"message": {"messageId": "m", "role": "ROLE_USER", "parts": [{"text": "hi"}], "contextId": "r"}}
    sent = client.post("/a2a/message:send", json=message, headers=AUTH)
    assert sent.status_code == 200 and sent.json()["task"]["status"]["state"] == "TASK_STATE_COMPLETED"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
messages = st.fixed_dictionaries(
    {},
    optional={
        "messageId": st.text(max_size=8) | json_values,
        "role": st.sampled_from(["ROLE_USER", "ROLE_AGENT", "x"]) | json_values,
        "parts": st.lists(st.fixed_dictionaries({}, optional={"text": st.text(max_size=8) | json_values}), max_size=2)
        | json_values,
        "contextId": st.text(max_size=8) | json_values,
        "taskId": st.text(max_size=8) | json_values,
    },
)
bodies = st.one_of(
    st.fixed_dictionaries({}, optional={"message": messages | json_values, "configuration": json_values}).map(
        lambda value: json.dumps(value).encode()
    ),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=40),
)
calls = st.sampled_from(
    [
        ("POST", "/a2a/message:send"),
        ("POST", "/a2a/message:stream"),
        ("GET", "/a2a/tasks"),
        ("GET", "/a2a/tasks/x"),
        ("POST", "/a2a/tasks/x:cancel"),
        ("GET", "/a2a/tasks/x:subscribe"),
        ("POST", "/a2a/tasks/x/pushNotificationConfigs"),
        ("GET", "/a2a/tasks/x/pushNotificationConfigs"),
        ("DELETE", "/a2a/tasks/x/pushNotificationConfigs/y"),
    ]
)
queries = st.dictionaries(
    st.sampled_from(["pageSize", "pageToken", "contextId", "status", "historyLength", "includeArtifacts"]),
    st.text(max_size=6) | st.integers(-3, 300).map(str),
    max_size=3,
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(call=calls, body=bodies, query=queries, versioned=st.booleans())
def test_fuzz_rest_never_a_server_error(
    client: TestClient, call: tuple[str, str], body: bytes, query: dict[str, str], versioned: bool
) -> None:
    method, path = call
    headers = {"content-type": "application/json", **(AUTH if versioned else {"authorization": "Bearer k"})}
    response = client.request(method, path, content=body if method != "GET" else None, params=query, headers=headers)
    assert response.status_code < 500, (response.status_code, response.text)
    if not response.headers["content-type"].startswith("text/event-stream") and response.status_code >= 400:
        assert response.json()["error"]["message"]
