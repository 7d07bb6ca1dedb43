"""How `agent-framework-host` finds and configures this channel (entry point `agent_framework_hosting.channels`)."""

from __future__ import annotations

from agent_framework_hosting.plugins import ChannelPlugin, ChannelSetting

from ._channel import SlackChannel

PLUGIN = ChannelPlugin(
    name="slack",
    channel=SlackChannel,
    title="Slack",
    settings=(
        ChannelSetting("SLACK_BOT_TOKEN", "bot_token", required=True, secret=True),
        ChannelSetting("SLACK_SIGNING_SECRET", "signing_secret", secret=True),
        ChannelSetting("SLACK_APP_TOKEN", "app_token", secret=True),
        ChannelSetting("SLACK_API_BASE", "api_base"),
    ),
    one_of=(("SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"),),
    order=45,
    paths="`/slack/events`, `/slack/commands`, `/slack/interactions`",
    note="set these as the app's Request URLs (or Socket Mode with SLACK_APP_TOKEN)",
)
