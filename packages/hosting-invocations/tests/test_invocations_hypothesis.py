"""Whatever a client sends, the answer is never a 5xx: a 4xx JSON error, a JSON answer, or a finished SSE stream."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
valid_ids = st.text(alphabet="abcXYZ09-_.:", min_size=1, max_size=12)
id_like = st.text(alphabet="abcXYZ09-_.:/ é", max_size=12)
fields = {
    "message": st.text(min_size=1, max_size=40) | json_values,
    "session_id": valid_ids | id_like | json_values,
    "stream": st.booleans() | json_values,
    "other": json_values,
}
well_formed = st.fixed_dictionaries(
    {"message": fields["message"]}, optional={k: v for k, v in fields.items() if k != "message"}
)
any_fields = st.fixed_dictionaries({}, optional=fields)
encoded = [kind.map(lambda value: json.dumps(value).encode()) for kind in (well_formed, any_fields, json_values)]
bodies = st.sampled_from([encoded[0], encoded[0], encoded[0], *encoded[1:], st.binary(max_size=120)]).flatmap(
    lambda kind: kind
)


def rarely(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """None three times in four, else a value from `strategy`."""
    return st.integers(0, 3).flatmap(lambda n: strategy if n == 0 else st.none())


queries = rarely(valid_ids | id_like)
invocation_ids = rarely(st.text(alphabet="abc019-_.: !~", max_size=10))

SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)


def _requests_failure(body: bytes) -> bool:
    """The offline model fails on purpose when the message contains "[fail]"; such a plain turn is a 500 by design."""
    try:
        payload = json.loads(body)
    except ValueError:
        return False
    return isinstance(payload, dict) and "[fail]" in json.dumps(payload.get("message"))


def post(client: Any, body: bytes, query: str | None, invocation_id: str | None) -> Any:
    params = {"agent_session_id": query} if query is not None else None
    headers = {"content-type": "application/json"}
    if invocation_id is not None:
        headers["x-agent-invocation-id"] = invocation_id
    return client.post("/invocations", content=body, params=params, headers=headers)


def check(response: Any) -> None:
    event(f"status {response.status_code}")
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        error = response.json()["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str)
    elif response.headers["content-type"].startswith("text/event-stream"):
        assert response.text.endswith("data: [DONE]\n\n")
    else:
        assert set(response.json()) == {"response", "session_id"}


def test_arbitrary_bodies_never_get_a_5xx_from_an_agent_target(serve: Any) -> None:
    client = serve().client

    @SETTINGS
    @given(bodies, queries, invocation_ids)
    def run(body: bytes, query: str | None, invocation_id: str | None) -> None:
        assume(not _requests_failure(body))
        check(post(client, body, query, invocation_id))

    run()


def test_arbitrary_bodies_never_get_a_5xx_from_a_typed_workflow_target(serve: Any, strings_only_workflow: Any) -> None:
    client = serve(strings_only_workflow).client

    @SETTINGS
    @given(bodies, queries)
    def run(body: bytes, query: str | None) -> None:
        check(post(client, body, query, None))

    run()
