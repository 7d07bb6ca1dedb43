"""How `agent-framework-host` finds and configures this channel (entry point `agent_framework_hosting.channels`)."""

from __future__ import annotations

from agent_framework_hosting.plugins import ChannelPlugin, ChannelSetting

from ._channel import MCPChannel


def _note(channel: MCPChannel) -> str:
    return f"MCP Streamable HTTP; tool {channel.tool_name!r}"


PLUGIN = ChannelPlugin(
    name="mcp",
    channel=MCPChannel,
    title="MCP (agent as a tool)",
    settings=(ChannelSetting("MCP_API_KEY", "api_key", secret=True),),
    order=71,
    paths="`/mcp`",
    note=_note,
)
