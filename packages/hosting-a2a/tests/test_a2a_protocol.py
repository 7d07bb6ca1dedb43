"""JSON-RPC on the wire: both method generations, the spec's error codes, limits, and a fuzz that never sees a 5xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient
from agent_framework_hosting_a2a import A2AChannel
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

V1 = {"A2A-Version": "1.0"}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    host = AgentFrameworkHost(
        Agent(client=OfflineChatClient(), name="echo"), channels=[A2AChannel(max_body_bytes=4096)]
    )
    with TestClient(host.app) as test_client:
        yield test_client


def rpc(client: TestClient, method: str, params: Any, *, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = client.post(
        "/a2a", json={"jsonrpc": "2.0", "id": 7, "method": method, "params": params}, headers=headers
    )
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def v1_message(text: str, **extra: Any) -> dict[str, Any]:
    return {"message": {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": text}], **extra}}


def v03_message(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "message": {
            "kind": "message",
            "messageId": "m1",
            "role": "user",
            "parts": [{"kind": "text", "text": text}],
            **extra,
        }
    }


def test_v1_send_get_and_cancel_by_their_v1_names(client: TestClient) -> None:
    sent = rpc(client, "SendMessage", v1_message("hi", contextId="v1"), headers=V1)
    task = sent["result"]["task"]
    assert task["status"]["state"] == "TASK_STATE_COMPLETED"
    got = rpc(client, "GetTask", {"id": task["id"]}, headers=V1)["result"]
    assert got["id"] == task["id"] and got["contextId"] == "v1"
    refused = rpc(client, "CancelTask", {"id": task["id"]}, headers=V1)
    assert refused["error"]["code"] == -32002


def test_v03_names_reach_the_same_tasks_and_conversations(client: TestClient) -> None:
    sent = rpc(client, "message/send", v03_message("one", contextId="old"))["result"]
    assert sent["kind"] == "task" and sent["status"]["state"] == "completed"
    again = rpc(client, "message/send", v03_message("two", contextId="old"))["result"]
    assert again["status"]["message"]["parts"][0]["text"] == "echo 2: two"
    got = rpc(client, "tasks/get", {"id": again["id"]})["result"]
    assert got["status"]["state"] == "completed"
    v1 = rpc(client, "GetTask", {"id": again["id"]}, headers=V1)["result"]
    assert v1["status"]["state"] == "TASK_STATE_COMPLETED"


def test_message_stream_frames_each_event_as_a_json_rpc_response(client: TestClient) -> None:
    body = {"jsonrpc": "2.0", "id": "s", "method": "message/stream", "params": v03_message("stream me")}
    response = client.post("/a2a", json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
    assert all(event["jsonrpc"] == "2.0" and event["id"] == "s" and "result" in event for event in events)
    assert events[0]["result"]["kind"] == "task"
    assert events[-1]["result"]["kind"] == "status-update" and events[-1]["result"]["status"]["state"] == "completed"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", -32700),
        (b"\x80\x81", -32700),
        (b"[]", -32600),
        (b'"text"', -32600),
        (b'{"jsonrpc": "1.0", "id": 1, "method": "SendMessage"}', -32600),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "NoSuchMethod", "params": {}}', -32601),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": 5}}', -32602),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {}}', -32602),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "nope"}}', -32001),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "ListTasks", "params": {"pageSize": 500}}', -32602),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "ListTasks", "params": {"pageToken": "x"}}', -32602),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "GetTaskPushNotificationConfig", "params": {"taskId": "t"}}', -32001),
    ],
)
def test_bad_requests_get_the_spec_error_codes(client: TestClient, body: bytes, code: int) -> None:
    response = client.post("/a2a", content=body, headers={"content-type": "application/json", **V1})
    assert response.status_code == 200
    assert response.json()["error"]["code"] == code


def test_a_v1_method_without_the_version_header_is_refused_as_unsupported_version(client: TestClient) -> None:
    assert rpc(client, "SendMessage", v1_message("hi"))["error"]["code"] == -32009


@pytest.mark.parametrize("method", ["tasks/get", "message/send"])
def test_a_v03_method_under_a_v1_version_header_is_refused_as_unsupported_version(
    client: TestClient, method: str
) -> None:
    answer = rpc(client, method, {"id": "t1"}, headers=V1)
    assert answer["id"] == 7 and answer["error"]["code"] == -32009
    assert method in answer["error"]["message"] and "1.0" in answer["error"]["message"]
    assert rpc(client, method, {"id": "t1"}, headers={"A2A-Version": "0.3"})["error"]["code"] != -32009


def test_an_agent_role_or_empty_message_is_invalid_params(client: TestClient) -> None:
    agent = v1_message("hi")
    agent["message"]["role"] = "ROLE_AGENT"
    assert rpc(client, "SendMessage", agent, headers=V1)["error"]["code"] == -32602
    empty = v1_message("")
    assert rpc(client, "SendMessage", empty, headers=V1)["error"]["code"] == -32602


def test_continuing_a_finished_task_is_refused_with_a_pointer_to_the_context(client: TestClient) -> None:
    task = rpc(client, "SendMessage", v1_message("hi", contextId="t"), headers=V1)["result"]["task"]
    again = rpc(client, "SendMessage", v1_message("more", taskId=task["id"]), headers=V1)
    assert again["error"]["code"] == -32004 and "contextId" in again["error"]["message"]
    other = rpc(client, "SendMessage", v1_message("more", taskId=task["id"], contextId="other"), headers=V1)
    assert other["error"]["code"] == -32602
    missing = rpc(client, "SendMessage", v1_message("more", taskId="missing"), headers=V1)
    assert missing["error"]["code"] == -32001


def test_an_oversized_body_is_refused_before_it_is_read(client: TestClient) -> None:
    response = client.post("/a2a", json=v1_message("x" * 5000), headers=V1)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == -32600


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
methods = st.sampled_from(
    [
        "SendMessage",
        "SendStreamingMessage",
        "GetTask",
        "CancelTask",
        "SubscribeToTask",
        "ListTasks",
        "CreateTaskPushNotificationConfig",
        "GetTaskPushNotificationConfig",
        "ListTaskPushNotificationConfigs",
        "DeleteTaskPushNotificationConfig",
        "message/send",
        "message/stream",
        "tasks/get",
        "tasks/cancel",
        "tasks/resubscribe",
        "bogus",
    ]
)
parts = st.lists(
    st.fixed_dictionaries(
        {}, optional={"text": st.text(max_size=10) | json_values, "kind": st.just("text") | json_values}
    ),
    max_size=3,
)
messages = st.fixed_dictionaries(
    {},
    optional={
        "messageId": st.text(max_size=8) | json_values,
        "role": st.sampled_from(["ROLE_USER", "ROLE_AGENT", "user", "agent", "x"]) | json_values,
        "parts": parts | json_values,
        "contextId": st.text(max_size=8) | json_values,
        "taskId": st.text(max_size=8) | json_values,
        "kind": st.just("message") | json_values,
    },
)
params = st.fixed_dictionaries(
    {},
    optional={
        "message": messages | json_values,
        "id": st.text(max_size=8) | json_values,
        "historyLength": json_values,
        "contextId": st.text(max_size=8) | json_values,
        "pageSize": st.integers(-5, 200) | json_values,
        "pageToken": st.text(max_size=12) | json_values,
        "status": st.sampled_from(["TASK_STATE_COMPLETED", "TASK_STATE_WORKING", "bogus"]) | json_values,
        "statusTimestampAfter": st.sampled_from(["2026-01-01T00:00:00Z", "yesterday"]) | json_values,
        "includeArtifacts": json_values,
        "taskId": st.text(max_size=8) | json_values,
        "url": st.sampled_from(["file:///etc/passwd", "http://127.0.0.1:1/h", "http://[::1", "x"]) | json_values,
        "token": st.text(max_size=8) | json_values,
        "authentication": st.fixed_dictionaries({}, optional={"scheme": json_values, "credentials": json_values}),
        "taskPushNotificationConfig": json_values,
    },
)
envelopes = st.fixed_dictionaries(
    {"jsonrpc": st.just("2.0") | json_values, "method": methods | json_values},
    optional={"id": st.integers() | st.text(max_size=5) | json_values, "params": params | json_values},
)
bodies = st.one_of(
    envelopes.map(lambda e: json.dumps(e).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=60),
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(body=bodies, versioned=st.booleans())
@example(body=b'{"jsonrpc": "2.0", "method": "tasks/get", "id": 0, "params": {"id": ""}}', versioned=True)
def test_fuzz_never_a_server_error_and_always_json_rpc(client: TestClient, body: bytes, versioned: bool) -> None:
    headers = {"content-type": "application/json", **(V1 if versioned else {})}
    response = client.post("/a2a", content=body, headers=headers)
    assert response.status_code < 500
    if response.headers["content-type"].startswith("text/event-stream"):
        frames = [json.loads(line[5:]) for line in response.text.splitlines() if line.startswith("data:")]
        assert frames and all(frame.get("jsonrpc") == "2.0" for frame in frames)
        assert all(frame.get("error", {}).get("code") != -32603 for frame in frames), frames
        return
    answer = response.json()
    assert answer["jsonrpc"] == "2.0"
    assert ("result" in answer) != ("error" in answer)
    if "error" in answer:
        assert isinstance(answer["error"]["code"], int) and answer["error"]["message"]
        assert answer["error"]["code"] != -32603, answer


def test_v03_push_config_names_reach_the_same_configs(client: TestClient) -> None:
    task = rpc(client, "message/send", v03_message("one", contextId="push"))["result"]
    config = {"url": "http://127.0.0.1:1/hook", "token": "t"}
    refused = rpc(client, "tasks/pushNotificationConfig/set", {"taskId": task["id"], "pushNotificationConfig": config})
    assert refused["error"]["code"] == -32602 and "refused" in refused["error"]["message"]
    listed = rpc(client, "tasks/pushNotificationConfig/list", {"id": task["id"]})
    assert listed["result"] == []
    missing = rpc(client, "tasks/pushNotificationConfig/list", {"id": "nope"})
    assert missing["error"]["code"] == -32001
