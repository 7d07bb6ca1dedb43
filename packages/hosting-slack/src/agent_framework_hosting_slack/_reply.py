"""Sending answers to Slack: mrkdwn chunks in the right thread, and native streams (start, append, stop)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from agent_framework_hosting.text import FENCE, split_fenced

from ._api import SlackApi, SlackApiError
from ._mrkdwn import escape, markdown_to_mrkdwn
from ._parse import Place

logger = logging.getLogger("agent_framework.hosting.slack")
MESSAGE_LIMIT = 4000
APPEND_LIMIT = 12_000
STREAM_MESSAGE_LIMIT = 36_000
NO_RESPONSE = "(no response)"
Render = Callable[[str], str]


class Formatter:
    """The agent's Markdown as Slack messages: converted to mrkdwn, split at `limit` without breaking code blocks."""

    def __init__(self, render: Render | None = None, limit: int = MESSAGE_LIMIT) -> None:
        self.render = render or markdown_to_mrkdwn
        self.limit = limit

    def chunks(self, text: str) -> list[str]:
        return split_fenced(self.render(text), self.limit) or split_fenced(escape(NO_RESPONSE), self.limit)


def address(place: Place) -> dict[str, Any]:
    payload: dict[str, Any] = {"channel": place.channel}
    if place.thread_ts is not None:
        payload["thread_ts"] = place.thread_ts
    return payload


class Outbox:
    """Posts messages for one bot; failures after the retries are logged with the conversation."""

    def __init__(self, api: SlackApi, formatter: Formatter) -> None:
        self.api = api
        self.formatter = formatter

    async def post(self, place: Place, mrkdwn: str) -> str | None:
        """Post one already formatted message; returns its ``ts``."""
        answer = await self.api.call("chat.postMessage", {**address(place), "text": mrkdwn, "mrkdwn": True})
        ts = answer.get("ts")
        return ts if isinstance(ts, str) else None

    async def update(self, place: Place, ts: str, mrkdwn: str) -> None:
        await self.api.call("chat.update", {"channel": place.channel, "ts": ts, "text": mrkdwn})

    async def deliver(self, place: Place, text: str) -> bool:
        """Send a whole answer (Markdown) as one or more messages."""
        chunks = self.formatter.chunks(text)
        for index, chunk in enumerate(chunks):
            try:
                await self.post(place, chunk)
            except SlackApiError as error:
                logger.error(
                    "slack: could not deliver part %d/%d of a reply to %s: %s",
                    index + 1, len(chunks), place.conversation_key, error,
                )  # fmt: skip
                return False
        return True

    async def notice(self, place: Place, text: str) -> bool:
        """A short plain-text message (confirmations, apologies)."""
        try:
            await self.post(place, escape(text))
        except SlackApiError as error:
            logger.error("slack: could not deliver a notice to %s: %s", place.conversation_key, error)
            return False
        return True


def _open_fence(text: str) -> bool:
    return text.count(FENCE) % 2 == 1


class StreamRefused(SlackApiError):
    """Slack refused ``chat.startStream`` for a reason other than load: stream this answer another way."""

    def __init__(self, error: SlackApiError) -> None:
        super().__init__(error.method, error.error, platform_status=error.platform_status)


