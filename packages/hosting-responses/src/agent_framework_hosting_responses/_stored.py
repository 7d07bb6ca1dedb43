"""Stored responses as references: a record keeps what the conversation's history cannot give back.

A completed response's snapshot session (``response:<id>``) holds the turn's messages,
so its record keeps their ids and positions there instead of copies of their text:
an input item is ``[id, position]`` (a user message of text parts), the assistant's
output message ``[id, status, start, stop]`` (the text of the messages in that range),
and response fields equal to their defaults are left out. Every reference is checked
against the message it names when the record is made; an item that would not come
back exactly is kept whole. Reading a record back (`expand`) gives the same JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent_framework import Message

from ._render import message_item, usage_counts, usage_from_counts

VERSION = 2

#: The fields of a Response object in the order `response_object` writes them, each with the value
#: it has when the request left it unset (a compact record leaves those out). Required fields map to `_REQUIRED`.
_REQUIRED = object()
FIELDS: tuple[tuple[str, Any], ...] = (
    ("id", _REQUIRED),
    ("object", "response"),
    ("created_at", _REQUIRED),
    ("status", _REQUIRED),
    ("background", False),
    ("completed_at", None),
    ("conversation", None),
    ("error", None),
    ("incomplete_details", None),
    ("instructions", None),
    ("max_output_tokens", None),
    ("metadata", {}),
    ("model", _REQUIRED),
    ("output", []),
    ("parallel_tool_calls", True),
    ("previous_response_id", None),
    ("reasoning", None),
    ("safety_identifier", None),
    ("store", True),
    ("temperature", None),
    ("text", {"format": {"type": "text"}}),
    ("tool_choice", "auto"),
    ("tools", []),
    ("top_p", None),
    ("truncation", "disabled"),
    ("usage", None),
    ("user", None),
)
_NAMES = tuple(name for name, _ in FIELDS)


def _same(value: Any, default: Any) -> bool:
    """Equal as JSON (``True`` is not ``1`` here)."""
    return type(value) is type(default) and value == default


def is_compact(record: dict[str, Any]) -> bool:
    return record.get("v") == VERSION


def head(record: dict[str, Any]) -> dict[str, Any]:
    """A compact record's own fields filled in, without its history: id, status, key, snapshot (cheap)."""
    if not is_compact(record):
        return record
    response = record["response"]
    return {**record, "key": record.get("key") or f"response:{response['id']}", "snapshot": True}


def _input_ref(item: dict[str, Any], message: Message, position: int) -> list[Any] | None:
    """``[id, position]`` when the user message there gives this item back exactly."""
    if item.get("type") != "message" or item.get("role") != "user" or message.role != "user":
        return None
    contents = message.contents
    parts = item.get("content")
    if not isinstance(parts, list) or len(parts) != len(contents) or not parts:
        return None
    for part, content in zip(parts, contents, strict=True):
        if content.type != "text" or part != {"type": "input_text", "text": content.text}:
            return None
    if item != {"id": item["id"], "type": "message", "role": "user", "status": "completed", "content": parts}:
        return None
    return [item["id"], position]


def _user_item(item_id: str, message: Message) -> dict[str, Any]:
    content = [{"type": "input_text", "text": part.text} for part in message.contents]
    return {"id": item_id, "type": "message", "role": "user", "status": "completed", "content": content}


def _text(messages: Sequence[Message], start: int, stop: int) -> str:
    """The text of an agent's answer, joined as `AgentResponse.text` joins it."""
    return "".join(message.text for message in messages[start:stop])


_ITEM_KEYS = ("id", "type", "role", "status", "content")
_PART_KEYS = ("type", "text", "annotations", "logprobs")


def _output_ref(item: dict[str, Any], messages: Sequence[Message], start: int, stop: int) -> list[Any] | None:
    """``[id, status, start, stop]`` when the answer's messages give this output message back exactly.

    Checked field by field (what `message_item` writes, in its order) rather than by building the item again.
    """
    if tuple(item) != _ITEM_KEYS or item["type"] != "message" or item["role"] != "assistant":
        return None
    content = item["content"]
    if type(content) is not list or len(content) != 1 or type(content[0]) is not dict:
        return None
    part = content[0]
    if tuple(part) != _PART_KEYS or part["type"] != "output_text" or part["annotations"] != []:
        return None
    if part["logprobs"] != [] or type(item["status"]) is not str or type(item["id"]) is not str:
        return None
    if part["text"] != _text(messages, start, stop):
        return None
    return [item["id"], item["status"], start, stop]


def compact(
    record: dict[str, Any], items: Sequence[dict[str, Any]], messages: Sequence[Message], answer: int
) -> dict[str, Any] | None:
    """`record` as references into `messages` (the snapshot's history, ending with the turn's `answer` messages).

    `items` are the turn's own input items; they come just before the answer. None when the
    response was not made by `response_object` (nothing to gain, or a shape this cannot rebuild).
    """
    response = record["response"]
    if tuple(response) != _NAMES:
        return None
    stop = len(messages)
    start = stop - answer
    first = start - len(items)
    if answer < 0 or first < 0:
        return None
    # A comprehension over the fields, None defaults tested by identity first: this runs on every stored response.
    kept = {
        name: value
        for (name, default), value in zip(FIELDS, response.values(), strict=True)
        if not (value is None and default is None) and (default is _REQUIRED or not _same(value, default))
    }
    usage = response["usage"]
    if usage is not None:
        counts = usage_counts(usage)
        if counts is not None and all(type(count) is int for count in counts) and usage_from_counts(counts) == usage:
            kept["usage"] = counts
    if "output" in kept:
        output: list[Any] = []
        referred = False
        for item in kept["output"]:
            ref = None if referred or not answer else _output_ref(item, messages, start, stop)
            referred = referred or ref is not None
            output.append(item if ref is None else ref)
        kept["output"] = output
    inputs = [_input_ref(item, messages[first + index], first + index) or item for index, item in enumerate(items)]
    compacted: dict[str, Any] = {"v": VERSION, "response": kept, "input_items": inputs}
    key = record.get("key")
    if key != f"response:{response['id']}":
        compacted["key"] = key
    return compacted


def positions(record: dict[str, Any]) -> int:
    """How many history messages `expand` needs (0: none, the record holds everything)."""
    needed = 0
    for item in record["response"].get("output", ()):
        if isinstance(item, list):
            needed = max(needed, item[3])
    for item in record.get("input_items") or ():
        if isinstance(item, list):
            needed = max(needed, item[1] + 1)
    return needed


def expand(record: dict[str, Any], messages: Sequence[Message]) -> dict[str, Any]:
    """The full record (`response`, `key`, `snapshot`, `input_items`) a compact record stands for."""
    kept = record["response"]
    response: dict[str, Any] = {}
    for name, default in FIELDS:
        if name not in kept:
            response[name] = _fresh(default)
            continue
        value = kept[name]
        if name == "output":
            value = [
                message_item(item[0], _text(messages, item[2], item[3]), item[1]) if isinstance(item, list) else item
                for item in value
            ]
        elif name == "usage" and isinstance(value, list):
            value = usage_from_counts(value)
        response[name] = value
    inputs = [
        _user_item(item[0], messages[item[1]]) if isinstance(item, list) else item
        for item in record.get("input_items") or ()
    ]
    return {**head(record), "response": response, "input_items": inputs}


def _fresh(value: Any) -> Any:
    """A copy of a default's value (defaults are shared; callers may change what they get)."""
    if isinstance(value, dict):
        return {name: _fresh(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_fresh(item) for item in value]
    return value
