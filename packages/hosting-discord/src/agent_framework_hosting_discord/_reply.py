"""Delivering an interaction's answer: the deferred original, follow-ups, and live edits while streaming."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ._api import DiscordApi, describe_failure, token_expired
from ._parse import Interaction
from ._render import message
from ._split import split_message

logger = logging.getLogger("agent_framework.hosting.discord")

EMPTY_ANSWER = "(no response)"
PREVIEW_ATTEMPTS = 2


class InteractionReply:
    """Sends text for one interaction: first into the deferred original, then as follow-ups.

    Once the interaction token has expired (by the clock, or because Discord says so), public
    answers fall back to a channel message when the channel has a bot token; otherwise they are logged.
    """

    def __init__(
        self,
        api: DiscordApi,
        interaction: Interaction,
        *,
        ephemeral: bool,
        expires_at: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self._interaction = interaction
        self.ephemeral = ephemeral
        self._expires_at = expires_at
        self._clock = clock
        self._token_dead = False
        self._edited = False
        self._expiry_logged = False

    @property
    def expired(self) -> bool:
        return self._token_dead or self._clock() >= self._expires_at

    def _describe(self, action: str) -> str:
        return f"Discord {action} for interaction {self._interaction.id}"

    async def send(self, text: str) -> None:
        """Deliver `text` in as many messages as it takes."""
        for chunk in split_message(text) or [EMPTY_ANSWER]:
            await self._deliver(chunk)

    async def preview(self, text: str) -> None:
        """Show a growing answer in the original message (a `LiveEdit` show); best effort, never raises."""
        chunks = split_message(text)
        if not chunks or self._edited or self.expired:
            return
        response = await self._api.edit_original(
            self._interaction.token,
            message(chunks[0], ephemeral=self.ephemeral),
            describe=self._describe("streaming edit"),
            attempts=PREVIEW_ATTEMPTS,
        )
        if token_expired(response):
            self._token_dead = True
        elif response is None or not response.is_success:
            logger.warning("%s failed: %s", self._describe("streaming edit"), describe_failure(response))

    async def _deliver(self, chunk: str) -> None:
        if not self.expired:
            body = message(chunk, ephemeral=self.ephemeral)
            token = self._interaction.token
            if not self._edited:
                self._edited = True
                action = "edit of the original response"
                response = await self._api.edit_original(token, body, describe=self._describe(action))
            else:
                action = "follow-up message"
                response = await self._api.follow_up(token, body, describe=self._describe(action))
            if response is not None and response.is_success:
                return
            if not token_expired(response):
                logger.error("%s failed: %s", self._describe(action), describe_failure(response))
                return
            self._token_dead = True
        await self._fallback(chunk)

    async def _fallback(self, chunk: str) -> None:
        channel_id = self._interaction.channel_id
        usable = not self.ephemeral and self._api.has_bot_token and channel_id is not None
        if not self._expiry_logged:
            self._expiry_logged = True
            logger.warning(
                "interaction %s outlived its 15-minute token; %s",
                self._interaction.id,
                "answering with a channel message instead" if usable else "its answer cannot be delivered",
            )
        if not usable or channel_id is None:
            return
        describe = self._describe("channel message")
        response = await self._api.channel_message(channel_id, message(chunk), describe=describe)
        if response is None or not response.is_success:
            logger.error("%s failed: %s", describe, describe_failure(response))
