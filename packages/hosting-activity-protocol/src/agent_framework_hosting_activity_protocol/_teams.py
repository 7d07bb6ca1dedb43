"""The Teams streaming protocol for one turn: informative update, streaming chunks, final message."""

from __future__ import annotations

import logging
from typing import Any

from agent_framework_hosting.streaming import STOP, LiveEdit
from agent_framework_hosting.text import split_text

from ._connector import Connector, DeliveryError
from ._parse import InboundActivity
from ._render import chunk_messages, final_stream_message, informative_update, streaming_update

logger = logging.getLogger("agent_framework.hosting.activity")

EMPTY_REPLY = "(no response)"


def stream_refused(status: int | None) -> bool:
    """Any 4xx on a stream activity (400, 403, 405 "Streaming API is not enabled", ...) ends streaming."""
    return status is not None and 400 <= status < 500


class TeamsStream:
    """Streams one answer into a Teams chat, falling back to plain messages when Teams refuses.

    `start()`, then ``async with streamer.live:`` around the agent's stream, then `finish()`.
    Chunks go out through a `LiveEdit` (at most one per `min_interval`, each
    carrying all text so far), so a slow connector never holds up the agent.
    """

    def __init__(
        self,
        connector: Connector,
        inbound: InboundActivity,
        *,
        min_interval: float,
        limit: int,
        informative_text: str | None,
    ) -> None:
        self._connector = connector
        self._inbound = inbound
        self._live = LiveEdit(self._show, min_interval=min_interval, limit=limit)
        self._limit = limit
        self._informative_text = informative_text
        self._stream_id: str | None = None
        self._sequence = 0
        self._streaming = True

    @property
    def text(self) -> str:
        return self._live.text

    @property
    def streaming(self) -> bool:
        """False once Teams refused the stream (the answer then goes out as plain messages)."""
        return self._streaming

    @property
    def live(self) -> LiveEdit:
        """The live-edit loop; ``async with streamer.live:`` around the agent's stream."""
        return self._live

    async def start(self) -> None:
        """Send the informative update, if any."""
        if self._informative_text:
            self._sequence = 1
            await self._post(informative_update(self._inbound, self._informative_text))

    def add(self, text: str) -> None:
        self._live.add(text)

    async def _show(self, text: str) -> float | None:
        if not self._streaming:
            return STOP
        self._sequence += 1
        await self._post(streaming_update(self._inbound, text, stream_id=self._stream_id, sequence=self._sequence))
        return None if self._streaming else STOP

    async def _post(self, activity: dict[str, Any]) -> None:
        try:
            answer = await self._connector.send(self._inbound, activity)
        except DeliveryError as error:
            if stream_refused(error.platform_status):
                self._streaming = False
                logger.info(
                    "Teams stopped the stream in conversation %s (%s: %s); sending a plain message",
                    self._inbound.conversation_id,
                    error.platform_status,
                    error.detail,
                )
            else:
                logger.warning("stream update in conversation %s failed: %s", self._inbound.conversation_id, error)
            return
        if self._stream_id is None:
            stream_id = answer.get("id")
            if isinstance(stream_id, str) and stream_id:
                self._stream_id = stream_id
            else:
                self._streaming = False

    async def finish(self, text: str, attachments: list[dict[str, Any]] | None = None) -> None:
        """End the stream with the whole answer (or send it as plain messages); raises `DeliveryError`."""
        chunks = split_text(text, self._limit) if text else []
        if self._streaming and self._stream_id is not None:
            first = chunks[0] if chunks else EMPTY_REPLY
            final = final_stream_message(
                self._inbound,
                first,
                stream_id=self._stream_id,
                attachments=attachments if len(chunks) <= 1 else None,
            )
            try:
                await self._connector.send(self._inbound, final)
            except DeliveryError as error:
                if not stream_refused(error.platform_status):
                    raise
                logger.info(
                    "Teams refused the final stream message (%s); sending a plain message", error.platform_status
                )
            else:
                rest = chunk_messages(self._inbound, chunks[1:], attachments) if len(chunks) > 1 else []
                for activity in rest:
                    await self._connector.send(self._inbound, activity)
                return
        for activity in chunk_messages(self._inbound, chunks, attachments):
            await self._connector.send(self._inbound, activity)
