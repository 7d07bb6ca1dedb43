"""Fitting a channel's input to the types a workflow's start executor declares."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import Any, Literal, get_args, get_origin

from agent_framework import Executor, Message, WorkflowMessage

from ._errors import HostingError

InputKind = Literal["text", "json"]
"""What a channel can hand a workflow: `"text"` (messages people type) or `"json"` (any JSON value)."""


class WorkflowInputError(HostingError):
    """The workflow's start executor takes no form of the input the channel received."""

    status_code = 400
    code = "unsupported_input"
    public_message = "the workflow does not accept this input"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.public_message = message


def channel_input_kind(channel: Any) -> InputKind:
    """A channel's `workflow_input` attribute; text when it declares none."""
    kind = getattr(channel, "workflow_input", "text")
    return "json" if kind == "json" else "text"


def _is_message_list(kind: Any) -> bool:
    return get_origin(kind) in (list, Sequence) and get_args(kind)[:1] == (Message,)


def _is_text_form(kind: Any) -> bool:
    return kind in (str, Message, Any, object) or _is_message_list(kind)


def _from_json(kind: Any) -> Callable[[Any], Any] | None:
    """How to build `kind` from a decoded JSON value, when it is a JSON-able type."""
    origin = get_origin(kind) or kind
    if origin in (dict, list, int, float, bool):
        return lambda value: value if isinstance(value, origin) and not (origin is int and value is True) else _fail()
    validate = getattr(kind, "model_validate", None)
    if callable(validate):
        return validate  # type: ignore[no-any-return]
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return lambda value: kind(**value) if isinstance(value, dict) else _fail()
    return None


def _fail() -> Any:
    raise ValueError("wrong JSON type")


def _type_name(kind: Any) -> str:
    args = get_args(kind)
    name = getattr(get_origin(kind) or kind, "__name__", None) or str(kind)
    return f"{name}[{', '.join(_type_name(arg) for arg in args)}]" if args else name


def describe_types(types: Sequence[Any]) -> str:
    return " | ".join(_type_name(kind) for kind in types)


def unfed_types(start: Executor, kind: InputKind) -> str | None:
    """The start executor's types, described, when a channel of `kind` can feed none of them; else None."""
    types = list(start.input_types)
    if any(_is_text_form(t) for t in types):
        return None
    if kind == "json" and any(_from_json(t) is not None for t in types):
        return None
    return describe_types(types) or "nothing"


def _messages(value: Any) -> list[Message] | None:
    if isinstance(value, Message):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(item, Message) for item in value):
        return list(value)
    return None


def _latest_text(messages: list[Message]) -> str:
    """The text of the trailing user messages (the new turn), or of the last message."""
    trailing: list[str] = []
    for message in reversed(messages):
        if message.role != "user":
            break
        trailing.append(message.text)
    return "\n".join(reversed(trailing)) if trailing else messages[-1].text


def _text(value: Any) -> str:
    messages = _messages(value)
    if messages is not None:
        return _latest_text(messages)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _candidates(value: Any, kind: Any) -> Any:
    """`value` converted to `kind`; raises ValueError when there is no sensible conversion."""
    if kind is str:
        return _text(value)
    if kind is Message:
        messages = _messages(value)
        return messages[-1] if messages else Message(role="user", contents=[_text(value)])
    if _is_message_list(kind):
        return _messages(value) or [Message(role="user", contents=[_text(value)])]
    build = _from_json(kind)
    if build is None:
        raise ValueError("not a JSON-able type")
    decoded = json.loads(value) if isinstance(value, str) else value
    if _messages(decoded) is not None:
        decoded = json.loads(_text(decoded))
    return build(decoded)


def adapt_input(value: Any, start: Executor) -> Any:
    """`value` in the first form `start` accepts: as is, or as text, a `Message`, `list[Message]` or JSON."""
    if _accepts(start, value):
        return value
    for kind in start.input_types:
        try:
            adapted = _candidates(value, kind)
        except (ValueError, TypeError):
            continue
        if _accepts(start, adapted):
            return adapted
    raise WorkflowInputError(
        f"the workflow's start executor {start.id!r} takes {describe_types(list(start.input_types))}; "
        f"it cannot take a {type(value).__name__}",
    )


def _accepts(start: Executor, value: Any) -> bool:
    return bool(start.can_handle(WorkflowMessage(data=value, source_id="hosting", target_id=start.id)))
