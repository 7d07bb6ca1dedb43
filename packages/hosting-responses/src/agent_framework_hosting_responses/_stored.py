"""Stored responses as pointers into history: a record keeps what the conversation's history cannot give back.

A completed response's record (version 3) points at the turn's session as the host stored it
(``"s"``: a `ChannelContext.session_reference`, the messages by list and position) instead of
copying its messages or keeping a session of its own: forks share the history they have in
common. ``"n"`` is the end of the answer there, ``"a"`` how many messages it took (default 1);
the turn's input items come just before it. An input item is its id alone (a user message of
text parts), the assistant's output message its id (``[id, status]`` unless completed, its text
the answer's), and response fields are kept under short names, those equal to their defaults
left out (the id is the record's key). Every reference is checked against the message it names
when the record is made; an item that would not come back exactly is kept whole. Reading a
record back (`expand`) gives the same JSON.

Version 2 records (a snapshot session of their own under ``response:<id>``, long field names,
items as ``[id, position]`` and ``[id, status, start, stop]``) are still read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent_framework import Message

from ._render import message_item, usage_counts, usage_from_counts

VERSION = 3
OLD_VERSION = 2

#: The fields of a Response object in the order `response_object` writes them, each with its short name in a
#: record and the value it has when the request left it unset (left out of a record). Required: `_REQUIRED`.
_REQUIRED = object()
FIELDS: tuple[tuple[str, str, Any], ...] = (
    ("id", "", _REQUIRED),
    ("object", "ob", "response"),
    ("created_at", "c", _REQUIRED),
    ("status", "x", "completed"),
    ("background", "bg", False),
    ("completed_at", "d", None),  # kept as seconds after created_at
    ("conversation", "cv", None),
    ("error", "er", None),
    ("incomplete_details", "ic", None),
    ("instructions", "in", None),
    ("max_output_tokens", "mo", None),
    ("metadata", "md", {}),
    ("model", "m", _REQUIRED),
    ("output", "o", []),
    ("parallel_tool_calls", "pt", True),
    ("previous_response_id", "p", None),
    ("reasoning", "rs", None),
    ("safety_identifier", "si", None),
    ("store", "sr", True),
    ("temperature", "t", None),
    ("text", "tx", {"format": {"type": "text"}}),
    ("tool_choice", "tc", "auto"),
    ("tools", "tl", []),
    ("top_p", "tp", None),
    ("truncation", "tr", "disabled"),
    ("usage", "u", None),
    ("user", "us", None),
)
_NAMES = tuple(name for name, _, _ in FIELDS)
_SHORT = {name: short for name, short, _ in FIELDS}
#: The defaults of version 2 records, where every field but the required ones had its unset value as default.
_OLD_DEFAULTS = {name: (_REQUIRED if name == "status" else default) for name, _, default in FIELDS}


def _same(value: Any, default: Any) -> bool:
    """Equal as JSON (``True`` is not ``1`` here)."""
    return type(value) is type(default) and value == default


def is_compact(record: dict[str, Any]) -> bool:
    return record.get("v") in (VERSION, OLD_VERSION)


def response_key(response_id: str) -> str:
    """The isolation key a response's turn runs under (its snapshot session, in version 2 records)."""
    return f"response:{response_id}"


def head(record: dict[str, Any], response_id: str) -> dict[str, Any]:
    """A record's own fields without its history (cheap): response (output may be references), key, snapshot."""
    version = record.get("v")
    if version == OLD_VERSION:
        return {**record, "key": record.get("key") or response_key(response_id), "snapshot": True}
    if version != VERSION:
        return record
    response: dict[str, Any] = {"id": response_id, "status": record.get("x", "completed")}
    for name, short, _ in FIELDS[2:]:
        if short in record and name != "status":
            response[name] = record[short]
    return {"response": response, "key": record.get("k") or response_key(response_id), "snapshot": True}


def reference(record: dict[str, Any]) -> Any | None:
    """The session reference a version 3 record points at (None for other records)."""
    return record.get("s") if record.get("v") == VERSION else None


_ITEM_KEYS = ("id", "type", "role", "status", "content")
_PART_KEYS = ("type", "text", "annotations", "logprobs")


def _user_item(item_id: str, message: Message) -> dict[str, Any]:
    content = [{"type": "input_text", "text": part.text} for part in message.contents]
    return {"id": item_id, "type": "message", "role": "user", "status": "completed", "content": content}


def _input_ref(item: dict[str, Any], message: Message) -> bool:
    """Whether the user message `message` gives `item` back exactly (`_user_item`, keys in its order)."""
    if message.role != "user" or not message.contents or any(part.type != "text" for part in message.contents):
        return False
    item_id = item.get("id")
    if type(item_id) is not str or tuple(item) != _ITEM_KEYS or item != _user_item(item_id, message):
        return False
    return all(type(part) is dict and tuple(part) == ("type", "text") for part in item["content"])


def _text(messages: Sequence[Message], start: int, stop: int) -> str:
    """The text of an agent's answer, joined as `AgentResponse.text` joins it."""
    return "".join(message.text for message in messages[start:stop])


def _output_ref(item: dict[str, Any], text: str) -> bool:
    """Whether the answer's `text` gives this output message back exactly (`message_item`, field by field)."""
    if tuple(item) != _ITEM_KEYS or item["type"] != "message" or item["role"] != "assistant":
        return False
    content = item["content"]
    if type(content) is not list or len(content) != 1 or type(content[0]) is not dict:
        return False
    part = content[0]
    if tuple(part) != _PART_KEYS or part["type"] != "output_text" or part["annotations"] != []:
        return False
    if part["logprobs"] != [] or type(item["status"]) is not str or type(item["id"]) is not str:
        return False
    return bool(part["text"] == text)


