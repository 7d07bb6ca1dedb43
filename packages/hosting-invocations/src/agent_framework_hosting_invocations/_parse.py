"""Pure parsing of an invocation: payload, query and platform keys in, `Invocation` out."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent_framework_hosting import ChannelIdentity, ChannelRequest, ChannelSession, IsolationKeys
from agent_framework_hosting.http import BadRequest

INVOCATION_ID_HEADER = "x-agent-invocation-id"
SESSION_ID_HEADER = "x-agent-session-id"
SESSION_QUERY = "agent_session_id"
MAX_ID_LENGTH = 256
_ID = re.compile(r"[A-Za-z0-9\-_.:]+")


@dataclass(frozen=True)
class Invocation:
    """One parsed `POST /invocations`."""

    message: Any
    stream: bool
    invocation_id: str
    session_id: str | None
    isolation_key: str | None
    user_key: str | None = None
    chat_key: str | None = None


def is_valid_id(value: str) -> bool:
    """Foundry's id rule: ``^[A-Za-z0-9\\-_.:]+$`` and at most 256 characters."""
    return len(value) <= MAX_ID_LENGTH and _ID.fullmatch(value) is not None


def invocation_id_from(header: str | None) -> str:
    """The caller's invocation id when it is a valid id, a fresh one when absent."""
    if not header:
        return uuid.uuid4().hex
    if not is_valid_id(header):
        raise BadRequest(
            f"{INVOCATION_ID_HEADER} must match [A-Za-z0-9-_.:]+ and be at most {MAX_ID_LENGTH} characters"
        )
    return header


def _session_id(value: Any, source: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRequest(f"'{source}' must be a string")
    if not is_valid_id(value):
        raise BadRequest(f"'{source}' must match [A-Za-z0-9-_.:]+ and be at most {MAX_ID_LENGTH} characters")
    return value


def _platform_key(value: str | None, header: str) -> str | None:
    if value is None:
        return None
    if not is_valid_id(value):
        raise BadRequest(f"{header} must match [A-Za-z0-9-_.:]+ and be at most {MAX_ID_LENGTH} characters")
    return value


def isolation_key_for(session_id: str | None, keys: IsolationKeys | None) -> str | None:
    """The host isolation key of a turn.

    A session id alone gives ``invocations:<id>``. Inside Foundry the user key scopes
    it (one user cannot reach another's session by id) and, without a session id, the
    platform keys name the conversation. Ids never contain "/", so keys cannot collide.
    """
    user = keys.user_key if keys is not None else None
    chat = keys.chat_key if keys is not None else None
    if session_id is not None:
        return f"invocations:{session_id}" if user is None else f"invocations/user:{user}/session:{session_id}"
    parts = [f"user:{user}"] if user is not None else []
    if chat is not None:
        parts.append(f"chat:{chat}")
    return "/".join(["invocations", *parts]) if parts else None


def _message(payload: Mapping[str, Any], *, text_only: bool) -> Any:
    if "message" not in payload:
        raise BadRequest("'message' is required")
    message = payload["message"]
    if text_only:
        if not isinstance(message, str) or not message:
            raise BadRequest("'message' must be a non-empty string")
    elif message is None:
        raise BadRequest("'message' must not be null")
    return message


def _stream(payload: Mapping[str, Any]) -> bool:
    stream = payload.get("stream")
    if stream is None:
        return False
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be a boolean")
    return stream


def parse_invocation(
    payload: Any,
    *,
    invocation_id: str,
    query_session_id: str | None = None,
    isolation: IsolationKeys | None = None,
    text_only: bool = True,
) -> Invocation:
    """Validate an invocation body; `isolation` is the platform's keys (trusted by the caller)."""
    if not isinstance(payload, dict):
        raise BadRequest("body must be a JSON object")
    message = _message(payload, text_only=text_only)
    stream = _stream(payload)
    session_id = _session_id(payload.get("session_id"), "session_id")
    from_query = _session_id(query_session_id, SESSION_QUERY)
    if session_id is not None and from_query is not None and session_id != from_query:
        raise BadRequest(f"'session_id' and '{SESSION_QUERY}' name different sessions")
    session_id = session_id or from_query
    keys: IsolationKeys | None = None
    if isolation is not None and not isolation.is_empty:
        keys = IsolationKeys(
            _platform_key(isolation.user_key, "x-agent-user-isolation-key"),
            _platform_key(isolation.chat_key, "x-agent-chat-isolation-key"),
        )
    return Invocation(
        message=message,
        stream=stream,
        invocation_id=invocation_id,
        session_id=session_id,
        isolation_key=isolation_key_for(session_id, keys),
        user_key=keys.user_key if keys is not None else None,
        chat_key=keys.chat_key if keys is not None else None,
    )


def to_channel_request(invocation: Invocation, *, channel: str) -> ChannelRequest:
    """The channel-neutral request; the platform's user key (inside Foundry) is the sender's identity."""
    attributes: dict[str, Any] = {"invocation_id": invocation.invocation_id}
    if invocation.session_id is not None:
        attributes["session_id"] = invocation.session_id
    identity = None
    if invocation.user_key is not None:
        extra = {"chat_isolation_key": invocation.chat_key} if invocation.chat_key is not None else {}
        identity = ChannelIdentity(channel, invocation.user_key, extra)
    return ChannelRequest(
        channel=channel,
        operation="invoke",
        input=invocation.message,
        session=ChannelSession(invocation.isolation_key) if invocation.isolation_key else None,
        attributes=attributes,
        stream=invocation.stream,
        identity=identity,
    )
