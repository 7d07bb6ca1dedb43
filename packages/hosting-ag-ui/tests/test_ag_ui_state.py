"""Shared state: JSON Patch on the state (pure), and the agent changing it through its tool, sent as STATE_DELTA."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import pytest
from agent_framework_hosting_ag_ui._patch import PatchError, apply_patch

sys.path.insert(0, os.path.dirname(__file__))
from ag_ui_helpers import events_of, run_input, text_of, types_of, user  # noqa: E402


@pytest.mark.parametrize(
    ("operations", "expected"),
    [
        ([{"op": "add", "path": "/todo/-", "value": "eggs"}], {"todo": ["milk", "eggs"], "n": 1}),
        ([{"op": "add", "path": "/todo/0", "value": "tea"}], {"todo": ["tea", "milk"], "n": 1}),
        ([{"op": "replace", "path": "/n", "value": 2}], {"todo": ["milk"], "n": 2}),
        ([{"op": "remove", "path": "/todo/0"}], {"todo": [], "n": 1}),
        ([{"op": "add", "path": "/a~1b", "value": True}], {"todo": ["milk"], "n": 1, "a/b": True}),
        ([{"op": "replace", "path": "", "value": {"fresh": 1}}], {"fresh": 1}),
    ],
)
def test_patch_operations(operations: list[Any], expected: Any) -> None:
    state = {"todo": ["milk"], "n": 1}
    assert apply_patch(state, operations) == expected
    assert state == {"todo": ["milk"], "n": 1}, "the input is not changed"


@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "move", "path": "/n", "from": "/m"}],
        [{"op": "replace", "path": "/missing", "value": 1}],
        [{"op": "remove", "path": "/todo/5"}],
        [{"op": "add", "path": "no-slash", "value": 1}],
        [{"op": "add", "path": "/n/deeper", "value": 1}],
        [{"op": "add", "path": "/x"}],
        ["not an object"],
        [{"op": "add", "path": "/ok", "value": 1}, {"op": "remove", "path": "/nope"}],
    ],
)
def test_bad_patches_are_refused_whole(operations: list[Any]) -> None:
    with pytest.raises(PatchError):
        apply_patch({"todo": ["milk"], "n": 1}, operations)


def run(client: Any, body: dict[str, Any]) -> list[Any]:
    response = client.post("/ag-ui", json=body)
    assert response.status_code == 200, response.text
    return events_of(response.text)


def test_the_agent_changes_the_shared_state_and_the_client_gets_a_delta(serve: Any) -> None:
    hosted = serve()
    patch = [{"op": "add", "path": "/todo/-", "value": "eggs"}]
    ask = user("call update_state " + json.dumps({"patch": patch}), "u1")
    events = run(hosted.client, run_input("s", [ask], state={"todo": ["milk"]}))
    kinds = types_of(events)
    assert kinds[:2] == ["RUN_STARTED", "STATE_SNAPSHOT"] and events[1].snapshot == {"todo": ["milk"]}
    delta = events[kinds.index("STATE_DELTA")]
    assert [op.model_dump(by_alias=True, exclude_none=True) for op in delta.delta] == patch
    assert kinds.index("TOOL_CALL_START") < kinds.index("STATE_DELTA") < kinds.index("TEXT_MESSAGE_START")
    assert text_of(events) == "tool said: the shared state was updated"
    later = run(hosted.client, run_input("s", [user("and now?", "u2")], runId="r2"))
    assert later[1].snapshot == {"todo": ["milk", "eggs"]}


def test_a_bad_patch_changes_nothing_and_the_agent_hears_why(serve: Any) -> None:
    hosted = serve()
    ask = user("call update_state " + json.dumps({"patch": [{"op": "remove", "path": "/nope"}]}), "u1")
    events = run(hosted.client, run_input("b", [ask], state={"todo": ["milk"]}))
    assert "STATE_DELTA" not in types_of(events)
    assert types_of(events)[-1] == "RUN_FINISHED"
    later = run(hosted.client, run_input("b", [user("again", "u2")], runId="r2"))
    assert later[1].snapshot == {"todo": ["milk"]}


def test_without_state_there_is_no_state_tool(serve: Any) -> None:
    hosted = serve()
    events = run(hosted.client, run_input("n", [user("call update_state {}", "u1")]))
    assert "STATE_DELTA" not in types_of(events)
    assert "STATE_SNAPSHOT" not in types_of(events)
