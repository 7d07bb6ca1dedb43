"""MCP (Model Context Protocol) server over Streamable HTTP as a channel of agent-framework-hosting."""

from __future__ import annotations

from ._channel import MCPChannel
from ._oauth import JWTVerifier, OAuthOptions

__all__ = ["JWTVerifier", "MCPChannel", "OAuthOptions"]
