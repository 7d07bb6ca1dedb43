"""MCP (Model Context Protocol) server over Streamable HTTP as a channel of agent-framework-hosting."""

from __future__ import annotations

from ._channel import MCPChannel

__all__ = ["MCPChannel"]
