"""How `agent-framework-host` finds and configures this channel (entry point `agent_framework_hosting.channels`)."""

from __future__ import annotations

from agent_framework_hosting.plugins import ChannelPlugin

from ._channel import WebChatChannel

PLUGIN = ChannelPlugin(
    name="webchat",
    channel=WebChatChannel,
    title="Web chat",
    needs=("responses",),
    order=60,
    paths="`/`",
    note="open it in a browser",
)
