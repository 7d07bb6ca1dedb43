"""The host's side of proactive delivery: remembering references, delivering, and agent-initiated turns."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import anyio
from agent_framework import Message

from ._delivery import (
    REFERENCES,
    ConversationReference,
    DeliveryChannel,
    DeliveryError,
    DeliveryResult,
    RecentReferences,
    delivered_message,
)
from ._errors import HostingError, SessionBusyError
from ._history import append_messages
from ._outbox import DeliveryFailed
from ._types import ChannelRequest, ChannelSession, HostedRunResult
from ._waiting import WaitingDeliveries

if TYPE_CHECKING:
    from ._host import AgentFrameworkHost

logger = logging.getLogger("agent_framework.hosting")

Destination = str | ConversationReference
DELIVERIES = "delivery"
MULTICAST_LIMIT = 16
PROACTIVE_OPERATION = "proactive"
#: The outbox's name for proactive deliveries (each item's destination is a whole conversation reference).
OUTBOX_CHANNEL = "deliver"


class Proactive:
    """Conversation references of every conversation, and delivery into them through their channels."""

    def __init__(self, host: AgentFrameworkHost) -> None:
        self._host = host
        self._recent = RecentReferences()
        self._delivering: dict[str, DeliveryChannel | None] = {}
        self.waiting = WaitingDeliveries(host.state)
        host.outbox.register(OUTBOX_CHANNEL, self)

    def _channel(self, name: str) -> DeliveryChannel | None:
        # Cached: every turn asks, and isinstance against a runtime Protocol is slow. Channels are fixed at start.
        if name not in self._delivering:
            found = [c for c in self._host.channels if c.name == name and isinstance(c, DeliveryChannel)]
            self._delivering[name] = found[0] if found else None
        return self._delivering[name]

    async def remember(self, channel_name: str | None, request: ChannelRequest) -> None:
        """Record where `request`'s conversation lives, when its channel can deliver there later."""
        key = request.isolation_key
        channel = self._channel(channel_name or request.channel)
        if key is None or channel is None:
            return
        try:
            destination = channel.conversation_reference(request)
        except Exception:
            logger.exception("channel %r failed to describe the conversation of %s", channel.name, key)
            return
        if destination is None:
            return
        reference = ConversationReference(channel.name, key, dict(destination))
        if self._recent.changed(reference):
            await self._host.state.set(REFERENCES, key, reference.to_dict())
            self._recent.remember(reference)

    async def reference(self, to: Destination) -> ConversationReference:
        """`to` as a reference: as is, or the one recorded for that isolation key."""
        if isinstance(to, ConversationReference):
            return to
        stored = await self._host.state.get(REFERENCES, to)
        if stored is None:
            raise DeliveryError(f"no conversation is known under {to!r}")
        return ConversationReference.from_dict(stored)

    async def references(self) -> list[ConversationReference]:
        """Every recorded conversation reference (for a broadcast; stores without `keys()` list none)."""
        keys = getattr(self._host.state, "keys", None)
        if not callable(keys):
            return []
        found = []
        for key in await keys(REFERENCES):
            stored = await self._host.state.get(REFERENCES, key)
            if stored is not None:
                found.append(ConversationReference.from_dict(stored))
        return found

    async def deliver_one(
        self, to: Destination, message: str | Message, *, idempotency_key: str | None = None, record: bool = True
    ) -> DeliveryResult:
        """Deliver to one destination; failures are reported in the result, never raised."""
        name = to.key if isinstance(to, ConversationReference) else to
        try:
            reference = await self.reference(to)
            channel = self._channel(reference.channel)
            if channel is None:
                raise DeliveryError(f"channel {reference.channel!r} is not served here or cannot deliver")
            outgoing = delivered_message(message, channel=reference.channel)
            first = True
            if idempotency_key is None:
                kept = await self._send_or_keep(channel, reference, outgoing, record, secrets.token_hex(12))
            else:
                claim = f"{idempotency_key}:{reference.channel}:{reference.key}"
                async with self._host.context.once(DELIVERIES, claim) as first:
                    # A send kept in the outbox counts as taken: a repeat is a duplicate, the outbox sends it once.
                    kept = await self._send_or_keep(channel, reference, outgoing, record, claim) if first else None
            if kept is not None:
                logger.warning("delivery to %s failed; the outbox retries it: %s", name, kept)
                return DeliveryResult(reference.key, reference.channel, delivered=False, error=kept, queued=True)
            return DeliveryResult(reference.key, reference.channel, delivered=True, duplicate=not first)
        except HostingError as error:
            logger.warning("delivery to %s failed: %s", name, error)
            channel_name = to.channel if isinstance(to, ConversationReference) else None
            return DeliveryResult(name, channel_name, delivered=False, error=str(error) or error.code)
        except Exception as error:
            logger.exception("delivery to %s failed", name)
            return DeliveryResult(name, None, delivered=False, error=type(error).__name__)

    async def _send_or_keep(
        self, channel: DeliveryChannel, reference: ConversationReference, message: Message, record: bool, key: str
    ) -> str | None:
        """Send; a failure goes to the durable outbox (the error is returned) or, refused for good, to dead letters."""
        try:
            await channel.deliver(reference, message)
        except Exception as error:
            payload = {"message": message.to_dict(), "record": record}
            await self._host.outbox.keep(
                OUTBOX_CHANNEL, reference.to_dict(), payload, key=f"{OUTBOX_CHANNEL}:{key}", error=error
            )
            if isinstance(error, DeliveryFailed) and error.permanent:
                raise  # refused for good: a dead letter already, reported as not delivered
            return str(error) or type(error).__name__
        if record:
            await self.append_history(reference.key, [message])
        return None

    async def resend(self, destination: Any, payload: Any) -> None:
        """The outbox's retry of a kept delivery: send it again, then record it in the conversation's history."""
        reference = ConversationReference.from_dict(destination)
        channel = self._channel(reference.channel)
        if channel is None:
            raise DeliveryFailed(f"channel {reference.channel!r} is not served here", permanent=True)
        message = Message.from_dict(payload["message"])
        await channel.deliver(reference, message)
        if payload.get("record", True):
            await self.append_history(reference.key, [message])

    async def deliver_many(
        self, destinations: Sequence[Destination], message: str | Message, *, idempotency_key: str | None = None
    ) -> list[DeliveryResult]:
        """Deliver to every destination at once (at most `MULTICAST_LIMIT` in flight); results in order."""
        results: list[DeliveryResult | None] = [None] * len(destinations)
        limiter = anyio.CapacityLimiter(MULTICAST_LIMIT)

        async def one(index: int, to: Destination) -> None:
            async with limiter:
                results[index] = await self.deliver_one(to, message, idempotency_key=idempotency_key)

        async with anyio.create_task_group() as group:
            for index, to in enumerate(destinations):
                group.start_soon(one, index, to)
        return [result for result in results if result is not None]

    async def append_history(self, key: str, messages: list[Message]) -> None:
        """Append `messages` to the conversation's history: at once when it is idle, else without waiting.

        While a turn runs, they wait in the store and join the history after that turn's own messages
        (a background merge takes the turn lock when it is free; a turn that starts first merges them itself).
        """
        host = self._host
        if not (host.agent_target and host.sessions.supported):
            return
        try:
            async with host.state.lock(f"turn:{key}", wait=0):
                await self._append_now(key, messages)
                return
        except SessionBusyError:
            pass
        await self.waiting.add(key, messages)
        host.tasks.spawn(self._merge_when_free(key), name=f"deliver-merge-{key}")

    async def _append_now(self, key: str, messages: list[Message]) -> None:
        host = self._host
        session = await host.sessions.load(key)
        merged = await self.waiting.merge(key, host.target, session)
        if append_messages(host.target, session, messages) or merged:
            await host.sessions.save(session)
        if merged:
            await self.waiting.settle(key, merged)

    async def _merge_when_free(self, key: str) -> None:
        """Wait for the conversation's running turn, then merge what waits (unless a later turn already did)."""
        host = self._host
        try:
            async with host.state.lock(f"turn:{key}", wait=host.turn_wait):
                await self._append_now(key, [])
        except HostingError as error:
            logger.warning("delivered messages for %s wait for its next turn: %s", key, error)

    async def run_and_deliver(
        self, to: Destination, prompt: str | Message, *, idempotency_key: str | None = None
    ) -> HostedRunResult[Any]:
        """Run an agent-initiated turn in the conversation and deliver its answer there."""
        reference = await self.reference(to)
        channel = self._channel(reference.channel)
        if channel is None:
            raise DeliveryError(f"channel {reference.channel!r} is not served here or cannot deliver")
        request = ChannelRequest(
            channel=reference.channel,
            operation=PROACTIVE_OPERATION,
            input=prompt,
            session=ChannelSession(reference.key),
            attributes={"proactive": True},
        )
        result = await self._host.context.run(request)
        delivered = await self.deliver_one(reference, result.text, idempotency_key=idempotency_key, record=False)
        if not delivered.delivered and not delivered.queued:
            raise DeliveryError(f"the answer could not be delivered to {reference.key!r}: {delivered.error}")
        return result
