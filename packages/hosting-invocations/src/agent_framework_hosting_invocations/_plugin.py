"""How `agent-framework-host` finds and configures this channel (entry point `agent_framework_hosting.channels`)."""

from __future__ import annotations

from agent_framework_hosting.plugins import ChannelPlugin

from ._channel import InvocationsChannel

PLUGIN = ChannelPlugin(
    name="invocations",
    channel=InvocationsChannel,
    title="Invocations",
    order=20,
    paths="`/invocations`",
    note='POST {{"message": "...", "session_id": "..."}}',
    example="""curl {url} -H 'Content-Type: application/json' -d '{"message": "Hello! What can you do?"}'""",
)
