"""How `agent-framework-host` finds and configures this channel (entry point `agent_framework_hosting.channels`)."""

from __future__ import annotations

from agent_framework_hosting.plugins import ChannelPlugin, ChannelSetting

from ._channel import TelegramChannel


def _note(channel: TelegramChannel) -> str:
    return f"webhook: Telegram posts to {channel.webhook_url or 'this path'}"


PLUGIN = ChannelPlugin(
    name="telegram",
    channel=TelegramChannel,
    title="Telegram",
    settings=(
        ChannelSetting("TELEGRAM_BOT_TOKEN", "bot_token", required=True, secret=True),
        ChannelSetting("TELEGRAM_WEBHOOK_URL", "webhook_url"),
        ChannelSetting("TELEGRAM_SECRET_TOKEN", "secret_token", secret=True),
        ChannelSetting("TELEGRAM_API_BASE", "api_base"),
    ),
    order=30,
    paths="`/telegram/webhook`",
    note=_note,
)
