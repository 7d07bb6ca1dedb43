"""Pure rendering of Responses API objects: results in, wire JSON out."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ._ids import new_id
from ._parse import CreateParams, ListQuery

TERMINAL_STATUSES = ("completed", "failed", "cancelled", "incomplete")
FAILED_MESSAGE = "The agent failed to produce a response."
INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


# agent-framework's usage details, in `usage_from_counts` order.
_USAGE_DETAILS = (
    "input_token_count",
    "cache_read_input_token_count",
    "cache_creation_input_token_count",
    "output_token_count",
    "reasoning_output_token_count",
    "total_token_count",
)


def usage_object(details: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """OpenAI usage from agent-framework usage details, or None when the agent reported none."""
    if not details:
        return None
    counts = [_count(details.get(name)) for name in _USAGE_DETAILS]
    counts[5] = counts[5] or counts[0] + counts[3]
    return usage_from_counts(counts)


def _count(value: Any) -> int:
    if type(value) is int:  # the usual count, without the checks below
        return value
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def usage_from_counts(counts: Sequence[int]) -> dict[str, Any]:
    """OpenAI usage from its six counts: input, cached, cache write, output, reasoning, total."""
    input_tokens, cached, cache_write, output_tokens, reasoning, total = counts
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": cache_write},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": total,
    }


def usage_counts(usage: Mapping[str, Any]) -> list[int] | None:
    """The six counts of a usage object `usage_from_counts` made (None for any other shape)."""
    try:
        return [
            usage["input_tokens"],
            usage["input_tokens_details"]["cached_tokens"],
            usage["input_tokens_details"]["cache_write_tokens"],
            usage["output_tokens"],
            usage["output_tokens_details"]["reasoning_tokens"],
            usage["total_tokens"],
        ]
    except (KeyError, TypeError):
        return None


def output_text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(item_id: str, text: str | None, status: str) -> dict[str, Any]:
    """An assistant message item; `text=None` gives one with no content part yet."""
    content = [] if text is None else [output_text_part(text)]
    return {"id": item_id, "type": "message", "role": "assistant", "status": status, "content": content}


def _arguments(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def pending_calls(result: Any) -> list[dict[str, Any]]:
    """Function calls in an agent response that nothing answered: the client must run them."""
    messages = getattr(result, "messages", None) or ()
    contents = [content for message in messages for content in getattr(message, "contents", ())]
    answered = {content.call_id for content in contents if content.type == "function_result"}
    return [
        {
            "id": new_id("fc"),
            "type": "function_call",
            "call_id": content.call_id,
            "name": content.name or "",
            "arguments": _arguments(content.arguments),
            "status": "completed",
        }
        for content in contents
        if content.type == "function_call" and content.call_id and content.call_id not in answered
    ]


def output_items(
    text: str,
    calls: Sequence[dict[str, Any]],
    *,
    message_id: str,
    message_started: bool = False,
    status: str = "completed",
) -> list[dict[str, Any]]:
    """The output list: the assistant message (first, when there is one), then pending function calls."""
    items: list[dict[str, Any]] = []
    if message_started or text or not calls:
        items.append(message_item(message_id, text, status))
    items.extend(calls)
    return items


def completion_status(result: Any) -> tuple[str, dict[str, Any] | None]:
    """`completed`, or `incomplete` with its reason when the model stopped early."""
    finish = getattr(result, "finish_reason", None)
    reason = INCOMPLETE_REASONS.get(str(finish)) if finish is not None else None
    return ("incomplete", {"reason": reason}) if reason else ("completed", None)


def failure(message: str = FAILED_MESSAGE) -> dict[str, Any]:
    return {"code": "server_error", "message": message}


def response_object(
    *,
    response_id: str,
    created_at: int,
    status: str,
    model: str,
    params: CreateParams,
    output: list[dict[str, Any]] | None = None,
    usage: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    incomplete_details: dict[str, Any] | None = None,
    conversation_id: str | None = None,
    completed_at: int | None = None,
) -> dict[str, Any]:
    """A Response object; settings are echoed as the caller sent them, whether or not they reach the agent."""
    fields = params.fields  # read directly (it never holds None): this runs for every response
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": params.background,
        "completed_at": completed_at,
        "conversation": {"id": conversation_id} if conversation_id else None,
        "error": error,
        "incomplete_details": incomplete_details,
        "instructions": fields.get("instructions"),
        "max_output_tokens": fields.get("max_output_tokens"),
        "metadata": dict(params.metadata),
        "model": model,
        "output": output or [],
        "parallel_tool_calls": fields.get("parallel_tool_calls", True),
        "previous_response_id": params.previous_response_id,
        "reasoning": fields.get("reasoning"),
        "safety_identifier": fields.get("safety_identifier"),
        "store": params.store,
        "temperature": fields.get("temperature"),
        "text": {"format": {"type": "text"}},
        "tool_choice": fields.get("tool_choice", "auto"),
        "tools": fields.get("tools", []),
        "top_p": fields.get("top_p"),
        "truncation": fields.get("truncation", "disabled"),
        "usage": usage,
        "user": fields.get("user"),
    }


def list_page(items: Sequence[dict[str, Any]], query: ListQuery) -> dict[str, Any] | None:
    """One page of `items` (stored oldest first); None when `after` names no item."""
    ordered = list(items) if query.order == "asc" else list(reversed(items))
    start = 0
    if query.after is not None:
        ids = [item.get("id") for item in ordered]
        if query.after not in ids:
            return None
        start = ids.index(query.after) + 1
    data = ordered[start : start + query.limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": start + query.limit < len(ordered),
    }


def item_list(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """All of `items` as one list object (what adding conversation items answers)."""
    return {
        "object": "list",
        "data": list(items),
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": False,
    }


def conversation_object(conversation_id: str, created_at: int, metadata: Mapping[str, str]) -> dict[str, Any]:
    return {"id": conversation_id, "object": "conversation", "created_at": created_at, "metadata": dict(metadata)}


def deleted(identifier: str, kind: str) -> dict[str, Any]:
    return {"id": identifier, "object": kind, "deleted": True}
