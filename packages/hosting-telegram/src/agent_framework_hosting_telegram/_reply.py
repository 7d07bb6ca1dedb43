"""Sending answers: formatted chunks, plain-text fallback, streamed drafts and edits, the typing indicator."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from ._api import BotApi, TelegramApiError
from ._html import MESSAGE_LIMIT, escape, html_to_text, split_html
from ._markdown import markdown_to_html
from ._parse import ReplyTarget

logger = logging.getLogger("agent_framework.hosting.telegram")
NO_RESPONSE = "(no response)"


@dataclass(frozen=True)
class Chunk:
    """One message's text, its parse mode, and the plain text to send if Telegram rejects the formatting."""

    text: str
    parse_mode: str | None
    plain: str


class Formatter:
    """The agent's text as message chunks: Markdown rendered to HTML by default, split at `limit`."""

    def __init__(
        self, parse_mode: str | None = "HTML", render: Callable[[str], str] | None = None, limit: int = MESSAGE_LIMIT
    ) -> None:
        self.parse_mode = parse_mode
        self.render = render
        self.limit = limit

    def chunks(self, text: str) -> list[Chunk]:
        if self.parse_mode == "HTML":
            markup = (self.render or markdown_to_html)(text)
            return [Chunk(part, "HTML", html_to_text(part)) for part in split_html(markup, self.limit)]
        rendered = self.render(text) if self.render else text
        parts = [html_to_text(part) for part in split_html(escape(rendered), self.limit)]
        return [Chunk(part, self.parse_mode, part) for part in parts]


def address(target: ReplyTarget, *, reply: bool = False) -> dict[str, Any]:
    payload: dict[str, Any] = {"chat_id": target.chat_id}
    if target.thread_id is not None:
        payload["message_thread_id"] = target.thread_id
    if reply and not target.private and target.message_id is not None:
        payload["reply_parameters"] = {"message_id": target.message_id, "allow_sending_without_reply": True}
    return payload


def _text_payload(chunk: Chunk, plain: bool) -> dict[str, Any]:
    if plain or chunk.parse_mode is None:
        return {"text": chunk.plain}
    return {"text": chunk.text, "parse_mode": chunk.parse_mode}


