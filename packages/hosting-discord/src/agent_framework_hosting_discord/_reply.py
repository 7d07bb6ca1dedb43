"""Delivering an interaction's answer: the deferred original, follow-ups, and live edits while streaming."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from agent_framework_hosting import DeliveryFailed

from ._api import DiscordApi, describe_failure, retry_after, token_expired
from ._render import message
from ._split import split_message

logger = logging.getLogger("agent_framework.hosting.discord")

EMPTY_ANSWER = "(no response)"
PREVIEW_ATTEMPTS = 2
NONCE_LENGTH = 25  # Discord's limit for a message nonce


@dataclass(frozen=True)
class ReplyAddress:
    """Where one interaction's answer goes (JSON, for the durable outbox): its webhook token until
    `expires_at` (epoch seconds), then a channel message in `channel_id` with the bot token."""

    interaction_id: str
    token: str
    channel_id: str | None
    ephemeral: bool
    expires_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> ReplyAddress:
        return cls(
            str(value["interaction_id"]),
            str(value["token"]),
            value.get("channel_id") if isinstance(value.get("channel_id"), str) else None,
            bool(value.get("ephemeral")),
            float(value["expires_at"]),
        )


@dataclass(frozen=True)
class ReplyFailure:
    """The first chunk of a text that did not go out: its index in the text, its message number, and why."""

    index: int
    sent: int
    error: DeliveryFailed


def delivery_failure(response: httpx.Response | None, action: str) -> DeliveryFailed:
    """The outbox's view of a failed call: a 4xx other than 429 is a refusal, not worth retrying."""
    if response is None:
        return DeliveryFailed(f"{action} failed: {describe_failure(response)}")
    status = response.status_code
    return DeliveryFailed(
        f"{action} failed: {describe_failure(response)}",
        retry_after=retry_after(response) if status == 429 else None,
        permanent=400 <= status < 500 and status != 429,
    )


def nonce(interaction_id: str, sent: int) -> str:
    """Discord's message nonce for this interaction's `sent`-th message: a repeat within minutes is not posted."""
    return hashlib.sha256(f"{interaction_id}:{sent}".encode()).hexdigest()[:NONCE_LENGTH]


class InteractionReply:
    """Sends text for one interaction: first into the deferred original, then as follow-ups.

    Once the interaction token has expired (by the clock, or because Discord says so), public
    answers fall back to a channel message when the channel has a bot token (with a nonce Discord
    enforces, so a resend does not post twice); otherwise they cannot be delivered. `sent` counts
    the messages already out (a resend from the outbox starts after them).
    """

    def __init__(
        self, api: DiscordApi, address: ReplyAddress, *, sent: int = 0, clock: Callable[[], float] = time.time
    ) -> None:
        self._api = api
        self.address = address
        self.sent = sent
        self._clock = clock
        self._token_dead = False
        self._expiry_logged = False

    @property
    def ephemeral(self) -> bool:
        return self.address.ephemeral

    @property
    def expired(self) -> bool:
        return self._token_dead or self._clock() >= self.address.expires_at

    def _describe(self, action: str) -> str:
        return f"Discord {action} for interaction {self.address.interaction_id}"

    async def send(self, text: str, *, start: int = 0) -> ReplyFailure | None:
        """Deliver `text` (from chunk `start` on) in as many messages as it takes; the first failure, if any."""
        chunks = split_message(text) or [EMPTY_ANSWER]
        for index in range(start, len(chunks)):
            error = await self._deliver(chunks[index])
            if error is not None:
                failed = ReplyFailure(index, self.sent, error)
                self.sent += len(chunks) - index  # their message numbers stay reserved for the outbox's resend
                return failed
            self.sent += 1
        return None

    async def preview(self, text: str) -> None:
        """Show a growing answer in the original message (a `LiveEdit` show); best effort, never raises."""
        chunks = split_message(text)
        if not chunks or self.sent or self.expired:
            return
        response = await self._api.edit_original(
            self.address.token,
            message(chunks[0], ephemeral=self.ephemeral),
            describe=self._describe("streaming edit"),
            attempts=PREVIEW_ATTEMPTS,
        )
        if token_expired(response):
            self._token_dead = True
        elif response is None or not response.is_success:
            logger.warning("%s failed: %s", self._describe("streaming edit"), describe_failure(response))

    async def _deliver(self, chunk: str) -> DeliveryFailed | None:
        if not self.expired:
            body = message(chunk, ephemeral=self.ephemeral)
            token = self.address.token
            if not self.sent:
                action = self._describe("edit of the original response")
                response = await self._api.edit_original(token, body, describe=action)
            else:
                action = self._describe("follow-up message")
                response = await self._api.follow_up(token, body, describe=action)
            if response is not None and response.is_success:
                return None
            if not token_expired(response):
                logger.error("%s failed: %s", action, describe_failure(response))
                return delivery_failure(response, action)
            self._token_dead = True
        return await self._fallback(chunk)

    async def _fallback(self, chunk: str) -> DeliveryFailed | None:
        channel_id = self.address.channel_id
        usable = not self.ephemeral and self._api.has_bot_token and channel_id is not None
        if not self._expiry_logged:
            self._expiry_logged = True
            logger.warning(
                "interaction %s outlived its 15-minute token; %s",
                self.address.interaction_id,
                "answering with a channel message instead" if usable else "its answer cannot be delivered",
            )
        if not usable or channel_id is None:
            reason = "ephemeral" if self.ephemeral else "no bot token or channel"
            return DeliveryFailed(f"{self._describe('reply')}: the token expired ({reason})", permanent=True)
        action = self._describe("channel message")
        body = {**message(chunk), "nonce": nonce(self.address.interaction_id, self.sent), "enforce_nonce": True}
        response = await self._api.channel_message(channel_id, body, describe=action)
        if response is not None and response.is_success:
            return None
        logger.error("%s failed: %s", action, describe_failure(response))
        return delivery_failure(response, action)
