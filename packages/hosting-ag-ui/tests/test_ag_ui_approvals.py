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