def _ordered(value: Any) -> bool:
    """Whether `value` holds a JSON object whose key order a store that sorts keys would lose."""
    if isinstance(value, dict):
        return len(value) > 1 or any(_ordered(item) for item in value.values())
    if isinstance(value, list):
        return any(_ordered(item) for item in value)
    return False


def needs_order(record: dict[str, Any]) -> bool:
    """Whether a record must be stored as JSON text where the store sorts keys (its own keys and `s` need not)."""
    if record.get("v") != VERSION:
        return True
    return any(_ordered(value) for key, value in record.items() if key != "s")


def compact(
    record: dict[str, Any], items: Sequence[dict[str, Any]], messages: Sequence[Message], answer: int
) -> dict[str, Any] | None:
    """`record` as a version 3 record pointing into `messages` (the turn's session, ending with its `answer`).

    `items` are the turn's own input items; they come just before the answer. The session reference
    (``"s"``) is the caller's to add. None when the response was not made by `response_object`
    (a shape this cannot rebuild).
    """
    response = record["response"]
    if tuple(response) != _NAMES:
        return None
    stop = len(messages)
    start = stop - answer
    first = start - len(items)
    created, completed = response["created_at"], response["completed_at"]
    if answer < 0 or first < 0 or type(created) is not int or not (completed is None or type(completed) is int):
        return None
    # A comprehension over the fields, None defaults tested by identity first: this runs on every stored response.
    compacted: dict[str, Any] = {
        short: value
        for (_, short, default), value in zip(FIELDS[1:], list(response.values())[1:], strict=True)
        if not (value is None and default is None) and (default is _REQUIRED or not _same(value, default))
    }
    compacted["v"] = VERSION
    if completed is not None:
        compacted["d"] = completed - created
    usage = response["usage"]
    if usage is not None:
        counts = usage_counts(usage)
        if counts is not None and all(type(count) is int for count in counts) and usage_from_counts(counts) == usage:
            compacted["u"] = counts
    if "o" in compacted:
        output: list[Any] = []
        text = _text(messages, start, stop) if answer else None
        for item in compacted["o"]:
            if text is not None and _output_ref(item, text):
                output.append(item["id"] if item["status"] == "completed" else [item["id"], item["status"]])
                text = None  # one output message stands for the answer
            else:
                output.append(item)
        compacted["o"] = output
    compacted["i"] = [
        item["id"] if _input_ref(item, messages[first + index]) else item for index, item in enumerate(items)
    ]
    compacted["n"] = stop
    if answer != 1:
        compacted["a"] = answer
    key = record.get("key")
    if key != response_key(response["id"]):
        compacted["k"] = key
    return compacted


def positions(record: dict[str, Any]) -> int:
    """How many history messages `expand` needs (0: none, the record holds everything)."""
    if record.get("v") == VERSION:
        return int(record["n"])
    needed = 0
    for item in record["response"].get("output", ()):
        if isinstance(item, list):
            needed = max(needed, item[3])
    for item in record.get("input_items") or ():
        if isinstance(item, list):
            needed = max(needed, item[1] + 1)
    return needed


def expand(record: dict[str, Any], response_id: str, messages: Sequence[Message]) -> dict[str, Any]:
    """The full record (`response`, `key`, `snapshot`, `input_items`, `reference`) a compact record stands for."""
    if record.get("v") == OLD_VERSION:
        return _expand_old(record, response_id, messages)
    stop = record["n"]
    start = stop - record.get("a", 1)
    response: dict[str, Any] = {"id": response_id}
    for name, short, default in FIELDS[1:]:
        if short not in record:
            response[name] = _fresh(default)
            continue
        value = record[short]
        if name == "output":
            text = _text(messages, start, stop)
            value = [_output_item(item, text) for item in value]
        elif name == "usage" and isinstance(value, list):
            value = usage_from_counts(value)
        response[name] = value
    if "d" in record:
        response["completed_at"] = record["c"] + record["d"]
    items = record.get("i") or ()
    first = start - len(items)
    inputs = [
        _user_item(item, messages[first + index]) if isinstance(item, str) else item for index, item in enumerate(items)
    ]
    key = record.get("k") or response_key(response_id)
    # The reference comes along: a whole record saved from this one (a late cancel, say) still points at its history.
    return {"response": response, "key": key, "snapshot": True, "input_items": inputs, "reference": record["s"]}


def _output_item(item: Any, text: str) -> Any:
    if isinstance(item, str):
        return message_item(item, text, "completed")
    if isinstance(item, list):
        return message_item(item[0], text, item[1])
    return item


def _expand_old(record: dict[str, Any], response_id: str, messages: Sequence[Message]) -> dict[str, Any]:
    """A version 2 record in full."""
    kept = record["response"]
    response: dict[str, Any] = {}
    for name, default in _OLD_DEFAULTS.items():
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
    return {**head(record, response_id), "response": response, "input_items": inputs}


def _fresh(value: Any) -> Any:
    """A copy of a default's value (defaults are shared; callers may change what they get)."""
    if isinstance(value, dict):
        return {name: _fresh(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_fresh(item) for item in value]
    return value
