"""Property: whatever JSON a client posts, the channel never answers with a server error."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from agent_framework import Agent, Message
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient
from agent_framework_hosting_responses import ResponsesChannel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient


class NeverFailing(OfflineChatClient):
    """The offline client without its failure marker: any 5xx is then the channel's fault."""

    @staticmethod
    def _fails(messages: Sequence[Message]) -> bool:
        return False


scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
parts = st.fixed_dictionaries(
    {"type": st.sampled_from(["input_text", "output_text", "input_image", "input_file", "refusal", "bogus"])},
    optional={
        "text": json_values,
        "image_url": st.sampled_from(["https://x.test/a.png", "data:image/png;base64,AAAA", "data:,", "x"])
        | json_values,
    },
)
items = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["message", "function_call_output", "function_call", "reasoning", "item_reference"])
        | json_values,
        "role": st.sampled_from(["user", "system", "developer", "assistant", "tool"]) | json_values,
        "content": st.text(max_size=10) | st.lists(parts | json_values, max_size=3),
        "call_id": st.text(max_size=5) | json_values,
        "output": st.text(max_size=5) | json_values,
    },
)
fields = {
    "input": st.text(max_size=20) | st.lists(items | json_values, max_size=3) | json_values,
    "model": json_values,
    "stream": st.booleans() | json_values,
    "store": st.booleans() | json_values,
    "background": st.booleans() | json_values,
    "instructions": json_values,
    "metadata": st.dictionaries(st.text(max_size=70), st.text(max_size=5) | json_values, max_size=17) | json_values,
    "temperature": st.floats() | json_values,
    "top_p": st.floats() | json_values,
    "max_output_tokens": st.integers() | json_values,
    "tools": json_values,
    "tool_choice": json_values,
    "previous_response_id": st.text(max_size=10) | json_values,
    "conversation": st.text(max_size=10) | st.fixed_dictionaries({"id": json_values}) | json_values,
}
bodies = st.fixed_dictionaries({}, optional=fields) | json_values


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    host = AgentFrameworkHost(Agent(client=NeverFailing(), name="fuzz"), channels=[ResponsesChannel()])
    with TestClient(host.app, raise_server_exceptions=False) as test_client:
        yield test_client


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(body=bodies)
def test_arbitrary_create_bodies_never_get_a_server_error(client: TestClient, body: Any) -> None:
    answer = client.post("/v1/responses", content=json.dumps(body), headers={"content-type": "application/json"})
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert set(answer.json()["error"]) == {"message", "type", "param", "code"}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    body=st.fixed_dictionaries(
        {}, optional={"items": st.lists(items | json_values, max_size=3) | json_values, "metadata": json_values}
    )
    | json_values
)
def test_arbitrary_conversation_bodies_never_get_a_server_error(client: TestClient, body: Any) -> None:
    created = client.post("/v1/conversations", content=json.dumps(body))
    assert created.status_code < 500, created.text
    if created.status_code == 200:
        conversation_id = created.json()["id"]
        added = client.post(f"/v1/conversations/{conversation_id}/items", content=json.dumps(body))
        updated = client.post(f"/v1/conversations/{conversation_id}", content=json.dumps(body))
        assert added.status_code < 500 and updated.status_code < 500


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    query=st.dictionaries(
        st.sampled_from(["limit", "order", "after", "stream", "starting_after"]), st.text(max_size=6), max_size=4
    )
)
def test_arbitrary_query_strings_never_get_a_server_error(client: TestClient, query: dict[str, str]) -> None:
    created = client.post("/v1/responses", json={"input": "hi"}).json()
    for path in (f"/v1/responses/{created['id']}", f"/v1/responses/{created['id']}/input_items"):
        assert client.get(path, params=query).status_code < 500
