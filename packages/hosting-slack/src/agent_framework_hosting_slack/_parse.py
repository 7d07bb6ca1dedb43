"""Slack payloads in, typed events and `ChannelRequest`s out. Pure: no I/O.

Every parser accepts any JSON value and never raises on odd input: what it
cannot read becomes `Ignored`.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from agent_framework import Content
from agent_framework_hosting import ChannelIdentity, ChannelRequest, ChannelSession
from agent_framework_hosting.http import parse_json

CHANNEL = "slack"
MESSAGE_OPERATION = "message.create"
COMMAND_OPERATION = "command.invoke"
ACTION_OPERATION = "action.invoke"
USER_TEXT_SUBTYPES = frozenset({"file_share", "thread_broadcast"})
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
DM_CHANNEL_TYPES = frozenset({"im"})
_COMMAND = re.compile(r"^/([A-Za-z0-9_-]{1,32})(?:\s+([\s\S]*))?$")
_SPECIAL = re.compile(r"<([^<>]*)>")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class Place:
    """Where a conversation lives and where answers go: a thread, or the top level of a DM."""

    team: str
    channel: str
    user: str
    thread_ts: str | None = None
    dm: bool = False
    user_team: str | None = None

    @property
    def conversation_key(self) -> str:
        """``slack:<team>:<channel>:<thread_ts>`` for a thread, ``slack:<team>:dm:<user>`` for a DM's top level."""
        if self.thread_ts is not None:
            return f"{CHANNEL}:{self.team}:{self.channel}:{self.thread_ts}"
        return f"{CHANNEL}:{self.team}:dm:{self.user}"

    @property
    def thread_key(self) -> str | None:
        """The key the channel records a thread it takes part in under."""
        return None if self.thread_ts is None else f"{self.team}:{self.channel}:{self.thread_ts}"


@dataclass(frozen=True)
class FileRef:
    id: str
    name: str
    mimetype: str
    url: str
    size: int | None = None

    @property
    def is_image(self) -> bool:
        return self.mimetype in IMAGE_TYPES


@dataclass(frozen=True)
class UrlVerification:
    challenge: str


@dataclass(slots=True)  # not frozen (treat it as read-only): one is made per event; a frozen one costs twice that
class UserMessage:
    """A user's message the bot may answer.

    `needs_thread` is set for a channel message in a thread without a mention:
    the bot answers it only inside threads it is already part of.
    """

    event_id: str
    place: Place
    text: str
    ts: str
    files: tuple[FileRef, ...] = ()
    needs_thread: bool = False


@dataclass(frozen=True)
class AssistantThreadStarted:
    event_id: str
    place: Place


@dataclass(frozen=True)
class SlashCommand:
    place: Place
    command: str
    text: str
    trigger_id: str | None
    response_url: str | None


@dataclass(frozen=True)
class BlockAction:
    place: Place
    value: str
    action_id: str
    trigger_id: str | None
    response_url: str | None


@dataclass(frozen=True)
class Ignored:
    reason: str
    event_id: str | None = None


EventsApiPayload = UrlVerification | UserMessage | AssistantThreadStarted | Ignored


def unescape(text: str) -> str:
    """Slack's wire text as a person reads it: ``<url|label>``, ``<@U1>``, ``<#C1|name>``, ``&amp;`` resolved."""

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return f"@{label or target[1:]}"
        if target.startswith("#"):
            return f"#{label or target[1:]}"
        if target.startswith("!"):
            return f"@{label or target[1:].split('^')[0]}"
        if label and label != target:
            return f"{label} ({target})"
        return target

    if "<" not in text and "&" not in text:
        return text
    return html.unescape(_SPECIAL.sub(replace, text))


@functools.lru_cache(maxsize=64)
def _mention_of(user_id: str) -> re.Pattern[str]:
    return re.compile(rf"[ \t]*<@{re.escape(user_id)}(?:\|[^>]*)?>[:,]?")


def strip_mention(text: str, bot_user_id: str | None) -> str:
    """`text` without the bot's own ``<@BOT>`` mentions."""
    if not bot_user_id or "<@" not in text:
        return text.strip()
    return _mention_of(bot_user_id).sub("", text).strip()


def mentions(text: str, user_id: str | None) -> bool:
    return bool(user_id) and "<@" in text and _mention_of(user_id or "").search(text) is not None


def command_in(text: str) -> tuple[str, str] | None:
    """``(name, args)`` when `text` is ``/name args``; names are matched lower-case."""
    found = _COMMAND.match(text.strip())
    if found is None:
        return None
    return found.group(1).lower(), (found.group(2) or "").strip()


