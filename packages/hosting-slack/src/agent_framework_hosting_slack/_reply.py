"""Sending answers to Slack: mrkdwn chunks in the right thread, and native streams (start, append, stop)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from agent_framework_hosting.streaming import STOP
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

    async def post(self, place: Place, mrkdwn: str, *, attempts: int | None = None) -> str | None:
        """Post one already formatted message; returns its ``ts``."""
        payload = {**address(place), "text": mrkdwn, "mrkdwn": True}
        answer = await self.api.call("chat.postMessage", payload, attempts=attempts)
        ts = answer.get("ts")
        return ts if isinstance(ts, str) else None

    async def update(self, place: Place, ts: str, mrkdwn: str, *, attempts: int | None = None) -> None:
        await self.api.call("chat.update", {"channel": place.channel, "ts": ts, "text": mrkdwn}, attempts=attempts)

    async def deliver(self, place: Place, text: str) -> bool:
        """Send a whole answer (Markdown) as one or more messages; a failure is logged."""
        return await self.deliver_or_failure(place, text) is None

    async def deliver_or_failure(self, place: Place, text: str) -> SlackApiError | None:
        """Send a whole answer (Markdown) as one or more messages; the error that stopped it, or None."""
        chunks = self.formatter.chunks(text)
        for index, chunk in enumerate(chunks):
            try:
                await self.post(place, chunk)
            except SlackApiError as error:
                logger.error(
                    "slack: could not deliver part %d/%d of a reply to %s: %s",
                    index + 1, len(chunks), place.conversation_key, error,
                )  # fmt: skip
                return error
        return None

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

    `show(text)` (the live-edit loop's callback) sends what `text` adds to what
    was streamed, as Markdown (Slack renders it), at most `APPEND_LIMIT`
    characters a call; a message that grows past `message_limit` is stopped and
    the answer continues in a new streamed message (a code block cut there is
    closed and reopened). `finish` sends the rest and stops the stream.
    """

    def __init__(self, api: SlackApi, place: Place, *, message_limit: int = STREAM_MESSAGE_LIMIT) -> None:
        if place.thread_ts is None:
            raise ValueError("native streams are replies in a thread")
        self.api = api
        self.place = place
        self.message_limit = message_limit
        self.messages: list[str] = []
        self.refused: SlackApiError | None = None
        self._pending = ""
        self._in_message = ""
        self._streamed = ""
        self._stopped = False

    @property
    def started(self) -> bool:
        return bool(self.messages)

    @property
    def streamed(self) -> str:
        """Everything sent so far (across messages, without the fences added at cuts)."""
        return self._streamed

    async def show(self, text: str) -> float | None:
        """Stream what `text` adds; returns seconds to hold on a 429, `STOP` when Slack refuses streams."""
        if not text.startswith(self._streamed):
            return None
        self._pending = text[len(self._streamed) :]
        try:
            await self._flush(attempts=1)
        except StreamRefused as refusal:
            self.refused = refusal
            return STOP
        except SlackApiError as error:
            logger.debug("slack: interim stream update in %s failed: %s", self.place.conversation_key, error)
            return error.retry_after or (1.0 if error.rate_limited else None)
        return None

    async def finish(self, final_text: str) -> None:
        """Send the rest of `final_text` and stop; a final text that differs from what was streamed replaces it."""
        if not final_text.startswith(self._streamed):
            await self._replace(final_text)
            return
        self._pending = final_text[len(self._streamed) :]
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
        self._stopped = False

    async def _append(self, text: str, *, attempts: int) -> None:
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

    async def abandon(self) -> None:
        """The turn failed or was stopped: end the streamed message where it is (Slack would leave it open)."""
        if self.messages and not self._stopped:
            await self._stop(attempts=1)

    async def _stop(self, *, attempts: int | None = None) -> None:
        if not self.messages:
            return
        self._stopped = True
        try:
            payload = {"channel": self.place.channel, "ts": self.messages[-1]}
            await self.api.call("chat.stopStream", payload, attempts=attempts)
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


class LiveMessage:
    """One answer shown by posting a message and editing it as it grows (``chat.postMessage`` + ``chat.update``).

    `show(text)` is the live-edit loop's callback; `finish` puts the final answer
    in place, continuing in further messages when it is longer than one.
    """

    def __init__(self, outbox: Outbox, place: Place) -> None:
        self.outbox = outbox
        self.place = place
        self.ts: str | None = None
        self._shown = ""

    async def show(self, text: str) -> float | None:
        first = self.outbox.formatter.chunks(text)[0]
        try:
            await self._put(first, attempts=1)
        except SlackApiError as error:
            logger.debug("slack: interim update in %s failed: %s", self.place.conversation_key, error)
            return error.retry_after or (1.0 if error.rate_limited else None)
        return None

    async def finish(self, text: str) -> bool:
        """Show the complete answer: the first part in the live message, the rest as new messages."""
        chunks = self.outbox.formatter.chunks(text)
        try:
            await self._put(chunks[0], attempts=4)
        except SlackApiError as error:
            logger.error("slack: could not deliver a reply to %s: %s", self.place.conversation_key, error)
            return False
        for index, chunk in enumerate(chunks[1:], start=2):
            try:
                await self.outbox.post(self.place, chunk)
            except SlackApiError as error:
                logger.error("slack: could not deliver part %d/%d of a reply to %s: %s",
                             index, len(chunks), self.place.conversation_key, error)  # fmt: skip
                return False
        return True

    async def _put(self, mrkdwn: str, *, attempts: int) -> None:
        if mrkdwn == self._shown:
            return
        if self.ts is None:
            self.ts = await self.outbox.post(self.place, mrkdwn, attempts=attempts)
        else:
            await self.outbox.update(self.place, self.ts, mrkdwn, attempts=attempts)
        self._shown = mrkdwn
