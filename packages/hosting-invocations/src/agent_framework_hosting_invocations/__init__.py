"""Foundry's invocation envelope (`POST /invocations`) as a channel of agent-framework-hosting."""

from __future__ import annotations

from ._channel import InvocationsChannel

__all__ = ["InvocationsChannel"]
