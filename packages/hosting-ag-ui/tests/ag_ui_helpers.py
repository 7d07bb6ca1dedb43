"""Helpers for the AG-UI tests: a model that calls tools, and an SSE reader that validates every event."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from ag_ui.core import Event
from agent_framework import ChatResponseUpdate, Content, tool
from agent_framework import Message as AgentMessage
from agent_framework_hosting.testing import CountingChatClient
from pydantic import TypeAdapter

EVENT = TypeAdapter(Event)
DELETED: list[str] = []


@tool(approval_mode="always_require")
def delete_file(path: str) -> str:
    """Delete a file (only with the user's approval)."""
    DELETED.append(path)
    return f"deleted {path}"


class ToolModel(CountingChatClient):
    """The offline echo model, plus: ``call <tool> <json>`` makes it call that tool; a tool result it reports;
    ``think ...`` streams reasoning (and an encrypted reasoning value) before the answer."""

    async def _answer_stream(
        self, messages: Sequence[AgentMessage], step: Content | None = None
    ) -> AsyncIterator[ChatResponseUpdate]:
        last = messages[-1]
        results = [c for c in last.contents if c.type == "function_result"]
        if results:
            self.calls.append(list(messages))
            yield ChatResponseUpdate(role="assistant", contents=[Content.from_text(f"tool said: {results[0].result}")])
            return
        if last.role == "user" and last.text.startswith("think "):
            for piece in ("Let me ", "think about ", last.text[len("think ") :]):
                yield ChatResponseUpdate(role="assistant", contents=[Content.from_text_reasoning(text=piece)])
            yield ChatResponseUpdate(
                role="assistant", contents=[Content.from_text_reasoning(protected_data="c2VjcmV0LXRob3VnaHRz")]
            )
        if last.role == "user" and last.text.startswith("call "):
            self.calls.append(list(messages))
            _, name, arguments = last.text.split(" ", 2)
            call = Content.from_function_call(f"call_{len(self.calls)}", name, arguments=arguments)
            yield ChatResponseUpdate(role="assistant", contents=[call], finish_reason="tool_calls")
            return
        async for update in super()._answer_stream(messages, step):
            yield update


def events_of(body: str) -> list[Any]:
    """Every `data:` frame of an SSE body, validated as an AG-UI event by the protocol's own models."""
    # Only "\n" ends an SSE line: JSON may hold U+2028 or \x85 raw, which str.splitlines() would split on.
    lines = (line.rstrip("\r") for line in body.split("\n"))
    frames = [line[len("data: ") :] for line in lines if line.startswith("data: ")]
    return [EVENT.validate_python(json.loads(frame)) for frame in frames]


def types_of(events: list[Any]) -> list[str]:
    return [event.type.value if hasattr(event.type, "value") else str(event.type) for event in events]


def text_of(events: list[Any]) -> str:
    return "".join(event.delta for event in events if types_of([event]) == ["TEXT_MESSAGE_CONTENT"])


def run_input(thread: str, messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "threadId": thread,
        "runId": extra.pop("runId", "r1"),
        "state": extra.pop("state", None),
        "messages": messages,
        "tools": extra.pop("tools", []),
        "context": [],
        "forwardedProps": {},
        **extra,
    }


def user(text: str, message_id: str) -> dict[str, Any]:
    return {"id": message_id, "role": "user", "content": text}
