"""How `agent-framework-host` finds and configures this channel (entry point `agent_framework_hosting.channels`)."""

from __future__ import annotations

from agent_framework_hosting.plugins import ChannelPlugin, ChannelSetting

from ._channel import MCPChannel
from ._oauth import JWTVerifier, OAuthOptions


def _note(channel: MCPChannel) -> str:
    secured = "; OAuth resource " + channel.oauth.resource if channel.oauth is not None else ""
    return f"MCP Streamable HTTP; tool {channel.tool_name!r}{secured}"


def build(
    *,
    api_key: str | None = None,
    oauth_resource: str | None = None,
    oauth_server: str | None = None,
    oauth_jwks_url: str | None = None,
    oauth_scopes: str | None = None,
) -> MCPChannel:
    """The channel, an OAuth protected resource when `MCP_OAUTH_RESOURCE` and `MCP_OAUTH_SERVER` are set."""
    if not (oauth_resource or oauth_server or oauth_jwks_url or oauth_scopes):
        return MCPChannel(api_key=api_key)
    if not (oauth_resource and oauth_server):
        raise ValueError("OAuth needs both MCP_OAUTH_RESOURCE (this endpoint's public URL) and MCP_OAUTH_SERVER")
    verifier = None
    if oauth_jwks_url:
        verifier = JWTVerifier(jwks_url=oauth_jwks_url, audience=oauth_resource, issuer=oauth_server)
    scopes = tuple((oauth_scopes or "").replace(",", " ").split())
    options = OAuthOptions(
        resource=oauth_resource, authorization_servers=[oauth_server], scopes=scopes, verifier=verifier
    )
    return MCPChannel(api_key=api_key, oauth=options)


PLUGIN = ChannelPlugin(
    name="mcp",
    channel=MCPChannel,
    factory=build,
    title="MCP (agent as a tool)",
    settings=(
        ChannelSetting("MCP_API_KEY", "api_key", secret=True),
        ChannelSetting("MCP_OAUTH_RESOURCE", "oauth_resource"),
        ChannelSetting("MCP_OAUTH_SERVER", "oauth_server"),
        ChannelSetting("MCP_OAUTH_JWKS_URL", "oauth_jwks_url"),
        ChannelSetting("MCP_OAUTH_SCOPES", "oauth_scopes"),
    ),
    order=71,
    paths="`/mcp`",
    note=_note,
)
