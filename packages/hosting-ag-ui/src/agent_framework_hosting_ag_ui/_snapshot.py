"""Pure conversion: a conversation's history as AG-UI messages, for `MESSAGES_SNAPSHOT`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ag_ui.core import AssistantMessage, FunctionCall, ToolCall, ToolMessage, UserMessage
from agent_framework import Message

from ._events import result_text

SnapshotMessage = UserMessage | AssistantMessage | ToolMessage


def _arguments(value: Any) -> str:
    if value is None:
        return "{}"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _assistant(message: Message, message_id: str) -> AssistantMessage | None:
    calls = [
        ToolCall(id=str(c.call_id), function=FunctionCall(name=c.name or "", arguments=_arguments(c.arguments)))
        for c in message.contents
        if c.type == "function_call" and c.call_id
    ]
    text = "".join(c.text or "" for c in message.contents if c.type == "text")
    if not text and not calls:
        return None
    return AssistantMessage(id=message_id, content=text or None, tool_calls=calls or None)


def snapshot_messages(history: Sequence[Message]) -> list[SnapshotMessage]:
    """User text, assistant text and tool calls, and tool results, in order; ids are stable across snapshots.

    A message keeps its own id (the client's, for the messages it sent); one without gets ``h<index>``.
    System messages and approval requests and answers are not shown.
    """
    shown: list[SnapshotMessage] = []
    for index, message in enumerate(history):
        message_id = message.message_id or f"h{index}"
        if message.role == "user":
            text = "".join(c.text or "" for c in message.contents if c.type == "text")
            if text:
                shown.append(UserMessage(id=message_id, content=text))
        elif message.role == "assistant":
            assistant = _assistant(message, message_id)
            if assistant is not None:
                shown.append(assistant)
        elif message.role == "tool":
            results = [c for c in message.contents if c.type == "function_result" and c.call_id]
            for number, content in enumerate(results):
                result_id = message_id if len(results) == 1 else f"{message_id}.{number}"
                shown.append(ToolMessage(id=result_id, tool_call_id=str(content.call_id), content=result_text(content)))
    return shown
