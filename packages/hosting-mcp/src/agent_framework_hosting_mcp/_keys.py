"""Which conversation a tool call belongs to (pure)."""

from __future__ import annotations

from agent_framework_hosting.http import BadRequest

MAX_CONVERSATION_LENGTH = 256


class InvalidConversation(BadRequest):
    """The `conversation` argument cannot name a conversation."""


def isolation_key(conversation: str | None, session_id: str | None) -> str | None:
    """An explicit `conversation` wins; else the MCP session (legacy, stateful transport); else a stateless turn."""
    if conversation is not None:
        if not conversation.strip():
            raise InvalidConversation("'conversation' must not be blank")
        if len(conversation) > MAX_CONVERSATION_LENGTH:
            raise InvalidConversation(f"'conversation' is longer than {MAX_CONVERSATION_LENGTH} characters")
        return f"mcp:conversation:{conversation}"
    if session_id:
        return f"mcp:session:{session_id}"
    return None