def bot_user_of(envelope: Mapping[str, Any]) -> str | None:
    """The app's bot user id, as the envelope's ``authorizations`` name it."""
    authorizations = envelope.get("authorizations")
    if isinstance(authorizations, Sequence) and not isinstance(authorizations, str):
        for authorization in authorizations:
            entry = _map(authorization)
            if entry.get("is_bot") and _str(entry.get("user_id")):
                return str(entry["user_id"])
    return None


def _files(event: Mapping[str, Any]) -> tuple[FileRef, ...]:
    found: list[FileRef] = []
    raw = event.get("files")
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        return ()
    for item in raw:
        entry = _map(item)
        file_id, url = _str(entry.get("id")), _str(entry.get("url_private_download")) or _str(entry.get("url_private"))
        if file_id is None or url is None:
            continue
        size = entry.get("size")
        found.append(
            FileRef(
                id=file_id,
                name=_str(entry.get("name")) or file_id,
                mimetype=(_str(entry.get("mimetype")) or "application/octet-stream").lower(),
                url=url,
                size=size if isinstance(size, int) and not isinstance(size, bool) else None,
            )
        )
    return tuple(found)


def parse_events_payload(payload: Any, *, bot_user_id: str | None = None) -> EventsApiPayload:
    """An Events API body (or a Socket Mode ``events_api`` payload) as the one thing the channel acts on."""
    if not isinstance(payload, Mapping):
        return Ignored("not an object")
    kind = payload.get("type")
    if kind == "url_verification":
        challenge = _str(payload.get("challenge"))
        return UrlVerification(challenge) if challenge is not None else Ignored("url_verification without challenge")
    if kind != "event_callback":
        return Ignored(f"envelope type {kind!r}")
    event_id = _str(payload.get("event_id"))
    team = _str(payload.get("team_id"))
    event = payload.get("event")
    if event_id is None or team is None or not isinstance(event, Mapping):
        return Ignored("event_callback without event_id, team_id or event")
    bot = bot_user_id or bot_user_of(payload)
    event_type = event.get("type")
    if event_type == "assistant_thread_started":
        return _assistant_thread(event_id, team, event)
    if event_type in ("message", "app_mention"):
        return _message(event_id, team, event, bot, mention_event=event_type == "app_mention")
    return Ignored(f"event type {event_type!r}", event_id)


def _assistant_thread(event_id: str, team: str, event: Mapping[str, Any]) -> AssistantThreadStarted | Ignored:
    thread = _map(event.get("assistant_thread"))
    channel, thread_ts, user = (_str(thread.get(k)) for k in ("channel_id", "thread_ts", "user_id"))
    if channel is None or thread_ts is None or user is None:
        return Ignored("assistant_thread_started without channel_id, thread_ts or user_id", event_id)
    return AssistantThreadStarted(event_id, Place(team, channel, user, thread_ts, dm=True))


def _message(
    event_id: str, team: str, event: Mapping[str, Any], bot: str | None, *, mention_event: bool
) -> UserMessage | Ignored:
    subtype = event.get("subtype")
    if subtype is not None and (not isinstance(subtype, str) or subtype not in USER_TEXT_SUBTYPES):
        return Ignored(f"message subtype {subtype!r}", event_id)
    if event.get("bot_id") is not None or event.get("bot_profile") is not None:
        return Ignored("sent by a bot", event_id)
    user, channel, ts = _str(event.get("user")), _str(event.get("channel")), _str(event.get("ts"))
    if user is None or channel is None or ts is None:
        return Ignored("message without user, channel or ts", event_id)
    if bot is not None and user == bot:
        return Ignored("the bot's own message", event_id)
    given = event.get("text")
    raw_text = given if isinstance(given, str) else ""
    thread_ts = _str(event.get("thread_ts"))
    channel_type = _str(event.get("channel_type"))
    dm = channel_type in DM_CHANNEL_TYPES or (channel_type is None and channel[:1] == "D")
    user_team = _str(event.get("user_team")) or _str(event.get("team")) or team
    files = _files(event)
    text = unescape(strip_mention(raw_text, bot))
    if dm:
        if mention_event:
            return Ignored("a mention in a DM arrives as a message event too", event_id)
        place = Place(team, channel, user, thread_ts, dm=True, user_team=user_team)
        return UserMessage(event_id, place, text, ts, files)
    if mention_event:
        place = Place(team, channel, user, thread_ts or ts, user_team=user_team)
        return UserMessage(event_id, place, text, ts, files)
    if mentions(raw_text, bot):
        return Ignored("a mention is answered through its app_mention event", event_id)
    if thread_ts is None:
        return Ignored("a channel message that does not mention the bot", event_id)
    place = Place(team, channel, user, thread_ts, user_team=user_team)
    return UserMessage(event_id, place, text, ts, files, needs_thread=True)


