"""Pure parsing of Responses API requests: JSON in, validated parameters and messages out."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_framework import Content, Message

from ._errors import ApiError
from ._ids import new_id

MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
MAX_CONVERSATION_ITEMS = 20
MAX_LIST_LIMIT = 100
DEFAULT_LIST_LIMIT = 20

#: Request fields a channel may forward to the agent, and the chat option each becomes.
OPTION_NAMES: Mapping[str, str] = {
    "instructions": "instructions",
    "temperature": "temperature",
    "top_p": "top_p",
    "max_output_tokens": "max_tokens",
    "parallel_tool_calls": "allow_multiple_tool_calls",
    "tool_choice": "tool_choice",
    "tools": "tools",
    "user": "user",
    "metadata": "metadata",
}
DEFAULT_FORWARDED_OPTIONS: tuple[str, ...] = ("instructions", "temperature", "top_p", "max_output_tokens")

ROLES = {"user": "user", "system": "system", "developer": "system", "assistant": "assistant"}
TEXT_PARTS = ("input_text", "output_text", "text")


def _bad(message: str, param: str | None, code: str = "invalid_value") -> ApiError:
    return ApiError(message, param=param, code=code)


def _type_error(param: str, expected: str) -> ApiError:
    return _bad(f"Invalid type for '{param}': expected {expected}.", param, "invalid_type")


def _number(low: float, high: float) -> Callable[[str, Any], Any]:
    def check(param: str, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _type_error(param, "a number")
        if not low <= value <= high:
            raise _bad(f"'{param}' must be between {low:g} and {high:g}.", param)
        return value

    return check


def _integer(low: int, high: int | None = None) -> Callable[[str, Any], Any]:
    def check(param: str, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(param, "an integer")
        if value < low or (high is not None and value > high):
            limit = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise _bad(f"'{param}' must be {limit}.", param)
        return value

    return check


def _of(kind: type | tuple[type, ...], expected: str) -> Callable[[str, Any], Any]:
    def check(param: str, value: Any) -> Any:
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise _type_error(param, expected)
        return value

    return check


def _choice(*allowed: str) -> Callable[[str, Any], Any]:
    def check(param: str, value: Any) -> Any:
        if value not in allowed:
            raise _bad(f"'{param}' must be one of {', '.join(allowed)}.", param)
        return value

    return check


def _tools(param: str, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _type_error(param, "an array")
    for index, tool in enumerate(value):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise _bad(f"'{param}[{index}]' must be an object with a string 'type'.", f"{param}[{index}]")
    return value


def _tool_choice(param: str, value: Any) -> Any:
    if isinstance(value, str):
        return _choice("none", "auto", "required")(param, value)
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return value
    raise _type_error(param, "'none', 'auto', 'required' or an object with a 'type'")


def _string_list(param: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _type_error(param, "an array of strings")
    return value


def parse_metadata(value: Any, param: str = "metadata") -> dict[str, str]:
    """Validate OpenAI metadata: at most 16 string pairs, keys <= 64 and values <= 512 characters."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _type_error(param, "an object")
    if len(value) > MAX_METADATA_PAIRS:
        raise _bad(f"'{param}' may hold at most {MAX_METADATA_PAIRS} pairs.", param)
    for key, item in value.items():
        if len(key) > MAX_METADATA_KEY:
            raise _bad(f"'{param}' keys must be at most {MAX_METADATA_KEY} characters.", param)
        if not isinstance(item, str):
            raise _type_error(f"{param}.{key}", "a string")
        if len(item) > MAX_METADATA_VALUE:
            raise _bad(f"'{param}' values must be at most {MAX_METADATA_VALUE} characters.", f"{param}.{key}")
    return dict(value)


