"""How `agent-framework-host` finds and configures this channel (entry point `agent_framework_hosting.channels`)."""

from __future__ import annotations

from agent_framework_hosting.plugins import ChannelPlugin, ChannelSetting

from ._channel import DiscordChannel

PLUGIN = ChannelPlugin(
    name="discord",
    channel=DiscordChannel,
    title="Discord",
    settings=(
        ChannelSetting("DISCORD_APPLICATION_ID", "application_id", required=True),
        ChannelSetting("DISCORD_PUBLIC_KEY", "public_key", required=True),
        ChannelSetting("DISCORD_BOT_TOKEN", "bot_token", secret=True),
        ChannelSetting("DISCORD_GUILD_ID", "guild_id"),
    ),
    order=40,
    paths="`/discord/interactions`",
    note="set this as the Interactions Endpoint URL",
)
