"""Telegram updates in, typed events and `ChannelRequest`s out. Pure: no I/O.

Every function accepts any JSON value and never raises on odd input: what it
cannot read becomes `Ignored`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_framework import Content, Message
from agent_framework_hosting import ChannelIdentity, ChannelRequest, ChannelSession

CHANNEL = "telegram"
MESSAGE_OPERATION = "message.create"
COMMAND_OPERATION = "command.invoke"
UNSUPPORTED_MEDIA = (
    "sticker", "voice", "audio", "video", "video_note", "animation", "location", "venue",
    "contact", "poll", "dice", "game", "story", "paid_media",
)  # fmt: skip
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]{1,64}))?(?:\s+([\s\S]*))?$")


def telegram_isolation_key(chat_id: Any) -> str:
    """The isolation key of a Telegram chat: ``telegram:<chat_id>``."""
    return f"telegram:{chat_id}"


@dataclass(frozen=True)
class Sender:
    id: int
    username: str | None = None
    first_name: str | None = None


@dataclass(frozen=True)
class ReplyTarget:
    """Where answers go: the chat, the forum topic, and the message being answered."""

    chat_id: int
    chat_type: str = "private"
    message_id: int | None = None
    thread_id: int | None = None

    @property
    def private(self) -> bool:
        return self.chat_type == "private"


@dataclass(frozen=True)
class ImageRef:
    file_id: str
    media_type: str
    file_size: int | None = None


@dataclass(frozen=True)
class TextMessage:
    update_id: int
    target: ReplyTarget
    sender: Sender
    text: str
    image: ImageRef | None = None


@dataclass(frozen=True)
class CommandMessage:
    update_id: int
    target: ReplyTarget
    sender: Sender
    name: str
    args: str
    text: str


@dataclass(frozen=True)
class CallbackQuery:
    update_id: int
    query_id: str
    sender: Sender
    target: ReplyTarget | None
    data: str | None


@dataclass(frozen=True)
class Unsupported:
    """Something a user sent that the channel cannot pass to the agent (a sticker, an edit)."""

    update_id: int
    target: ReplyTarget
    kind: str


@dataclass(frozen=True)
class Ignored:
    update_id: int | None
    reason: str


Event = TextMessage | CommandMessage | CallbackQuery | Unsupported | Ignored


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _is_map(value: Any) -> bool:
    # parsed JSON is a dict: the plain check first spares the slower ABC check on every webhook
    return isinstance(value, dict) or isinstance(value, Mapping)


def _map(value: Any) -> Mapping[str, Any]:
    return value if _is_map(value) else {}


def update_id_of(update: Any) -> int | None:
    return _int(update.get("update_id")) if _is_map(update) else None


def chat_key(update: Any) -> str | None:
    """The chat an update belongs to, for keeping one chat's updates in order."""
    if not _is_map(update):
        return None
    for kind in ("message", "edited_message"):
        chat_id = _int(_map(_map(update.get(kind)).get("chat")).get("id"))
        if chat_id is not None:
            return str(chat_id)
    chat_id = _int(_map(_map(_map(update.get("callback_query")).get("message")).get("chat")).get("id"))
    return None if chat_id is None else str(chat_id)


def _sender(value: Any) -> Sender | None:
    data = _map(value)
    sender_id = _int(data.get("id"))
    if sender_id is None:
        return None
    return Sender(sender_id, _str(data.get("username")), _str(data.get("first_name")))


def _target(message: Mapping[str, Any]) -> ReplyTarget | None:
    chat = _map(message.get("chat"))
    chat_id = _int(chat.get("id"))
    if chat_id is None:
        return None
    thread = _int(message.get("message_thread_id")) if message.get("is_topic_message") is True else None
    return ReplyTarget(chat_id, _str(chat.get("type")) or "private", _int(message.get("message_id")), thread)


def _image(message: Mapping[str, Any]) -> ImageRef | None:
    photo = message.get("photo")
    if isinstance(photo, Sequence) and not isinstance(photo, str):
        sizes = [size for size in photo if isinstance(size, Mapping) and _str(size.get("file_id"))]
        if sizes:
            largest = sizes[-1]
            return ImageRef(largest["file_id"], "image/jpeg", _int(largest.get("file_size")))
    document = _map(message.get("document"))
    file_id, mime = _str(document.get("file_id")), _str(document.get("mime_type"))
    if file_id and mime in IMAGE_TYPES:
        return ImageRef(file_id, mime, _int(document.get("file_size")))
    return None


def parse_command(text: str, bot_username: str | None = None) -> tuple[str, str] | None | bool:
    """``(name, args)`` for ``/name[@bot] args``; False when addressed to another bot; None when not a command."""
    match = _COMMAND.match(text.strip())
    if match is None or len(match.group(1)) > 32:
        return None
    addressee = match.group(2)
    if addressee and bot_username and addressee.lower() != bot_username.lower():
        return False
    return match.group(1).lower(), (match.group(3) or "").strip()


