"""The approval question and the user's answer, as pure conversions."""

from __future__ import annotations

from typing import Any

import pytest
from a2a.types import Message, Part, Role
from a2a.utils.errors import InvalidParamsError
from agent_framework import AgentResponse, Content
from agent_framework import Message as AgentMessage
from agent_framework_hosting_a2a._input import approval_reply, approval_requests, question
from google.protobuf.json_format import MessageToDict


def request(call_id: str, name: str = "delete_file") -> Content:
    call = Content.from_function_call(call_id, name, arguments='{"path": "/x"}')
    return Content.from_function_approval_request(f"req_{call_id}", call)


def pending(*requests: Content) -> dict[str, dict[str, Any]]:
    return {str(item.id): item.to_dict() for item in requests}


def answer(*parts: Part, role: Role = Role.ROLE_USER) -> Message:
    return Message(message_id="m", role=role, parts=list(parts))


def data(value: dict[str, Any]) -> Part:
    part = Part()
    part.data.struct_value.update(value)
    return part


def test_requests_are_found_in_the_turns_result_and_asked_as_text_and_data() -> None:
    asked = [request("a"), request("b", "send_mail")]
    response = AgentResponse(messages=[AgentMessage(role="assistant", contents=[Content.from_text("Sure."), *asked])])
    found = approval_requests(response)
    assert [item.id for item in found] == ["req_a", "req_b"]
    message = question("Sure.", found, task_id="t", context_id="c")
    assert message.role == Role.ROLE_AGENT and message.task_id == "t"
    assert message.parts[0].text.startswith("Sure.") and "delete_file, send_mail" in message.parts[0].text
    assert [MessageToDict(part.data)["approvalRequest"]["name"] for part in message.parts[1:]] == [
        "delete_file",
        "send_mail",
    ]
    assert MessageToDict(message.parts[1].data)["approvalRequest"]["arguments"] == {"path": "/x"}
    assert approval_requests(AgentResponse(messages=[AgentMessage(role="assistant", contents=["plain"])])) == []


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ([Part(text="yes")], {"req_a": True, "req_b": True}),
        ([Part(text="No.")], {"req_a": False, "req_b": False}),
        ([data({"approved": True})], {"req_a": True, "req_b": True}),
        ([data({"approvals": {"req_a": True, "req_b": False}})], {"req_a": True, "req_b": False}),
        ([Part(text="no"), data({"approvals": {"req_b": True}})], {"req_a": False, "req_b": True}),
    ],
    ids=["yes", "no", "data for all", "per id", "text default and one id"],
)
def test_an_answer_decides_each_pending_request(parts: list[Part], expected: dict[str, bool]) -> None:
    reply = approval_reply(answer(*parts), pending(request("a"), request("b")))
    decided = {item.id: item.approved for item in reply.contents}
    assert reply.role == "user" and decided == expected
    assert all(item.type == "function_approval_response" and item.function_call for item in reply.contents)


@pytest.mark.parametrize(
    "message",
    [
        answer(Part(text="perhaps")),
        answer(data({"approvals": {"req_a": True}})),
        answer(data({"approved": "sure thing"})),
        answer(Part(text="yes"), role=Role.ROLE_AGENT),
    ],
    ids=["unclear words", "one id of two", "unclear data", "agent role"],
)
def test_an_answer_that_leaves_a_request_undecided_is_invalid_params(message: Message) -> None:
    with pytest.raises(InvalidParamsError):
        approval_reply(message, pending(request("a"), request("b")))
