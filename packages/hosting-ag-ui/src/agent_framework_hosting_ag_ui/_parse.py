"""Pure parsing: a request body into `RunAgentInput`, and the messages a thread has not seen into agent input."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any

from ag_ui.core import (
    AssistantMessage,
    ContentPart,
    DataSource,
    ImagePart,
    RunAgentInput,
    TextPart,
    Tool,
    ToolMessage,
    UrlSource,
    UserMessage,
)
from agent_framework import Content, FunctionTool, Message
from agent_framework_hosting.http import BadRequest
from pydantic import ValidationError

MAX_ID_LENGTH = 256
MAX_TOOLS = 128


def parse_input(payload: Any) -> RunAgentInput:
    """Validate a body against AG-UI's `RunAgentInput`; anything else is a 400 naming the first problem."""
    if not isinstance(payload, dict):
        raise BadRequest("body must be a RunAgentInput JSON object")
    try:
        run = RunAgentInput.model_validate(payload)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise BadRequest(f"invalid RunAgentInput at {where}: {first['msg']}", code="invalid_input") from None
    for name, value in (("threadId", run.thread_id), ("runId", run.run_id)):
        if not value or len(value) > MAX_ID_LENGTH:
            raise BadRequest(f"'{name}' must be 1 to {MAX_ID_LENGTH} characters", code="invalid_input")
    if run.tools and len(run.tools) > MAX_TOOLS:
        raise BadRequest(f"at most {MAX_TOOLS} tools", code="invalid_input")
    return run


def isolation_key(thread_id: str) -> str:
    """One AG-UI thread is one conversation of the host."""
    return f"ag-ui:{thread_id}"


def _part(part: ContentPart) -> Content | None:
    if isinstance(part, TextPart):
        return Content.from_text(part.text) if part.text else None
    source = getattr(part, "source", None)
    media_type = getattr(source, "mime_type", None) or getattr(part, "mime_type", None)
    if isinstance(source, UrlSource):
        return Content.from_uri(source.value, media_type=media_type)
    if isinstance(source, DataSource):
        try:
            data = base64.b64decode(source.value, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("a data part's value is not base64", code="invalid_input") from None
        return Content.from_data(data, media_type or "application/octet-stream")
    if isinstance(part, ImagePart):
        raise BadRequest("an image part needs a url or data source", code="invalid_input")
    return None


def _user(message: UserMessage) -> Message | None:
    if isinstance(message.content, str):
        contents = [Content.from_text(message.content)] if message.content else []
    else:
        contents = [c for c in (_part(part) for part in message.content) if c is not None]
    return Message(role="user", contents=contents, message_id=message.id) if contents else None


def _tool_text(message: ToolMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    return "".join(part.text for part in message.content if isinstance(part, TextPart))


APPROVALS = ("approved", "approve", "yes", "true", "ok", "allow")


def approved(text: str) -> bool:
    """A client's answer to an approval: ``{"approved": true}`` or a word such as "approved" or "yes"."""
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if isinstance(value, dict):
        value = value.get("approved")
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in APPROVALS


def _approval(message: ToolMessage, request: dict[str, Any]) -> Message:
    answer = _approval_answer(request, approved(_tool_text(message)))
    return Message(role="user", contents=[answer], message_id=message.id) if answer else _tool_result(message)


def _approval_answer(request: dict[str, Any], decision: bool) -> Content | None:
    asked = Content.from_dict(request)
    if asked.id is None or asked.function_call is None:
        return None
    return Content.from_function_approval_response(decision, asked.id, asked.function_call)


def resumed_approvals(run: RunAgentInput, approvals: dict[str, dict[str, Any]]) -> list[Message]:
    """The user's decisions in `RunAgentInput.resume` (interrupt id = the tool call id), as approval answers.

    ``resolved`` with a payload of ``{"approved": true}`` (or ``true``, or a word such as "approved")
    approves; anything else, ``cancelled`` included, declines. Answered approvals leave `approvals`.
    """
    answers: list[Content] = []
    for entry in run.resume or ():
        request = approvals.pop(entry.interrupt_id, None)
        if request is None:
            continue
        decision = entry.status == "resolved" and _approves(entry.payload)
        answer = _approval_answer(request, decision)
        if answer is not None:
            answers.append(answer)
    return [Message(role="user", contents=answers)] if answers else []


def unknown_interrupts(run: RunAgentInput, approvals: dict[str, dict[str, Any]]) -> list[str]:
    return [entry.interrupt_id for entry in run.resume or () if entry.interrupt_id not in approvals]


def _approves(payload: Any) -> bool:
    if isinstance(payload, bool):
        return payload
    if isinstance(payload, str):
        return approved(payload)
    return isinstance(payload, dict) and payload.get("approved") is True


def _tool_result(message: ToolMessage) -> Message:
    result: Any = _tool_text(message)
    content = Content.from_function_result(message.tool_call_id, result=result, exception=message.error or None)
    return Message(role="tool", contents=[content], message_id=message.id)


def _assistant(message: AssistantMessage, has_seen: Callable[[str], bool]) -> Message | None:
    contents: list[Content] = [Content.from_text(message.content)] if message.content else []
    for call in message.tool_calls or ():
        if not has_seen(f"call:{call.id}"):
            contents.append(Content.from_function_call(call.id, call.function.name, arguments=call.function.arguments))
    return Message(role="assistant", contents=contents, message_id=message.id) if contents else None


def unseen_messages(
    run: RunAgentInput, has_seen: Callable[[str], bool], approvals: dict[str, dict[str, Any]] | None = None
) -> tuple[list[Message], list[str]]:
    """The client's messages this thread has not seen, as agent input, and the ids they carry.

    User messages, tool results (front-end tool outputs) and, for a client that brings its own
    history, assistant messages. System, developer, activity and reasoning messages are not
    taken from clients. Tool calls the server sent itself (``call:<id>`` seen) are never added twice.
    """
    approvals = {} if approvals is None else approvals
    converted: list[Message] = []
    ids: dict[str, None] = {}
    for message in run.messages:
        if message.id in ids or has_seen(message.id):
            continue
        ids[message.id] = None
        if isinstance(message, UserMessage):
            item = _user(message)
        elif isinstance(message, ToolMessage) and message.tool_call_id in approvals:
            item = _approval(message, approvals.pop(message.tool_call_id))
        elif isinstance(message, ToolMessage):
            item = _tool_result(message)
        elif isinstance(message, AssistantMessage):
            item = _assistant(message, has_seen)
        else:
            item = None
        if item is not None:
            converted.append(item)
    return converted, list(ids)


def front_end_tools(tools: Sequence[Tool] | None) -> list[FunctionTool]:
    """The client's tools, declared to the model but never run by the server: their calls go back to the client."""
    declared: list[FunctionTool] = []
    for tool in tools or ():
        parameters = tool.parameters if isinstance(tool.parameters, dict) else {"type": "object", "properties": {}}
        declared.append(FunctionTool(name=tool.name, description=tool.description, func=None, input_model=parameters))
    return declared