def parse_update(update: Any, *, bot_username: str | None = None) -> Event:
    """Classify one update."""
    update_id = update_id_of(update)
    if update_id is None:
        return Ignored(None, "no update_id")
    if "message" in update:
        return _parse_message(update_id, _map(update["message"]), bot_username)
    if "edited_message" in update:
        edited = _map(update["edited_message"])
        target, sender = _target(edited), _sender(edited.get("from"))
        if target is None or sender is None:
            return Ignored(update_id, "edited message without chat or sender")
        return Unsupported(update_id, target, "edited_message")
    if "callback_query" in update:
        query = _map(update["callback_query"])
        query_id, sender = _str(query.get("id")), _sender(query.get("from"))
        if not query_id or sender is None:
            return Ignored(update_id, "callback query without id or sender")
        return CallbackQuery(update_id, query_id, sender, _target(_map(query.get("message"))), _str(query.get("data")))
    return Ignored(update_id, "unhandled update kind")


def _parse_message(update_id: int, message: Mapping[str, Any], bot_username: str | None) -> Event:
    target, sender = _target(message), _sender(message.get("from"))
    if target is None or sender is None:
        return Ignored(update_id, "message without chat or sender")
    if _map(message.get("from")).get("is_bot") is True:
        return Ignored(update_id, "message from a bot")
    text = _str(message.get("text"))
    if text is not None:
        command = parse_command(text, bot_username)
        if command is False:
            return Ignored(update_id, "command for another bot")
        if isinstance(command, tuple):
            return CommandMessage(update_id, target, sender, command[0], command[1], text)
    text = text if text is not None else _str(message.get("caption"))
    image = _image(message)
    if text or image:
        return TextMessage(update_id, target, sender, text or "", image)
    for kind in (*UNSUPPORTED_MEDIA, "document"):
        if kind in message:
            return Unsupported(update_id, target, kind)
    return Ignored(update_id, "service message")


def identity(sender: Sender, target: ReplyTarget | None) -> ChannelIdentity:
    attributes: dict[str, Any] = {"username": sender.username, "first_name": sender.first_name}
    if target is not None:
        attributes.update(chat_id=target.chat_id, chat_type=target.chat_type)
    return ChannelIdentity(CHANNEL, str(sender.id), {k: v for k, v in attributes.items() if v is not None})


def _attributes(update_id: int, target: ReplyTarget) -> dict[str, Any]:
    attributes: dict[str, Any] = {"chat_id": target.chat_id, "chat_type": target.chat_type, "update_id": update_id}
    if target.message_id is not None:
        attributes["message_id"] = target.message_id
    if target.thread_id is not None:
        attributes["message_thread_id"] = target.thread_id
    return attributes


def message_request(
    event: TextMessage, *, image: Content | None = None, stream: bool = False, channel: str = CHANNEL
) -> ChannelRequest:
    """The agent turn for a message; `image` is the downloaded photo, if any."""
    contents: list[Content] = []
    if event.text:
        contents.append(Content.from_text(event.text))
    if image is not None:
        contents.append(image)
    if not contents:
        contents.append(Content.from_text(""))
    return ChannelRequest(
        channel=channel,
        operation=MESSAGE_OPERATION,
        input=[Message(role="user", contents=contents)],
        session=ChannelSession(telegram_isolation_key(event.target.chat_id)),
        attributes=_attributes(event.update_id, event.target),
        stream=stream,
        identity=identity(event.sender, event.target),
    )


def callback_request(event: CallbackQuery, *, stream: bool = False, channel: str = CHANNEL) -> ChannelRequest | None:
    """The agent turn for a button press carrying data, or None when there is nothing to run."""
    if event.target is None or not event.data:
        return None
    attributes = _attributes(event.update_id, event.target)
    attributes["callback_query_id"] = event.query_id
    return ChannelRequest(
        channel=channel,
        operation=MESSAGE_OPERATION,
        input=event.data,
        session=ChannelSession(telegram_isolation_key(event.target.chat_id)),
        attributes=attributes,
        stream=stream,
        identity=identity(event.sender, event.target),
    )


def command_request(event: CommandMessage, *, channel: str = CHANNEL) -> ChannelRequest:
    attributes = _attributes(event.update_id, event.target)
    attributes.update(command=event.name, args=event.args)
    return ChannelRequest(
        channel=channel,
        operation=COMMAND_OPERATION,
        input=event.text,
        session=ChannelSession(telegram_isolation_key(event.target.chat_id)),
        attributes=attributes,
        identity=identity(event.sender, event.target),
    )
