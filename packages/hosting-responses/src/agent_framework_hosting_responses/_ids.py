"""Identifiers in OpenAI's style: a type prefix and 32 hex characters."""

from __future__ import annotations

import os


def new_id(prefix: str) -> str:
    """``<prefix>_`` and 128 random bits as hex (as unguessable as a uuid4, at a third of its cost)."""
    return f"{prefix}_{os.urandom(16).hex()}"


def default_response_id(previous_response_id: str | None = None) -> str:
    """The default `response_id_factory`: ``resp_<hex>``, whatever came before."""
    return new_id("resp")
