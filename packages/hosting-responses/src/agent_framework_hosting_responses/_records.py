"""The channel's records in the host's state store: responses, event logs, conversations.

Every value is plain JSON; sessions stay the host's (forks go through `context.copy_session`).
A memory store keeps values by reference, so there a record is kept as its JSON text: encoding
it once copies it (a record changes only when it is written back) and keeps it compact.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import orjson
from agent_framework import Message
from agent_framework_hosting import ChannelContext

from ._stored import expand, head, is_compact, needs_order, positions, reference, response_key

logger = logging.getLogger("agent_framework.hosting.responses")

__all__ = ["Records", "conversation_key", "foundry_chat_key", "json_bytes", "response_key"]

RESPONSES = "responses"
EVENTS = "response_events"
CONVERSATIONS = "conversations"


# The fallback for what orjson refuses (integers past 64 bits, non-string keys, a lone surrogate in a string):
# the standard encoder, made once; ASCII, as a lone surrogate has no UTF-8 and is written as its escape.
_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON, as Starlette's `JSONResponse` renders it (keys in order, floats at shortest).

    orjson, as a response is encoded on every request and the standard encoder takes a tenth of the
    channel's time for one. It would write NaN and infinities as null; `parse_json` refuses them in requests.
    """
    try:
        return orjson.dumps(value)
    except TypeError:
        return _ENCODER.encode(value).encode()


def foundry_chat_key(chat_key: str) -> str:
    """The isolation key of a Foundry chat; prefixed so that no other channel's key can name it."""
    return f"responses/foundry-chat:{chat_key}"


def conversation_key(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


class Records:
    """Typed access to the channel's namespaces of a `StateStore`."""

    def __init__(self, context: ChannelContext, *, ttl: float | None = None) -> None:
        self.context = context
        self.state = context.state
        self.ttl = ttl
        # A store that reorders keys (PostgreSQL's jsonb) keeps records as JSON text: reads give back the same JSON.
        self._as_text = not self.state.keeps_objects and not getattr(self.state, "keeps_key_order", True)

    async def _get(self, namespace: str, key: str) -> Any:
        value = await self.state.get(namespace, key)
        return json.loads(value) if isinstance(value, (bytes, str)) else value

    async def _set(self, namespace: str, key: str, value: Any, *, ordered: bool = True) -> None:
        """Keep `value`; `ordered`: its objects' key order matters (JSON text where the store would sort keys)."""
        if self.state.keeps_objects:
            value = json_bytes(value)
        elif self._as_text and ordered:
            value = json_bytes(value).decode()
        await self.state.set(namespace, key, value, ttl=self.ttl)

    async def response(self, response_id: str) -> dict[str, Any] | None:
        """A response's whole record, its items rebuilt from the history it refers to (see `_stored`)."""
        record: dict[str, Any] | None = await self._get(RESPONSES, response_id)
        if record is None or not is_compact(record):
            return record
        messages = await self._history(record, response_id)
        if messages is None or len(messages) < positions(record):
            logger.warning("responses: the history response %s refers to is no longer stored", response_id)
            return None
        return expand(record, response_id, messages)

    async def _history(self, record: dict[str, Any], response_id: str) -> list[Message] | None:
        """The messages a record's items refer to: where its reference points, else its own snapshot session."""
        pointer = reference(record)
        if pointer is not None:
            return await self.context.referenced_history(pointer)
        return await self.context.history(response_key(response_id)) if positions(record) else []

    async def head(self, response_id: str) -> dict[str, Any] | None:
        """A response's record with its status, key and snapshot flag; output and input items may be references.

        A record pointing into history has its session reference under ``"reference"``.
        """
        record = await self._get(RESPONSES, response_id)
        if record is None:
            return None
        pointer = reference(record)
        found = head(record, response_id)
        return found if pointer is None else {**found, "reference": pointer}

    async def save_response(self, record: dict[str, Any]) -> None:
        await self._set(RESPONSES, record["response"]["id"], record)

    async def save_compact(self, response_id: str, record: dict[str, Any]) -> None:
        """Keep a compact record (`_stored.compact`): plain JSON where its key order does not matter."""
        await self._set(RESPONSES, response_id, record, ordered=needs_order(record))

    async def delete_response(self, response_id: str) -> None:
        await self.state.delete(RESPONSES, response_id)
        await self.state.delete(EVENTS, response_id)
        await self.context.delete_session(response_key(response_id))

    async def events(self, response_id: str) -> list[dict[str, Any]]:
        return await self._get(EVENTS, response_id) or []

    async def save_events(self, response_id: str, events: list[dict[str, Any]]) -> None:
        await self._set(EVENTS, response_id, events)

    async def conversation(self, conversation_id: str) -> dict[str, Any] | None:
        return await self._get(CONVERSATIONS, conversation_id)  # type: ignore[no-any-return]

    async def save_conversation(self, record: dict[str, Any]) -> None:
        await self._set(CONVERSATIONS, record["conversation"]["id"], record)

    async def delete_conversation(self, conversation_id: str) -> None:
        await self.state.delete(CONVERSATIONS, conversation_id)
        await self.context.delete_session(conversation_key(conversation_id))

    def lock(self, name: str) -> Any:
        return self.state.lock(f"responses:{name}")
