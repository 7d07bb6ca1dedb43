"""Pure outbound rendering: reply, typing and Teams streaming activities for an inbound activity."""

from __future__ import annotations

from typing import Any

from agent_framework_hosting.text import split_text

from ._parse import InboundActivity

STREAM_INFO = "streaminfo"


def reply_activity(
    inbound: InboundActivity,
    activity_type: str = "message",
    *,
    text: str | None = None,
    entities: list[dict[str, Any]] | None = None,
    attachments: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An activity from the bot back into the inbound activity's conversation, replying to it."""
    activity: dict[str, Any] = {
        "type": activity_type,
        "channelId": inbound.channel_id,
        "serviceUrl": inbound.service_url,
        "conversation": dict(inbound.conversation),
        "from": dict(inbound.recipient),
        "recipient": dict(inbound.sender),
    }
    if inbound.id:
        activity["replyToId"] = inbound.id
    if text is not None:
        activity["text"] = text
        if activity_type == "message":
            activity["textFormat"] = "markdown"
    if entities:
        activity["entities"] = entities
    if attachments:
        activity["attachments"] = attachments
    return activity


def message_activities(
    inbound: InboundActivity, text: str, *, limit: int, attachments: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The reply as message activities of at most `limit` characters; attachments ride on the last one."""
    return chunk_messages(inbound, split_text(text, limit) if text else [], attachments)


def chunk_messages(
    inbound: InboundActivity, chunks: list[str], attachments: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """One message activity per chunk of text; attachments ride on the last one."""
    if not chunks and not attachments:
        return []
    messages = [reply_activity(inbound, text=chunk) for chunk in chunks or [""]]
    if attachments:
        messages[-1]["attachments"] = attachments
    return messages


def typing_activity(inbound: InboundActivity) -> dict[str, Any]:
    return reply_activity(inbound, "typing")


def stream_info(stream_type: str, *, stream_id: str | None = None, sequence: int | None = None) -> dict[str, Any]:
    """A Teams `streaminfo` entity."""
    entity: dict[str, Any] = {"type": STREAM_INFO, "streamType": stream_type}
    if stream_id is not None:
        entity["streamId"] = stream_id
    if sequence is not None:
        entity["streamSequence"] = sequence
    return entity


def informative_update(inbound: InboundActivity, text: str) -> dict[str, Any]:
    """The first activity of a Teams stream: a status line; the connector's answer names the stream."""
    return reply_activity(inbound, "typing", text=text, entities=[stream_info("informative", sequence=1)])


def streaming_update(inbound: InboundActivity, text: str, *, stream_id: str | None, sequence: int) -> dict[str, Any]:
    """A Teams streaming chunk: all text so far, with the next sequence number."""
    entity = stream_info("streaming", stream_id=stream_id, sequence=sequence)
    return reply_activity(inbound, "typing", text=text, entities=[entity])


def final_stream_message(
    inbound: InboundActivity, text: str, *, stream_id: str, attachments: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The message that ends a Teams stream."""
    entity = stream_info("final", stream_id=stream_id)
    return reply_activity(inbound, text=text, entities=[entity], attachments=attachments)


def response_attachments(result: Any) -> list[dict[str, Any]]:
    """URI and data contents of an agent response (images, files) as Activity attachments."""
    attachments: list[dict[str, Any]] = []
    for message in getattr(result, "messages", None) or ():
        for content in getattr(message, "contents", None) or ():
            uri, media_type = getattr(content, "uri", None), getattr(content, "media_type", None)
            if getattr(content, "type", None) in ("uri", "data") and isinstance(uri, str) and media_type:
                attachment: dict[str, Any] = {"contentType": media_type, "contentUrl": uri}
                name = (getattr(content, "additional_properties", None) or {}).get("name")
                if isinstance(name, str):
                    attachment["name"] = name
                attachments.append(attachment)
    return attachments
