"""How `agent-framework-host` finds and configures this channel (entry point `agent_framework_hosting.channels`)."""

from __future__ import annotations

from agent_framework_hosting.plugins import ChannelPlugin, ChannelSetting

from ._channel import ActivityProtocolChannel

PLUGIN = ChannelPlugin(
    name="activity-protocol",
    channel=ActivityProtocolChannel,
    title="Teams / Bot Framework",
    settings=(
        ChannelSetting("BOT_APP_ID", "app_id", required=True),
        ChannelSetting("BOT_APP_PASSWORD", "app_password", required=True, secret=True),
        ChannelSetting("BOT_TENANT_ID", "tenant_id"),
    ),
    order=50,
    paths="`/activity/messages`",
    note="set this as the Azure Bot messaging endpoint",
    anonymous="BOT_ANONYMOUS",
)
