"""Identifiers in OpenAI's style: a type prefix and 32 hex characters."""

from __future__ import annotations

import uuid


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def default_response_id(previous_response_id: str | None = None) -> str:
    """The default `response_id_factory`: ``resp_<hex>``, whatever came before."""
    return new_id("resp")
