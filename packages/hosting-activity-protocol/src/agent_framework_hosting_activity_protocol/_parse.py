"""Pure inbound parsing: an Activity payload in, a validated `InboundActivity` or `ChannelRequest` out."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from agent_framework import Content, Message
from agent_framework_hosting import ChannelIdentity, ChannelRequest, ChannelSession
from agent_framework_hosting.http import BadRequest

_AT_TAG = re.compile(r"<at(?:\s[^>]*)?>(.*?)</at>", re.IGNORECASE | re.DOTALL)
_SPACES = re.compile(r"[ \t]{2,}")


@dataclass(slots=True)  # not frozen: one is made per activity, and a frozen one costs four times as much to make
class InboundActivity:
    """The parts of an inbound Activity the channel acts on, type-checked (treat it as read-only)."""

    raw: Mapping[str, Any]
    type: str
    id: str | None
    channel_id: str
    service_url: str
    conversation: Mapping[str, Any]
    sender: Mapping[str, Any] = field(default_factory=dict)
    recipient: Mapping[str, Any] = field(default_factory=dict)
    text: str = ""
    entities: tuple[Mapping[str, Any], ...] = ()
    attachments: tuple[Mapping[str, Any], ...] = ()
    expect_replies: bool = False
    value: Any = None
    name: str | None = None

    @property
    def conversation_id(self) -> str:
        return str(self.conversation["id"])

    @property
    def sender_id(self) -> str | None:
        value = self.sender.get("id")
        return value if isinstance(value, str) and value else None

    @property
    def recipient_id(self) -> str | None:
        value = self.recipient.get("id")
        return value if isinstance(value, str) and value else None

    @property
    def conversation_type(self) -> str | None:
        value = self.conversation.get("conversationType")
        return value if isinstance(value, str) else None

    @property
    def isolation_key(self) -> str:
        return isolation_key(self.channel_id, self.conversation_id)


def isolation_key(channel_id: str, conversation_id: str) -> str:
    """One session per conversation: `activity:<channelId>:<conversation.id>`."""
    return f"activity:{channel_id}:{conversation_id}"


def _string(payload: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    value = payload.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise BadRequest(f"activity field {name!r} must be a{' non-empty' if required else ''} string", param=name)
    return value


def _account(payload: Mapping[str, Any], name: str, *, required: bool) -> Mapping[str, Any]:
    value = payload.get(name)
    if value is None and not required:
        return {}
    if not isinstance(value, dict) and not isinstance(value, Mapping):  # dict first: the ABC check is slow
        raise BadRequest(f"activity field {name!r} must be an object", param=name)
    account_id = value.get("id")
    if (required or account_id is not None) and (not isinstance(account_id, str) or not account_id):
        raise BadRequest(f"activity field {name}.id must be a non-empty string", param=f"{name}.id")
    return value


def _objects(payload: Mapping[str, Any], name: str) -> tuple[Mapping[str, Any], ...]:
    value = payload.get(name)
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadRequest(f"activity field {name!r} must be a list", param=name)
    return tuple(item for item in value if isinstance(item, Mapping))


def read_activity(payload: Mapping[str, Any]) -> InboundActivity:
    """Check the fields every activity needs (and a message's sender); raises `BadRequest`."""
    activity_type = _string(payload, "type", required=True)
    conversation = _account(payload, "conversation", required=True)
    delivery_mode = _string(payload, "deliveryMode", required=False)
    return InboundActivity(
        raw=payload,
        type=str(activity_type),
        id=_string(payload, "id", required=False) or None,
        channel_id=str(_string(payload, "channelId", required=True)),
        service_url=str(_string(payload, "serviceUrl", required=True)),
        conversation=conversation,
        sender=_account(payload, "from", required=activity_type == "message"),
        recipient=_account(payload, "recipient", required=False),
        text=_string(payload, "text", required=False) or "",
        entities=_objects(payload, "entities"),
        attachments=_objects(payload, "attachments"),
        expect_replies=delivery_mode == "expectReplies",
        value=payload.get("value"),
        name=payload.get("name") if isinstance(payload.get("name"), str) else None,
    )


def strip_mentions(text: str, entities: tuple[Mapping[str, Any], ...], bot_id: str | None) -> str:
    """Remove the bot's own `<at>` mentions; other mentions keep just the name."""
    if not entities and text.isprintable() and "<" not in text and "  " not in text:
        # one line (no line breaks, tabs or controls), no tags, no double spaces, as most messages are:
        # the same result as below without the regexes
        return text.strip()
    for entity in entities:
        mentioned = entity.get("mentioned")
        mention_text = entity.get("text")
        if entity.get("type") != "mention" or not isinstance(mentioned, Mapping) or not isinstance(mention_text, str):
            continue
        if mention_text and (bot_id is None or mentioned.get("id") == bot_id):
            text = text.replace(mention_text, "")
    text = _AT_TAG.sub(lambda match: match.group(1), text)
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.strip().splitlines()).strip()


