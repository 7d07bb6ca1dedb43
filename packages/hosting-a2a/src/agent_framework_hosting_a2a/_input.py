"""Tasks that wait for the user: a tool approval the agent asks for, and the user's answer that continues the task.

Pure: a turn's result in, the `input-required` status message out; the follow-up A2A message in,
the Agent Framework approval responses out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from a2a.types import InvalidParamsError, Message, Part, Role
from agent_framework import Content
from agent_framework import Message as AgentMessage
from google.protobuf.json_format import MessageToDict

from ._convert import new_id

APPROVE_WORDS = frozenset({"approve", "approved", "yes", "y", "ok", "allow", "true"})
REJECT_WORDS = frozenset({"reject", "rejected", "deny", "denied", "no", "n", "false"})
Pending = dict[str, dict[str, Any]]
TurnInput = AgentMessage | str  # a workflow's pending request takes the answer as plain text


def approval_requests(result: Any) -> list[Content]:
    """The function approval requests in a turn's result (an `AgentResponse`), in order."""
    messages = getattr(result, "messages", None) or ()
    return [
        content
        for message in messages
        for content in message.contents
        if content.type == "function_approval_request" and content.id and content.function_call is not None
    ]


def workflow_requests(result: Any) -> list[str]:
    """The ids of the `request_info` requests a workflow run (a `WorkflowRunResult`) waits on."""
    events = getattr(result, "get_request_info_events", None)
    return [str(event.request_id) for event in events()] if callable(events) else []


def workflow_question(text: str, request_ids: list[str], *, task_id: str, context_id: str) -> Message:
    """The `input-required` message of a waiting workflow: its request, then the request ids as data."""
    part = Part()
    part.data.struct_value.update({"inputRequest": {"ids": list(request_ids)}})
    parts = [Part(text=text or "The workflow waits for your answer."), part]
    return Message(message_id=new_id(), role=Role.ROLE_AGENT, parts=parts, task_id=task_id, context_id=context_id)


def answer_text(message: Message) -> str:
    """The text of the user's answer to a workflow's request."""
    if message.role != Role.ROLE_USER:
        raise InvalidParamsError(message="message.role must be ROLE_USER")
    text = "\n".join(part.text for part in message.parts if part.WhichOneof("content") == "text").strip()
    if not text:
        raise InvalidParamsError(message="the task waits for an answer: send it as a text part")
    return text


def waits_for_workflow(pending: Pending) -> bool:
    """Whether a task waits on a workflow's requests (answered by a plain message), not on approvals."""
    return bool(pending) and all(value.get("workflow_request") is True for value in pending.values())


def _arguments(call: Content) -> Any:
    arguments = call.arguments
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return dict(arguments) if isinstance(arguments, Mapping) else arguments


def question(text: str, requests: list[Content], *, task_id: str, context_id: str) -> Message:
    """The agent's `input-required` message: what it said, then one data part per approval it needs."""
    names = ", ".join(str(request.function_call.name) for request in requests if request.function_call is not None)
    ask = f'Approve calling {names}? Answer yes or no (or data {{"approved": true}}, per id under "approvals").'
    parts = [Part(text=f"{text}\n\n{ask}" if text else ask)]
    for request in requests:
        call = request.function_call
        assert call is not None
        part = Part()
        part.data.struct_value.update(
            {"approvalRequest": {"id": request.id, "name": call.name, "arguments": _arguments(call)}}
        )
        parts.append(part)
    return Message(message_id=new_id(), role=Role.ROLE_AGENT, parts=parts, task_id=task_id, context_id=context_id)


def _decision(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().strip(".!").lower()
        return True if word in APPROVE_WORDS else False if word in REJECT_WORDS else None
    return None


def _decisions(message: Message, pending: Pending) -> dict[str, bool]:
    """Each pending id's decision: per id (data ``{"approvals": {id: bool}}``), else one for all (data
    ``{"approved": bool}`` or a text part such as "yes" / "no")."""
    everything: bool | None = None
    each: dict[str, bool] = {}
    for part in message.parts:
        kind = part.WhichOneof("content")
        if kind == "text":
            everything = _decision(part.text) if everything is None else everything
        elif kind == "data":
            data = MessageToDict(part.data)
            if not isinstance(data, dict):
                continue
            if "approved" in data and _decision(data["approved"]) is not None:
                everything = _decision(data["approved"])
            approvals = data.get("approvals")
            if isinstance(approvals, dict):
                each.update({key: value for key, value in approvals.items() if isinstance(value, bool)})
    decided = {key: each.get(key, everything) for key in pending}
    missing = [key for key, value in decided.items() if value is None]
    if missing:
        raise InvalidParamsError(
            message=f"The task waits for approval of {', '.join(missing)}: answer yes or no, "
            'or send data {"approved": true|false} or {"approvals": {"<id>": true|false}}'
        )
    return {key: bool(value) for key, value in decided.items()}


def approval_reply(message: Message, pending: Pending) -> AgentMessage:
    """The user's answer to the pending approvals, as the Agent Framework message that continues the run."""
    if message.role != Role.ROLE_USER:
        raise InvalidParamsError(message="message.role must be ROLE_USER")
    contents = []
    for key, approved in _decisions(message, pending).items():
        asked = Content.from_dict(pending[key])
        assert asked.function_call is not None
        contents.append(Content.from_function_approval_response(approved, key, asked.function_call))
    return AgentMessage(role="user", contents=contents)
