"""Pure rendering: the agent's streamed updates as AG-UI events (text messages, tool calls, tool results)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from ag_ui.core import (
    BaseEvent,
    Interrupt,
    ReasoningEncryptedValueEvent,
    ReasoningEndEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    RunErrorEvent,
    RunFinishedEvent,
    RunFinishedInterruptOutcome,
    RunStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
)
from agent_framework import AgentResponseUpdate, Content


def new_id() -> str:
    return uuid.uuid4().hex


def _arguments(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


APPROVAL_SCHEMA = {
    "type": "object",
    "properties": {"approved": {"type": "boolean", "description": "Whether the tool may run"}},
    "required": ["approved"],
}


def _interrupt(request: dict[str, Any]) -> Interrupt:
    """An approval the agent asks for, as an AG-UI interrupt answered by the tool call's id."""
    call = Content.from_dict(request).function_call
    call_id = str(call.call_id) if call is not None else ""
    name = (call.name if call is not None else None) or "a tool"
    arguments = _arguments(call.arguments) if call is not None else ""
    return Interrupt(
        id=call_id,
        reason="tool_approval",
        message=f"Allow {name} to run with {arguments or 'no arguments'}?",
        tool_call_id=call_id,
        response_schema=APPROVAL_SCHEMA,
    )


def result_text(content: Content) -> str:
    if content.exception:
        return f"error: {content.exception}"
    result = content.result
    return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)


class EventRenderer:
    """Turns one run's updates into AG-UI events, opening and closing messages and tool calls in order.

    `message_ids` and `call_ids` collect what the client will send back in its history, so the
    thread can recognise them as already seen.
    """

    def __init__(self, thread_id: str, run_id: str) -> None:
        self.thread_id = thread_id
        self.run_id = run_id
        self.message_ids: list[str] = []
        self.call_ids: list[str] = []
        self.pending_calls: list[str] = []
        self.approvals: dict[str, dict[str, Any]] = {}
        self._text_id: str | None = None
        self._reasoning_id: str | None = None
        self._parent_id: str | None = None
        self._open_calls: list[str] = []

    def started(self) -> list[BaseEvent]:
        return [RunStartedEvent(thread_id=self.thread_id, run_id=self.run_id)]

    def update(self, update: AgentResponseUpdate) -> list[BaseEvent]:
        events: list[BaseEvent] = []
        for content in update.contents or ():
            if content.type == "text_reasoning":
                events.extend(self._reasoning(content))
                continue
            events.extend(self._close_reasoning())
            if content.type == "text" and content.text:
                events.extend(self._close_calls())
                events.extend(self._text(content.text))
            elif content.type == "function_call" and content.call_id:
                events.extend(self._call(content))
            elif content.type == "function_result" and content.call_id:
                events.extend(self._close_calls())
                events.extend(self._result(content))
            elif content.type == "function_approval_request" and content.function_call is not None:
                events.extend(self._close_calls())
                self.approvals[str(content.function_call.call_id)] = content.to_dict()
        return events

    def _reasoning(self, content: Content) -> list[BaseEvent]:
        """The model's visible reasoning as a reasoning message; its encrypted form (if any) goes along opaquely."""
        events: list[BaseEvent] = []
        if self._reasoning_id is None:
            events.extend([*self._close_calls(), *self._close_text()])
            self._reasoning_id = new_id()
            self.message_ids.append(self._reasoning_id)
            events.append(ReasoningStartEvent(message_id=self._reasoning_id))
            events.append(ReasoningMessageStartEvent(message_id=self._reasoning_id, role="reasoning"))
        if content.text:
            events.append(ReasoningMessageContentEvent(message_id=self._reasoning_id, delta=content.text))
        if content.protected_data:
            events.append(
                ReasoningEncryptedValueEvent(
                    subtype="message", entity_id=self._reasoning_id, encrypted_value=content.protected_data
                )
            )
        return events

    def _close_reasoning(self) -> list[BaseEvent]:
        if self._reasoning_id is None:
            return []
        ended, self._reasoning_id = self._reasoning_id, None
        return [ReasoningMessageEndEvent(message_id=ended), ReasoningEndEvent(message_id=ended)]

    def _text(self, delta: str) -> list[BaseEvent]:
        events: list[BaseEvent] = []
        if self._text_id is None:
            self._text_id = self._parent_id = new_id()
            self.message_ids.append(self._text_id)
            events.append(TextMessageStartEvent(message_id=self._text_id, role="assistant"))
        events.append(TextMessageContentEvent(message_id=self._text_id, delta=delta))
        return events

    def _close_text(self) -> list[BaseEvent]:
        if self._text_id is None:
            return []
        ended, self._text_id = self._text_id, None
        return [TextMessageEndEvent(message_id=ended)]

    def _call(self, content: Content) -> list[BaseEvent]:
        call_id = str(content.call_id)
        arguments = _arguments(content.arguments)
        events: list[BaseEvent] = []
        if call_id not in self.call_ids:
            events.extend(self._close_text())
            if self._parent_id is None:
                self._parent_id = new_id()
                self.message_ids.append(self._parent_id)
            self.call_ids.append(call_id)
            self.pending_calls.append(call_id)
            self._open_calls.append(call_id)
            events.append(
                ToolCallStartEvent(
                    tool_call_id=call_id, tool_call_name=content.name or "", parent_message_id=self._parent_id
                )
            )
        if arguments and call_id in self._open_calls:
            events.append(ToolCallArgsEvent(tool_call_id=call_id, delta=arguments))
        return events

    def _close_calls(self) -> list[BaseEvent]:
        ended, self._open_calls = self._open_calls, []
        return [ToolCallEndEvent(tool_call_id=call_id) for call_id in ended]

    def _result(self, content: Content) -> list[BaseEvent]:
        call_id = str(content.call_id)
        if call_id in self.pending_calls:
            self.pending_calls.remove(call_id)
        message_id = new_id()
        self.message_ids.append(message_id)
        self._parent_id = None
        return [
            ToolCallResultEvent(message_id=message_id, tool_call_id=call_id, content=result_text(content), role="tool")
        ]

    def finished(self) -> list[BaseEvent]:
        """Close what is open and finish; calls still pending are the client's to run (front-end tools)."""
        events = [*self._close_reasoning(), *self._close_calls(), *self._close_text()]
        result: dict[str, list[str]] | None = None
        outcome: RunFinishedInterruptOutcome | None = None
        if self.pending_calls:
            result = {"pendingToolCalls": list(self.pending_calls)}
            if self.approvals:
                result["pendingApprovals"] = list(self.approvals)
                outcome = RunFinishedInterruptOutcome(interrupts=[_interrupt(a) for a in self.approvals.values()])
        events.append(RunFinishedEvent(thread_id=self.thread_id, run_id=self.run_id, result=result, outcome=outcome))
        return events

    def failed(self, message: str, code: str) -> list[BaseEvent]:
        closed = [*self._close_reasoning(), *self._close_calls(), *self._close_text()]
        return [*closed, RunErrorEvent(message=message, code=code)]
