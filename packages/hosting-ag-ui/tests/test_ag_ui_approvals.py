"""Human-in-the-loop: a server tool that needs the user's approval comes back as a tool call; the answer decides."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from ag_ui_helpers import DELETED, events_of, run_input, text_of, types_of, user  # noqa: E402


def run(client: Any, body: dict[str, Any]) -> list[Any]:
    response = client.post("/ag-ui", json=body)
    assert response.status_code == 200, response.text
    return events_of(response.text)


@pytest.mark.parametrize(("answer", "runs"), [("approved", True), ('{"approved": true}', True), ("no", False)])
def test_an_approval_is_asked_as_a_tool_call_and_the_answer_decides(serve: Any, answer: str, runs: bool) -> None:
    hosted = serve()
    DELETED.clear()
    asked = run(hosted.client, run_input("h", [user('call delete_file {"path": "/tmp/x"}', "u1")]))
    start = asked[types_of(asked).index("TOOL_CALL_START")]
    assert start.tool_call_name == "delete_file"
    assert asked[-1].result == {"pendingToolCalls": [start.tool_call_id], "pendingApprovals": [start.tool_call_id]}
    assert DELETED == [], "nothing runs before the user answers"
    reply = {"id": "a1", "role": "tool", "toolCallId": start.tool_call_id, "content": answer}
    decided = run(hosted.client, run_input("h", [reply], runId="r2"))
    assert types_of(decided)[-1] == "RUN_FINISHED"
    if runs:
        assert DELETED == ["/tmp/x"]
        result = decided[types_of(decided).index("TOOL_CALL_RESULT")]
        assert result.tool_call_id == start.tool_call_id and result.content == "deleted /tmp/x"
        assert text_of(decided) == "tool said: deleted /tmp/x"
    else:
        assert DELETED == []
        assert "deleted" not in text_of(decided)


@pytest.mark.parametrize(
    ("status", "payload", "runs"),
    [("resolved", {"approved": True}, True), ("resolved", {"approved": False}, False), ("cancelled", None, False)],
)
def test_an_approval_ends_the_run_with_an_interrupt_and_a_resume_answers_it(
    serve: Any, status: str, payload: Any, runs: bool
) -> None:
    hosted = serve()
    DELETED.clear()
    asked = run(hosted.client, run_input("i", [user('call delete_file {"path": "/tmp/y"}', "u1")]))
    finished = asked[-1]
    assert finished.outcome is not None and finished.outcome.type == "interrupt"
    [interrupt] = finished.outcome.interrupts
    start = asked[types_of(asked).index("TOOL_CALL_START")]
    assert interrupt.id == interrupt.tool_call_id == start.tool_call_id
    assert interrupt.reason == "tool_approval" and "delete_file" in interrupt.message and "/tmp/y" in interrupt.message
    assert interrupt.response_schema["required"] == ["approved"]
    resume = [{"interruptId": interrupt.id, "status": status, **({"payload": payload} if payload is not None else {})}]
    decided = run(hosted.client, run_input("i", [], runId="r2", resume=resume))
    assert decided[-1].outcome is None, "nothing is waiting any more"
    if runs:
        assert DELETED == ["/tmp/y"]
        assert text_of(decided) == "tool said: deleted /tmp/y"
    else:
        assert DELETED == []
        assert "deleted" not in text_of(decided)
    again = hosted.client.post("/ag-ui", json=run_input("i", [], runId="r3", resume=resume))
    assert again.status_code == 400 and again.json()["error"]["code"] == "invalid_resume", "answered once only"


def test_a_resume_of_an_interrupt_nobody_asked_is_a_400_and_runs_nothing(serve: Any) -> None:
    hosted = serve()
    resume = [{"interruptId": "call_404", "status": "resolved", "payload": {"approved": True}}]
    refused = hosted.client.post("/ag-ui", json=run_input("nothing", [user("hi", "u1")], resume=resume))
    assert refused.status_code == 400 and "call_404" in refused.json()["error"]["message"]
    assert hosted.model.calls == []