class NativeStream:
    """One answer streamed into a thread with ``chat.startStream`` / ``appendStream`` / ``stopStream``.

    Text is sent as Markdown (Slack renders it). Appends go out at most every
    `min_interval` seconds, each at most `APPEND_LIMIT` characters; a message
    that grows past `message_limit` is stopped and the answer continues in a
    new streamed message (a code block cut there is closed and reopened).
    """

    def __init__(self, api: SlackApi, place: Place, *, min_interval: float, message_limit: int = STREAM_MESSAGE_LIMIT):
        if place.thread_ts is None:
            raise ValueError("native streams are replies in a thread")
        self.api = api
        self.place = place
        self.min_interval = min_interval
        self.message_limit = message_limit
        self.messages: list[str] = []
        self._pending = ""
        self._in_message = ""
        self._streamed = ""
        self._last = float("-inf")
        self._hold_until = 0.0

    @property
    def started(self) -> bool:
        return bool(self.messages)

    @property
    def streamed(self) -> str:
        """Everything sent so far (across messages, without the fences added at cuts)."""
        return self._streamed

    def add(self, text: str) -> None:
        self._pending += text

    def due(self) -> bool:
        now = time.monotonic()
        return bool(self._pending.strip()) and now - self._last >= self.min_interval and now >= self._hold_until

    async def refresh(self) -> None:
        """Send what is pending when due; raises `StreamRefused` if Slack will not start a stream."""
        if not self.due():
            return
        try:
            await self._flush(attempts=1)
        except StreamRefused:
            raise
        except SlackApiError as error:
            if error.rate_limited:
                self._hold_until = time.monotonic() + 1.0
            logger.debug("slack: interim stream update in %s failed: %s", self.place.conversation_key, error)

    async def finish(self, final_text: str | None = None) -> None:
        """Send the rest and stop the stream; `final_text` (the hooked final answer) wins if it differs."""
        if final_text is not None and final_text != self._streamed + self._pending:
            if final_text.startswith(self._streamed):
                self._pending = final_text[len(self._streamed) :]
            else:
                await self._replace(final_text)
                return
        wait = max(self._last + self.min_interval, self._hold_until) - time.monotonic()
        if wait > 0 and self._pending:
            await asyncio.sleep(wait)
        if self._pending or not self.messages:
            await self._flush(attempts=4, ensure_text=True)
        await self._stop()

    async def _flush(self, *, attempts: int, ensure_text: bool = False) -> None:
        while self._pending or (ensure_text and not self.messages):
            room = self.message_limit - len(self._in_message)
            piece = self._pending[: min(room, APPEND_LIMIT)]
            if len(piece) < len(self._pending) and len(piece) == room:
                cut = piece.rfind("\n")
                piece = piece[: cut + 1] if cut > room // 2 else piece
            if not self.messages:
                await self._start(piece or NO_RESPONSE, attempts=attempts)
            elif piece:
                await self._append(piece, attempts=attempts)
            self._pending = self._pending[len(piece) :]
            self._streamed += piece
            if self._pending and len(self._in_message) >= self.message_limit - 8:
                await self._roll_over(attempts=attempts)
            ensure_text = False

    async def _start(self, text: str, *, attempts: int) -> None:
        payload: dict[str, Any] = {**address(self.place), "markdown_text": text}
        if not self.place.dm:
            payload["recipient_user_id"] = self.place.user
            payload["recipient_team_id"] = self.place.user_team or self.place.team
        self._last = time.monotonic()
        try:
            answer = await self.api.call("chat.startStream", payload, attempts=attempts)
        except SlackApiError as error:
            if not self.messages and not error.transient:
                raise StreamRefused(error) from None
            raise
        ts = answer.get("ts")
        if not isinstance(ts, str):
            raise SlackApiError("chat.startStream", "no ts in the answer")
        self.messages.append(ts)
        self._in_message = text

    async def _append(self, text: str, *, attempts: int) -> None:
        self._last = time.monotonic()
        payload = {"channel": self.place.channel, "ts": self.messages[-1], "markdown_text": text}
        await self.api.call("chat.appendStream", payload, attempts=attempts)
        self._in_message += text

    async def _roll_over(self, *, attempts: int) -> None:
        """Stop the full message and continue in a new one, keeping a code block open across the cut."""
        reopen = _open_fence(self._in_message)
        if reopen:
            await self._append("\n" + FENCE, attempts=attempts)
        await self._stop()
        prefix = FENCE + "\n" if reopen else ""
        first = self._pending[: APPEND_LIMIT - len(prefix)]
        await self._start(prefix + first, attempts=attempts)
        self._pending = self._pending[len(first) :]
        self._streamed += first

    async def _stop(self) -> None:
        if not self.messages:
            return
        try:
            await self.api.call("chat.stopStream", {"channel": self.place.channel, "ts": self.messages[-1]})
        except SlackApiError as error:
            logger.error("slack: could not stop a stream in %s: %s", self.place.conversation_key, error)

    async def _replace(self, final_text: str) -> None:
        """The hooked final answer differs from what was streamed: stop, then replace each message's text."""
        await self._stop()
        chunks = Formatter().chunks(final_text)
        for index, ts in enumerate(self.messages):
            text = chunks[index] if index < len(chunks) else " "
            try:
                await self.api.call("chat.update", {"channel": self.place.channel, "ts": ts, "text": text})
            except SlackApiError as error:
                logger.error("slack: could not replace a streamed answer in %s: %s", self.place.conversation_key, error)
        for chunk in chunks[len(self.messages) :]:
            await self.api.call("chat.postMessage", {**address(self.place), "text": chunk})
