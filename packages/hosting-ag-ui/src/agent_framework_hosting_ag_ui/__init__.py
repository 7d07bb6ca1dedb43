"""AG-UI (Agent-User Interaction protocol) as a channel of agent-framework-hosting."""

from __future__ import annotations

from ._channel import AGUIChannel

__all__ = ["AGUIChannel"]
