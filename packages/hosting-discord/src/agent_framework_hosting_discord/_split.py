"""Splitting an answer into Discord messages at natural breaks, keeping code blocks intact (pure)."""

from __future__ import annotations

from collections.abc import Iterator

from agent_framework_hosting.text import split_fenced, split_fenced_pieces

MESSAGE_LIMIT = 2000


def split_pieces(text: str, limit: int = MESSAGE_LIMIT) -> Iterator[tuple[str, str, str]]:
    """(added opening fence, slice of `text`, added closing fence) for each message `split_message` makes."""
    return split_fenced_pieces(text, limit)


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Chunks of at most `limit` characters; a code block cut in two is closed and reopened (same language)."""
    return split_fenced(text, limit)