def attachment_contents(attachments: tuple[Mapping[str, Any], ...]) -> list[Content]:
    """Attachments with a downloadable URL and a media type, as URI contents."""
    contents: list[Content] = []
    for attachment in attachments:
        url, media_type = attachment.get("contentUrl"), attachment.get("contentType")
        if not isinstance(url, str) or not isinstance(media_type, str) or "/" not in media_type:
            continue
        try:
            scheme = urlsplit(url).scheme.lower()
        except ValueError:
            continue
        if scheme not in ("https", "http", "data"):
            continue
        try:
            contents.append(Content.from_uri(url, media_type=media_type))
        except (ValueError, TypeError):
            continue
    return contents


def command_name(text: str) -> str | None:
    """The command a `/name ...` message invokes (lower-cased, `@bot` suffix dropped), else None."""
    if not text.startswith("/") or text[1:2].isspace():
        return None
    token = text[1:].split(maxsplit=1)[0] if text[1:].strip() else ""
    name = token.split("@", 1)[0].lower()
    return name or None


def members_to_welcome(activity: InboundActivity) -> list[Mapping[str, Any]]:
    """Members added by a `conversationUpdate`, other than the bot itself."""
    added = activity.raw.get("membersAdded")
    if not isinstance(added, list):
        return []
    return [
        member
        for member in added
        if isinstance(member, Mapping)
        and isinstance(member.get("id"), str)
        and member.get("id") != activity.recipient_id
    ]


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def submitted_text(value: Any) -> str:
    """An Adaptive Card `Action.Submit` (a message's `value`) as text the agent can read."""
    return f"Submitted card data: {_json_text(value)}"


def card_action_text(value: Any) -> str | None:
    """An `adaptiveCard/action` invoke's action as text the agent can read; None when it names no action."""
    action = value.get("action") if isinstance(value, Mapping) else None
    if not isinstance(action, Mapping):
        return None
    verb = action.get("verb")
    data = action.get("data")
    named = f" {json.dumps(verb, ensure_ascii=False)}" if isinstance(verb, str) and verb else ""
    return f"Card action{named}: {_json_text(data if data is not None else {})}"


def message_text(activity: InboundActivity) -> str:
    """What a `message` activity says to the agent: the bot's own mentions stripped, a card submission as text."""
    text = strip_mentions(activity.text, activity.entities, activity.recipient_id)
    if activity.value is not None and activity.value != {}:
        text = f"{text}\n{submitted_text(activity.value)}" if text else submitted_text(activity.value)
    return text


def to_channel_request(
    activity: InboundActivity, *, channel: str, stream: bool, text: str | None = None
) -> ChannelRequest | None:
    """The agent turn for a `message` activity (or the given `text`), or None when it carries nothing to answer.

    A card submission (a message with `value`) reaches the agent as readable text; the raw value
    rides on the request's `attributes["value"]`.
    """
    if text is None:
        text = message_text(activity)
    contents: list[Any] = [text] if text else []
    contents.extend(attachment_contents(activity.attachments))
    if not contents:
        return None
    sender = activity.sender
    aad_object_id = sender.get("aadObjectId")
    tenant_id = activity.conversation.get("tenantId")
    identity_attributes: dict[str, Any] = {
        "channel_id": activity.channel_id,
        "conversation_id": activity.conversation_id,
    }
    if isinstance(aad_object_id, str) and aad_object_id:
        identity_attributes["aad_object_id"] = aad_object_id
    if isinstance(sender.get("name"), str):
        identity_attributes["name"] = sender["name"]
    if isinstance(tenant_id, str):
        identity_attributes["tenant_id"] = tenant_id
    attributes: dict[str, Any] = {
        "channel_id": activity.channel_id,
        "conversation_id": activity.conversation_id,
        "service_url": activity.service_url,
        "activity_id": activity.id,
        "from_id": activity.sender_id,
        "bot_id": activity.recipient_id,
        "conversation_type": activity.conversation_type,
    }
    if isinstance(tenant_id, str):
        attributes["tenant_id"] = tenant_id
    if activity.value is not None:
        attributes["value"] = activity.value
    locale = activity.raw.get("locale")
    return ChannelRequest(
        channel=channel,
        operation="message",
        input=[Message(role="user", contents=contents)],
        session=ChannelSession(activity.isolation_key),
        identity=ChannelIdentity(channel, str(activity.sender_id), identity_attributes),
        attributes=attributes,
        metadata={"reply_to_id": activity.id, "locale": locale if isinstance(locale, str) else None},
        stream=stream,
    )