def _non_empty_string(param: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _type_error(param, "a string")
    if not value:
        raise _bad(f"'{param}' must not be empty.", param, "empty_string")
    return value


_CHECKS: Mapping[str, Callable[[str, Any], Any]] = {
    "model": _of(str, "a string"),
    "instructions": _of(str, "a string"),
    "stream": _of(bool, "a boolean"),
    "store": _of(bool, "a boolean"),
    "background": _of(bool, "a boolean"),
    "parallel_tool_calls": _of(bool, "a boolean"),
    "temperature": _number(0, 2),
    "top_p": _number(0, 1),
    "max_output_tokens": _integer(1),
    "max_tool_calls": _integer(1),
    "top_logprobs": _integer(0, 20),
    "previous_response_id": _non_empty_string,
    "tools": _tools,
    "tool_choice": _tool_choice,
    "text": _of(dict, "an object"),
    "reasoning": _of(dict, "an object"),
    "truncation": _choice("auto", "disabled"),
    "user": _of(str, "a string"),
    "safety_identifier": _of(str, "a string"),
    "include": _string_list,
}
_CHECK_ORDER = {name: index for index, name in enumerate(_CHECKS)}


@dataclass
class CreateParams:
    """A validated create request."""

    messages: list[Message]
    items: list[dict[str, Any]]
    fields: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    conversation_id: str | None = None

    # The flags, read from `fields` once: a create request reads them a dozen times.
    stream: bool = field(init=False)
    store: bool = field(init=False)
    background: bool = field(init=False)
    previous_response_id: str | None = field(init=False)

    def __post_init__(self) -> None:
        fields = self.fields
        self.stream = bool(fields.get("stream", False))
        self.store = bool(fields.get("store", True))
        self.background = bool(fields.get("background", False))
        previous = fields.get("previous_response_id")
        self.previous_response_id = previous if isinstance(previous, str) else None

    def get(self, name: str, default: Any = None) -> Any:
        value = self.fields.get(name)
        return default if value is None else value

    @property
    def identity(self) -> str | None:
        """Who the caller says the end user is: `safety_identifier`, else `user`."""
        return self.get("safety_identifier") or self.get("user") or None

    def options(self, forwarded: tuple[str, ...]) -> dict[str, Any]:
        """The chat options this request sets among the `forwarded` request fields."""
        fields = self.fields  # holds no None (`metadata` is kept apart)
        options = {OPTION_NAMES[name]: fields[name] for name in forwarded if name in fields and fields[name] != {}}
        if self.metadata and "metadata" in forwarded:
            options[OPTION_NAMES["metadata"]] = self.metadata
        return options


def parse_create(body: Mapping[str, Any]) -> CreateParams:
    """Validate a `POST /responses` body; unknown fields are ignored, wrong types raise `ApiError`."""
    fields: dict[str, Any] = {}
    # Only the fields the body has (a request sets a few of the twenty), checked in `_CHECKS` order.
    for name in sorted((name for name in body if name in _CHECKS), key=_CHECK_ORDER.__getitem__):
        value = body[name]
        if value is not None:
            fields[name] = _CHECKS[name](name, value)
    if "input" not in body or body["input"] is None:
        raise _bad("Missing required parameter: 'input'.", "input", "missing_required_parameter")
    messages, items = parse_input(body["input"])
    conversation_id = parse_conversation_ref(body.get("conversation"))
    params = CreateParams(
        messages=messages,
        items=items,
        fields=fields,
        metadata=parse_metadata(body.get("metadata")),
        conversation_id=conversation_id,
    )
    if params.previous_response_id and conversation_id:
        raise _bad("'previous_response_id' and 'conversation' cannot be used together.", "conversation")
    if params.background and not params.store:
        raise _bad("'background' requires 'store' to be true.", "background")
    return params


def parse_conversation_ref(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("id")
        if not isinstance(value, str) or not value:
            raise _bad("'conversation.id' must be a non-empty string.", "conversation.id")
        return value
    return _non_empty_string("conversation", value)


def parse_input(value: Any, param: str = "input") -> tuple[list[Message], list[dict[str, Any]]]:
    """Input as messages for the agent and as normalized items (with ids) for listing."""
    if isinstance(value, str):  # the common request, without the walk over content parts
        content = [{"type": "input_text", "text": value}]
        item = {"id": new_id("msg"), "type": "message", "role": "user", "status": "completed", "content": content}
        return [Message("user", [Content.from_text(value)])], [item]
    if not isinstance(value, list):
        raise _type_error(param, "a string or an array of input items")
    if not value:
        raise _bad(f"'{param}' must not be empty.", param, "empty_array")
    messages: list[Message] = []
    items: list[dict[str, Any]] = []
    for index, raw in enumerate(value):
        found = _item(raw, f"{param}[{index}]")
        if found is not None:
            messages.extend(found[0])
            items.extend(found[1])
    if not messages:
        raise _bad(f"'{param}' holds no items the agent can read.", param)
    return messages, items


def _item(raw: Any, param: str) -> tuple[list[Message], list[dict[str, Any]]] | None:
    if not isinstance(raw, dict):
        raise _type_error(param, "an object")
    kind = raw.get("type", "message" if "role" in raw else None)
    if kind == "message":
        role = raw.get("role")
        if not isinstance(role, str) or role not in ROLES:
            raise _bad(f"'{param}.role' must be one of user, system, developer, assistant.", f"{param}.role")
        content = raw.get("content")
        if isinstance(content, str):
            part_type = "output_text" if role == "assistant" else "input_text"
            return _message(role, [{"type": part_type, "text": content}], param)
        if not isinstance(content, list):
            raise _type_error(f"{param}.content", "a string or an array of content parts")
        return _message(role, content, param)
    if kind == "function_call_output":
        call_id = _non_empty_string(f"{param}.call_id", raw.get("call_id"))
        output = raw.get("output")
        if isinstance(output, list):
            text = "".join(
                part.get("text", "") for part in output if isinstance(part, dict) and part.get("type") in TEXT_PARTS
            )
        elif isinstance(output, str):
            text = output
        else:
            raise _type_error(f"{param}.output", "a string or an array of content parts")
        message = Message("tool", [Content.from_function_result(call_id, result=text)])
        item = {
            "id": new_id("fco"),
            "type": "function_call_output",
            "call_id": call_id,
            "output": text,
            "status": "completed",
        }
        return [message], [item]
    if kind == "function_call":
        call_id = _non_empty_string(f"{param}.call_id", raw.get("call_id"))
        name = _non_empty_string(f"{param}.name", raw.get("name"))
        arguments = raw.get("arguments", "")
        if not isinstance(arguments, str):
            raise _type_error(f"{param}.arguments", "a string")
        message = Message("assistant", [Content.from_function_call(call_id, name, arguments=arguments)])
        item = {
            "id": new_id("fc"),
            "type": "function_call",
            "call_id": call_id,
            "name": name,
            "arguments": arguments,
            "status": "completed",
        }
        return [message], [item]
    if kind == "reasoning":
        return None
    if isinstance(kind, str):
        raise _bad(f"Input items of type '{kind}' are not supported.", f"{param}.type", "unsupported_value")
    raise _bad(f"'{param}' needs a 'type' or a 'role'.", param, "missing_required_parameter")


def _message(role: str, parts: list[Any], param: str) -> tuple[list[Message], list[dict[str, Any]]]:
    contents: list[Content] = []
    stored: list[dict[str, Any]] = []
    for index, part in enumerate(parts):
        content, normalized = _part(part, role, f"{param}.content[{index}]")
        contents.append(content)
        stored.append(normalized)
    message = Message(ROLES[role], contents)
    item: dict[str, Any] = {
        "id": new_id("msg"),
        "type": "message",
        "role": role,
        "status": "completed",
        "content": stored,
    }
    return [message], [item]


def _part(part: Any, role: str, param: str) -> tuple[Content, dict[str, Any]]:
    if not isinstance(part, dict):
        raise _type_error(param, "an object")
    kind = part.get("type")
    if kind in TEXT_PARTS or kind == "refusal":
        key = "refusal" if kind == "refusal" else "text"
        text = part.get(key)
        if not isinstance(text, str):
            raise _type_error(f"{param}.{key}", "a string")
        if role == "assistant":
            return Content.from_text(text), {"type": "output_text", "text": text, "annotations": []}
        return Content.from_text(text), {"type": "input_text", "text": text}
    if kind == "input_image":
        return _image(part, param)
    if kind == "input_file":
        return _file(part, param)
    raise _bad(f"Content parts of type '{kind}' are not supported.", f"{param}.type", "unsupported_value")


def _detail(part: Mapping[str, Any], param: str) -> str:
    detail = part.get("detail", "auto")
    if not isinstance(detail, str):
        raise _type_error(f"{param}.detail", "a string")
    return detail


def _uri_content(uri: str, param: str, media_type: str | None) -> Content:
    if uri.startswith("data:"):
        try:
            return Content.from_uri(uri)
        except (ValueError, TypeError):
            raise _bad(f"'{param}' is not a valid data URL.", param) from None
    if not uri.startswith(("http://", "https://")):
        raise _bad(f"'{param}' must be an http(s) URL or a data URL.", param)
    return Content.from_uri(uri, media_type=media_type)


def _image(part: Mapping[str, Any], param: str) -> tuple[Content, dict[str, Any]]:
    detail = _detail(part, param)
    url = part.get("image_url")
    if isinstance(url, dict):
        url = url.get("url")
    file_id = part.get("file_id")
    if isinstance(url, str) and url:
        content = _uri_content(url, f"{param}.image_url", "image/*")
        return content, {"type": "input_image", "image_url": url, "detail": detail}
    if isinstance(file_id, str) and file_id:
        return Content.from_hosted_file(file_id), {"type": "input_image", "file_id": file_id, "detail": detail}
    raise _bad(f"'{param}' needs an 'image_url' or a 'file_id'.", param, "missing_required_parameter")


def _file(part: Mapping[str, Any], param: str) -> tuple[Content, dict[str, Any]]:
    filename = part.get("filename")
    if filename is not None and not isinstance(filename, str):
        raise _type_error(f"{param}.filename", "a string")
    normalized: dict[str, Any] = {"type": "input_file"}
    if filename:
        normalized["filename"] = filename
    for key in ("file_url", "file_data"):
        value = part.get(key)
        if isinstance(value, str) and value:
            content = _uri_content(value, f"{param}.{key}", None)
            return content, {**normalized, key: value}
    file_id = part.get("file_id")
    if isinstance(file_id, str) and file_id:
        return Content.from_hosted_file(file_id, name=filename or None), {**normalized, "file_id": file_id}
    raise _bad(f"'{param}' needs a 'file_url', 'file_data' or 'file_id'.", param, "missing_required_parameter")


@dataclass(frozen=True)
class ListQuery:
    limit: int = DEFAULT_LIST_LIMIT
    order: str = "desc"
    after: str | None = None


def parse_list_query(query: Mapping[str, str]) -> ListQuery:
    """`limit` (1-100, default 20), `order` (asc|desc, default desc) and `after` of a list request."""
    raw_limit = query.get("limit")
    limit = DEFAULT_LIST_LIMIT
    if raw_limit is not None:
        if not (raw_limit.isascii() and raw_limit.isdigit()) or not 1 <= int(raw_limit) <= MAX_LIST_LIMIT:
            raise _bad(f"'limit' must be an integer between 1 and {MAX_LIST_LIMIT}.", "limit")
        limit = int(raw_limit)
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise _bad("'order' must be 'asc' or 'desc'.", "order")
    after = query.get("after") or None
    return ListQuery(limit=limit, order=order, after=after)


def parse_stream_query(query: Mapping[str, str]) -> tuple[bool, int | None]:
    """`stream` and `starting_after` of a retrieve request."""
    stream = query.get("stream", "false").lower()
    if stream not in ("true", "false"):
        raise _bad("'stream' must be true or false.", "stream")
    raw = query.get("starting_after")
    if raw is None or raw == "":
        return stream == "true", None
    try:
        starting_after = int(raw)
    except ValueError:
        raise _bad("'starting_after' must be an integer.", "starting_after") from None
    return stream == "true", starting_after


def parse_conversation_items(value: Any, param: str = "items") -> tuple[list[Message], list[dict[str, Any]]]:
    """Items added to a conversation: at most 20 input items at a time."""
    if value is None:
        return [], []
    if not isinstance(value, list):
        raise _type_error(param, "an array of input items")
    if len(value) > MAX_CONVERSATION_ITEMS:
        raise _bad(f"'{param}' may hold at most {MAX_CONVERSATION_ITEMS} items.", param)
    if not value:
        return [], []
    return parse_input(value, param)