class Outbox:
    """Sends and edits messages for one bot, resending as plain text when formatting is refused."""

    def __init__(self, api: BotApi, formatter: Formatter) -> None:
        self.api = api
        self.formatter = formatter
        self.drafts_refused = False
        self._draft_ids = itertools.count(secrets.randbelow(2**30) + 1)

    def next_draft_id(self) -> int:
        """A non-zero draft id, unique per turn in this process (random start, so unlikely to repeat a restart's)."""
        return next(self._draft_ids)

    async def send(self, target: ReplyTarget, chunk: Chunk, *, reply: bool = False, attempts: int = 4) -> int | None:
        """Send one chunk; returns the new message's id."""
        base = address(target, reply=reply)
        try:
            result = await self.api.call("sendMessage", {**base, **_text_payload(chunk, False)}, attempts=attempts)
        except TelegramApiError as error:
            if not (error.bad_entities and chunk.parse_mode):
                raise
            logger.warning("telegram: chat %s refused the formatting; resending as plain text", target.chat_id)
            result = await self.api.call("sendMessage", {**base, **_text_payload(chunk, True)}, attempts=attempts)
        message_id = result.get("message_id") if isinstance(result, dict) else None
        return message_id if isinstance(message_id, int) else None

    async def edit(self, target: ReplyTarget, message_id: int, chunk: Chunk, *, attempts: int = 4) -> None:
        base = {"chat_id": target.chat_id, "message_id": message_id}
        try:
            try:
                await self.api.call("editMessageText", {**base, **_text_payload(chunk, False)}, attempts=attempts)
            except TelegramApiError as error:
                if not (error.bad_entities and chunk.parse_mode):
                    raise
                await self.api.call("editMessageText", {**base, **_text_payload(chunk, True)}, attempts=attempts)
        except TelegramApiError as error:
            if not error.not_modified:
                raise

    async def draft(self, target: ReplyTarget, draft_id: int, chunk: Chunk, *, attempts: int = 1) -> None:
        """Show `chunk` as the animated draft `draft_id` (``sendMessageDraft``, private chats only)."""
        base = {**address(target), "draft_id": draft_id}
        try:
            await self.api.call("sendMessageDraft", {**base, **_text_payload(chunk, False)}, attempts=attempts)
        except TelegramApiError as error:
            if not (error.bad_entities and chunk.parse_mode):
                raise
            await self.api.call("sendMessageDraft", {**base, **_text_payload(chunk, True)}, attempts=attempts)

    async def deliver(self, target: ReplyTarget, text: str, *, reply: bool = True) -> bool:
        """Send a whole answer as one or more messages; a failure is logged with the chat id."""
        return await self.deliver_from(target, text, reply=reply) is None

    async def deliver_from(
        self, target: ReplyTarget, text: str, *, start: int = 0, reply: bool = True
    ) -> tuple[int, TelegramApiError] | None:
        """Send the answer's chunks from `start` on; the first chunk that failed and why, or None when all went."""
        chunks = self.formatter.chunks(text) or self.formatter.chunks(NO_RESPONSE)
        for index in range(start, len(chunks)):
            try:
                await self.send(target, chunks[index], reply=reply and index == 0)
            except TelegramApiError as error:
                logger.error(
                    "telegram: could not deliver part %d/%d of a reply to chat %s: %s",
                    index + 1, len(chunks), target.chat_id, error,
                )  # fmt: skip
                return index, error
        return None

    async def notice(self, target: ReplyTarget, text: str) -> bool:
        """A short plain-text message (greetings, confirmations, apologies)."""
        try:
            await self.send(target, Chunk(text, None, text), reply=False)
        except TelegramApiError as error:
            logger.error("telegram: could not deliver a notice to chat %s: %s", target.chat_id, error)
            return False
        return True

    async def send_images(self, target: ReplyTarget, uris: list[str]) -> None:
        """Send images the answer links to as photos."""
        for uri in uris:
            try:
                await self.api.call("sendPhoto", {**address(target), "photo": uri})
            except TelegramApiError as error:
                logger.error("telegram: could not deliver an image to chat %s: %s", target.chat_id, error)


def image_uris(response: Any) -> list[str]:
    """HTTPS image links among the ``uri`` contents of the answer's last assistant message."""
    messages = [m for m in getattr(response, "messages", None) or () if getattr(m, "role", None) == "assistant"]
    if not messages:
        return []
    uris: list[str] = []
    for content in messages[-1].contents or ():
        uri, media_type = getattr(content, "uri", None), getattr(content, "media_type", None) or ""
        if (
            content.type == "uri"
            and isinstance(uri, str)
            and uri.startswith("https://")
            and media_type.startswith("image/")
        ):
            uris.append(uri)
    return uris


class LiveReply:
    """The messages showing one streamed answer: sent once, then edited (a `LiveEdit` show).

    Interim edits make one attempt each (the next edit supersedes a failed one,
    and a 429 holds edits for its ``retry_after``); the final edit retries.
    """

    edits_messages = True

    def __init__(self, outbox: Outbox, target: ReplyTarget) -> None:
        self.outbox = outbox
        self.target = target
        self.message_ids: list[int] = []
        self._shown: list[Chunk | None] = []

    async def show(self, text: str) -> float | None:
        """Show the text so far; returns how long to hold further edits (after a 429)."""
        try:
            await self._show(self.outbox.formatter.chunks(text), attempts=1)
        except TelegramApiError as error:
            logger.debug("telegram: interim update for chat %s failed: %s", self.target.chat_id, error.description)
            return error.retry_after or None
        return None

    async def finish(self, text: str) -> bool:
        """Show the complete answer, formatted, splitting it into more messages when it is long."""
        chunks = self.outbox.formatter.chunks(text) or self.outbox.formatter.chunks(NO_RESPONSE)
        try:
            await self._show(chunks, attempts=4)
        except TelegramApiError as error:
            logger.error("telegram: could not deliver the end of a reply to chat %s: %s", self.target.chat_id, error)
            return False
        for message_id in self.message_ids[len(chunks) :]:
            with contextlib.suppress(TelegramApiError):
                await self.outbox.api.call("deleteMessage", {"chat_id": self.target.chat_id, "message_id": message_id})
        del self.message_ids[len(chunks) :]
        return True

    async def _show(self, chunks: list[Chunk], *, attempts: int) -> None:
        for index, chunk in enumerate(chunks):
            if index < len(self.message_ids):
                if self._shown[index] == chunk:
                    continue
                await self.outbox.edit(self.target, self.message_ids[index], chunk, attempts=attempts)
                self._shown[index] = chunk
            else:
                message_id = await self.outbox.send(self.target, chunk, reply=index == 0, attempts=attempts)
                if message_id is None:
                    raise TelegramApiError("sendMessage", "answer had no message_id")
                self.message_ids.append(message_id)
                self._shown.append(chunk)


