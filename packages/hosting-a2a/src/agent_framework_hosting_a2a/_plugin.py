"""How `agent-framework-host` finds and configures this channel (entry point `agent_framework_hosting.channels`)."""

from __future__ import annotations

import json

from agent_framework_hosting.plugins import ChannelPlugin, ChannelSetting, curl_example

from ._channel import A2AChannel

_MESSAGE = {"messageId": "m1", "role": "ROLE_USER", "parts": [{"text": "Hello! What can you do?"}]}
_SEND = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": _MESSAGE}})


PLUGIN = ChannelPlugin(
    name="a2a",
    channel=A2AChannel,
    title="A2A (agent to agent)",
    settings=(ChannelSetting("A2A_API_KEY", "api_key", secret=True),),
    order=70,
    paths="`/a2a`, `/.well-known/agent-card.json`",
    note="A2A v1.0/v0.3 JSON-RPC; agent card at {base}/.well-known/agent-card.json",
    example=curl_example(_SEND, key="A2A_API_KEY", headers=("A2A-Version: 1.0",)),
)