def _form(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qs(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return {}
    return {key: values[0] for key, values in pairs.items() if values}


def parse_slash_command(body: bytes | Mapping[str, Any]) -> SlashCommand | Ignored:
    """A slash command, from its form body (HTTP) or its payload (Socket Mode)."""
    form = _form(body) if isinstance(body, bytes) else body
    team, channel, user = (_str(form.get(k)) for k in ("team_id", "channel_id", "user_id"))
    command = _str(form.get("command"))
    if team is None or channel is None or user is None or command is None or not command.startswith("/"):
        return Ignored("slash command without team_id, channel_id, user_id or command")
    dm = channel[:1] == "D" or form.get("channel_name") == "directmessage"
    text = form.get("text") if isinstance(form.get("text"), str) else ""
    return SlashCommand(
        place=Place(team, channel, user, None, dm=dm),
        command=command[1:].lower(),
        text=str(text).strip(),
        trigger_id=_str(form.get("trigger_id")),
        response_url=_str(form.get("response_url")),
    )


def interaction_payload(body: bytes) -> Any:
    """The JSON in an interaction's ``payload`` form field, or None; `BadRequest` when it is not sound JSON."""
    raw = _form(body).get("payload")
    return None if raw is None else parse_json(raw)


def parse_block_action(payload: Any) -> BlockAction | Ignored:
    """The first actionable element of a ``block_actions`` interaction (a button's value, a selected option)."""
    if not isinstance(payload, Mapping):
        return Ignored("interaction payload is not an object")
    if payload.get("type") != "block_actions":
        return Ignored(f"interaction type {payload.get('type')!r}")
    team = _str(_map(payload.get("team")).get("id"))
    user = _str(_map(payload.get("user")).get("id"))
    container, message = _map(payload.get("container")), _map(payload.get("message"))
    channel = _str(_map(payload.get("channel")).get("id")) or _str(container.get("channel_id"))
    thread_ts = _str(container.get("thread_ts")) or _str(message.get("thread_ts")) or _str(container.get("message_ts"))
    actions = payload.get("actions")
    if team is None or user is None or channel is None or not isinstance(actions, Sequence) or not actions:
        return Ignored("block_actions without team, user, channel or actions")
    action = _map(actions[0])
    value = (
        _str(action.get("value"))
        or _str(_map(action.get("selected_option")).get("value"))
        or _str(_map(action.get("text")).get("text"))
    )
    if value is None:
        return Ignored("the action carries no value")
    dm = channel[:1] == "D"
    return BlockAction(
        place=Place(team, channel, user, thread_ts, dm=dm),
        value=value,
        action_id=_str(action.get("action_id")) or "",
        trigger_id=_str(payload.get("trigger_id")),
        response_url=_str(payload.get("response_url")),
    )


def identity(place: Place) -> ChannelIdentity:
    attributes = {"team": place.team, "channel": place.channel}
    if place.user_team and place.user_team != place.team:
        attributes["user_team"] = place.user_team
    return ChannelIdentity(CHANNEL, place.user, attributes)


def to_request(
    place: Place,
    text: str,
    *,
    operation: str = MESSAGE_OPERATION,
    images: Sequence[Content] = (),
    stream: bool = False,
    channel: str = CHANNEL,
    metadata: Mapping[str, Any] | None = None,
) -> ChannelRequest:
    """The `ChannelRequest` for a user's turn in `place`: text first, then images as data."""
    contents: list[Any] = [text] if text else []
    contents.extend(images)
    if len(contents) == 1 and isinstance(contents[0], str):
        run_input: Any = contents[0]
    else:
        from agent_framework import Message

        parts = [Content.from_text(item) if isinstance(item, str) else item for item in contents]
        run_input = Message(role="user", contents=parts)
    return ChannelRequest(
        channel=channel,
        operation=operation,
        input=run_input,
        session=ChannelSession(place.conversation_key),
        stream=stream,
        identity=identity(place),
        metadata={"team": place.team, "channel": place.channel, "thread_ts": place.thread_ts, **(metadata or {})},
    )
