"""Bot Framework Activity Protocol channel (Microsoft Teams, Web Chat, Direct Line) for agent-framework-hosting."""

from __future__ import annotations

from ._channel import ActivityProtocolChannel, InvokeHandler
from ._credentials import TokenProvider
from ._parse import isolation_key

__all__ = ["ActivityProtocolChannel", "InvokeHandler", "TokenProvider", "isolation_key"]
