"""Proactive delivery: conversation references, and the protocol a channel implements to send into one.

Every turn records where its conversation lives (channel, destination ids, service
URL, tenant; never a secret) under the conversation's isolation key. Later,
`host.deliver(key_or_reference, message)` sends a message there through the
channel and appends it to the conversation's history.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from agent_framework import Message

from ._errors import HostingError
from ._outbox import DeliveryFailed
from ._types import ChannelRequest

T = TypeVar("T")

REFERENCES = "conversation-refs"
REMEMBERED = 10_000


class DeliveryError(HostingError):
    """A message could not be delivered to a conversation (unknown, not deliverable, or refused by the platform)."""

    status_code = 422
    code = "delivery_failed"
    public_message = "the message could not be delivered"


class InvalidReference(DeliveryFailed):
    """A conversation reference lacks what its channel needs, or holds the wrong types; never retried."""

    status_code = 422
    code = "invalid_reference"
    public_message = "the conversation reference is not valid for its channel"

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


@dataclass(frozen=True)
class ConversationReference:
    """Where a conversation lives: its channel, its isolation key, and the platform's destination ids."""

    channel: str
    key: str
    destination: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "key": self.key, "destination": dict(self.destination)}

    def require(self, name: str, kind: type[T]) -> T:
        """The destination's `name` as a `kind`; `InvalidReference` when it is missing or of another type."""
        value = self.destination.get(name)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            found = "missing" if value is None else f"a {type(value).__name__}"
            raise InvalidReference(
                f"the {self.channel!r} reference for {self.key!r} needs {name} as a {kind.__name__}, found {found}"
            )
        return value

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> ConversationReference:
        channel, key, destination = value.get("channel"), value.get("key"), value.get("destination")
        if not isinstance(channel, str) or not isinstance(key, str) or not isinstance(destination, Mapping):
            raise ValueError("a conversation reference needs channel and key strings and a destination mapping")
        return cls(channel, key, dict(destination))


@runtime_checkable
class DeliveryChannel(Protocol):
    """A channel that can send into a conversation on its own initiative (the host discovers it)."""

    name: str

    def conversation_reference(self, request: ChannelRequest) -> Mapping[str, Any] | None:
        """The destination ids of `request`'s conversation (JSON-compatible, no secrets), or None."""
        ...

    async def deliver(self, reference: ConversationReference, message: Message) -> None:
        """Send `message` into the referenced conversation; raise `DeliveryError` (or a `HostingError`) on failure."""
        ...


@dataclass(frozen=True)
class DeliveryResult:
    """How one destination of a delivery went."""

    key: str
    channel: str | None
    delivered: bool
    duplicate: bool = False
    error: str | None = None
    #: The send failed and the durable outbox retries it (a dead letter once it gives up).
    queued: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "channel": self.channel,
            "delivered": self.delivered,
            "duplicate": self.duplicate,
            "error": self.error,
            "queued": self.queued,
        }


class RecentReferences:
    """The references this process wrote last, so an unchanged one is not written again every turn."""

    def __init__(self, size: int = REMEMBERED) -> None:
        self.size = size
        self._seen: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def changed(self, reference: ConversationReference) -> bool:
        value = reference.to_dict()
        if self._seen.get(reference.key) == value:
            self._seen.move_to_end(reference.key)
            return False
        return True

    def remember(self, reference: ConversationReference) -> None:
        self._seen[reference.key] = reference.to_dict()
        self._seen.move_to_end(reference.key)
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)


def delivered_message(message: str | Message, *, channel: str) -> Message:
    """The assistant message a delivery sends and records, marked as delivered proactively (with an id of its own)."""
    marks = {"channel": channel, "proactive": True, "proactive_id": secrets.token_hex(8)}
    if isinstance(message, Message):
        properties = dict(message.additional_properties or {})
        hosting = {**(properties.get("hosting") or {}), **marks}
        return Message(role=message.role, contents=list(message.contents), additional_properties={
            **properties, "hosting": hosting})  # fmt: skip
    return Message(role="assistant", contents=[message], additional_properties={"hosting": marks})
