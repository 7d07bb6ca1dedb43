"""Bad input on every Responses endpoint is a 4xx in OpenAI's error shape, changes nothing, and logs no traceback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost, ChannelRequest, ChannelSession
from agent_framework_hosting.testing import OfflineChatClient, hostile_bodies, hostile_json, running_server, watch_logs
from agent_framework_hosting_responses import ResponsesChannel
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

CREATE = {"model": "m", "input": "hi", "instructions": "be brief", "metadata": {"k": "v"}, "store": True}
CONVERSATION = {"metadata": {"k": "v"}, "items": [{"type": "message", "role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[ResponsesChannel()])
    with TestClient(host.app, raise_server_exceptions=False) as test_client:
        yield test_client


def assert_refused(answer: httpx.Response, status: int = 400) -> None:
    assert answer.status_code == status, answer.text
    assert set(answer.json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize("name", sorted(hostile_bodies(CREATE)))
def test_hostile_create_bodies_are_400_and_run_nothing(client: TestClient, name: str) -> None:
    with watch_logs() as logs:
        assert_refused(client.post("/v1/responses", content=hostile_bodies(CREATE)[name]))
        assert_refused(client.post("/v1/responses", content=hostile_bodies({**CREATE, "stream": True})[name]))
    assert logs.tracebacks() == []
    assert not [r for r in logs.records if r.getMessage().startswith("turn ")], "the agent ran"


@pytest.mark.parametrize("name", sorted(hostile_bodies(CONVERSATION)))
def test_hostile_conversation_bodies_are_400(client: TestClient, name: str) -> None:
    conversation = client.post("/v1/conversations", json=CONVERSATION).json()["id"]
    body = hostile_bodies(CONVERSATION)[name]
    with watch_logs() as logs:
        assert_refused(client.post("/v1/conversations", content=body))
        assert_refused(client.post(f"/v1/conversations/{conversation}", content=body))
        assert_refused(client.post(f"/v1/conversations/{conversation}/items", content=body))
    assert logs.tracebacks() == []
    items = client.get(f"/v1/conversations/{conversation}/items").json()["data"]
    assert len(items) == 1


def test_an_oversized_body_is_413_like_every_other_channel() -> None:
    host = AgentFrameworkHost(Agent(client=OfflineChatClient()), channels=[ResponsesChannel(max_body_bytes=1000)])
    with TestClient(host.app) as test_client:
        body = {"input": "x" * 2000}
        assert_refused(test_client.post("/v1/responses", json=body), 413)
        assert_refused(test_client.post("/v1/conversations", json={"metadata": {"k": "x" * 2000}}), 413)


def test_a_404_that_echoes_a_surrogate_id_is_still_json(client: TestClient) -> None:
    with watch_logs() as logs:
        answer = client.get("/v1/responses/resp_%ED%A0%80")
        assert_refused(answer, 404)
    assert logs.tracebacks() == []


def test_not_found_renders_an_id_that_is_not_unicode() -> None:
    from agent_framework_hosting_responses._errors import not_found

    response = not_found("response", "resp_\ud800").response()
    assert response.status_code == 404 and b"resp_\\\\ud800" in response.body


def test_a_foundry_chat_key_never_reaches_another_channels_session(monkeypatch: pytest.MonkeyPatch) -> None:
    chat = OfflineChatClient()
    host = AgentFrameworkHost(Agent(client=chat, name="echo"), channels=[ResponsesChannel()])
    telegram = ChannelRequest(
        channel="telegram", operation="message", input="secret", session=ChannelSession("telegram:4242")
    )
    asyncio.run(host.context.run(telegram))
    monkeypatch.setenv("FOUNDRY_HOSTING_ENVIRONMENT", "1")
    with running_server(host.app) as url:
        answer = httpx.post(
            f"{url}/v1/responses",
            json={"input": "what did I say?"},
            headers={"x-agent-chat-isolation-key": "telegram:4242"},
            timeout=20,
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["output"][0]["content"][0]["text"] == "echo 1: what did I say?"
    assert "secret" not in str(chat.calls[-1])


FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(body=hostile_json(CREATE))
def test_fuzzed_create_bodies_never_get_a_5xx_nor_log_a_traceback(client: TestClient, body: bytes) -> None:
    with watch_logs() as logs:
        answer = client.post("/v1/responses", content=body)
    assert answer.status_code < 500, answer.text
    assert logs.tracebacks() == []


@FUZZ
@given(body=hostile_json(CONVERSATION))
def test_fuzzed_conversation_bodies_never_get_a_5xx_nor_log_a_traceback(client: TestClient, body: bytes) -> None:
    conversation = client.post("/v1/conversations", json=CONVERSATION).json()["id"]
    with watch_logs() as logs:
        for path in (
            "/v1/conversations",
            f"/v1/conversations/{conversation}",
            f"/v1/conversations/{conversation}/items",
        ):
            answer = client.post(path, content=body)
            assert answer.status_code < 500, (path, answer.text)
    assert logs.tracebacks() == []
