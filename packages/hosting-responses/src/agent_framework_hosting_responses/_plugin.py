"""How `agent-framework-host` finds and configures this channel (entry point `agent_framework_hosting.channels`)."""

from __future__ import annotations

from agent_framework_hosting.plugins import ChannelPlugin, ChannelSetting, curl_example

from ._channel import ResponsesChannel

PLUGIN = ChannelPlugin(
    name="responses",
    channel=ResponsesChannel,
    title="Responses",
    settings=(ChannelSetting("RESPONSES_API_KEY", "api_key", secret=True),),
    order=10,
    paths="`/responses`, `/v1/responses`, `/conversations`",
    note="OpenAI Responses API; also at {base}/v1/responses",
    example=curl_example('{"input": "Hello! What can you do?", "stream": true}', key="RESPONSES_API_KEY", stream=True),
)
