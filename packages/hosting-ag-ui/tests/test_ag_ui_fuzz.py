"""Whatever a client posts: a 4xx JSON error, or a valid AG-UI event stream that ends properly; never a 5xx."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator

import pytest
from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting_ag_ui import AGUIChannel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

sys.path.insert(0, os.path.dirname(__file__))
from ag_ui_helpers import ToolModel, events_of, types_of  # noqa: E402


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    host = AgentFrameworkHost(Agent(client=ToolModel(), name="echo"), channels=[AGUIChannel(max_body_bytes=8192)])
    with TestClient(host.app) as test_client:
        yield test_client


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
ids = st.text(alphabet="abc123-", min_size=0, max_size=6) | json_values
parts = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "image", "binary", "x"]) | json_values},
        optional={
            "text": st.text(max_size=10) | json_values,
            "source": st.fixed_dictionaries({"type": st.sampled_from(["url", "data"]), "value": st.text(max_size=12)})
            | json_values,
        },
    ),
    max_size=3,
)
messages = st.lists(
    st.fixed_dictionaries(
        {
            "id": ids,
            "role": st.sampled_from(["user", "assistant", "tool", "system", "developer", "reasoning", "x"])
            | json_values,
        },
        optional={
            "content": st.text(max_size=20) | parts | json_values,
            "toolCallId": ids,
            "toolCalls": st.lists(
                st.fixed_dictionaries(
                    {
                        "id": ids,
                        "type": st.just("function"),
                        "function": st.fixed_dictionaries(
                            {"name": st.text(max_size=6), "arguments": st.text(max_size=10)}
                        ),
                    }
                ),
                max_size=2,
            )
            | json_values,
        },
    ),
    max_size=4,
)
tools = st.lists(
    st.fixed_dictionaries(
        {"name": st.text(max_size=8) | json_values, "description": st.text(max_size=8) | json_values},
        optional={"parameters": json_values},
    ),
    max_size=2,
)
inputs = st.fixed_dictionaries(
    {"threadId": ids, "runId": ids, "messages": messages | json_values},
    optional={
        "state": json_values,
        "tools": tools | json_values,
        "context": st.just([]) | json_values,
        "forwardedProps": json_values,
        "resume": st.lists(
            st.fixed_dictionaries(
                {"interruptId": ids, "status": st.sampled_from(["resolved", "cancelled", "x"]) | json_values},
                optional={"payload": json_values},
            ),
            max_size=2,
        )
        | json_values,
    },
)
bodies = st.one_of(
    inputs.map(lambda v: json.dumps(v).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=60),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(body=bodies)
def test_fuzz_never_a_server_error(client: TestClient, body: bytes) -> None:
    response = client.post("/ag-ui", content=body, headers={"content-type": "application/json"})
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["error"]["message"]
        return
    events = events_of(response.text)
    kinds = types_of(events)
    assert kinds[0] == "RUN_STARTED"
    assert kinds[-1] in ("RUN_FINISHED", "RUN_ERROR")
    if kinds[-1] == "RUN_ERROR":
        assert events[-1].code != "agent_error" or "[fail]" in body.decode("utf-8", "replace"), events[-1]


def test_an_oversized_body_is_refused(client: TestClient) -> None:
    body = {"threadId": "t", "runId": "r", "messages": [{"id": "u", "role": "user", "content": "x" * 9000}]}
    assert client.post("/ag-ui", json=body).status_code == 413