class DraftReply:
    """One streamed answer in a private chat: an animated draft (a `LiveEdit` show), then real messages.

    If Telegram refuses ``sendMessageDraft`` (any 4xx but 429), the turn goes on
    as a `LiveReply`; unless the refusal is about this chat (403), the outbox
    offers no more drafts until restart.
    """

    def __init__(self, outbox: Outbox, target: ReplyTarget) -> None:
        self.outbox = outbox
        self.target = target
        self.draft_id = outbox.next_draft_id()
        self.fallback: LiveReply | None = None

    @property
    def edits_messages(self) -> bool:
        """Whether the final answer edits messages (so keeps the edit pace): only after falling back."""
        return self.fallback is not None

    @property
    def message_ids(self) -> list[int]:
        return self.fallback.message_ids if self.fallback is not None else []

    async def show(self, text: str) -> float | None:
        """Show the text so far in the draft (its last message-sized part); returns a hold after a 429."""
        if self.fallback is not None:
            return await self.fallback.show(text)
        chunks = [chunk for chunk in self.outbox.formatter.chunks(text) if chunk.plain.strip()]
        if not chunks:
            return None
        try:
            await self.outbox.draft(self.target, self.draft_id, chunks[-1])
        except TelegramApiError as error:
            if error.error_code == 429:
                return error.retry_after or None
            if error.error_code is not None and 400 <= error.error_code < 500:
                return await self._fall_back(error, text)
            logger.debug("telegram: draft update for chat %s failed: %s", self.target.chat_id, error.description)
        return None

    async def _fall_back(self, error: TelegramApiError, text: str) -> float | None:
        if error.error_code == 403:
            logger.info("telegram: chat %s refused a draft (%s); editing for this turn", self.target.chat_id, error)
        else:
            logger.warning(
                "telegram: sendMessageDraft was refused (%s); streaming by editing messages until restart", error
            )
            self.outbox.drafts_refused = True
        self.fallback = LiveReply(self.outbox, self.target)
        return await self.fallback.show(text)

    async def finish(self, text: str) -> bool:
        """Send the complete answer as real messages (split when long); the draft gives way to them."""
        if self.fallback is not None:
            return await self.fallback.finish(text)
        return await self.outbox.deliver(self.target, text)


@contextlib.asynccontextmanager
async def typing(api: BotApi, target: ReplyTarget, *, enabled: bool, interval: float) -> AsyncIterator[None]:
    """Keep the "typing…" indicator on (it lasts ~5 s) until the block ends."""
    if not enabled:
        yield
        return

    async def keep_typing() -> None:
        while True:
            try:
                await api.call("sendChatAction", {**address(target), "action": "typing"}, attempts=1, timeout=10.0)
            except TelegramApiError as error:
                logger.debug("telegram: typing indicator for chat %s failed: %s", target.chat_id, error.description)
            await asyncio.sleep(interval)

    task = asyncio.get_running_loop().create_task(keep_typing(), name=f"telegram-typing-{target.chat_id}")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.wait({task})
