"""How `agent-framework-host` finds and configures this channel (entry point `agent_framework_hosting.channels`)."""

from __future__ import annotations

import json

from agent_framework_hosting.plugins import ChannelPlugin, ChannelSetting, curl_example

from ._channel import AGUIChannel

_RUN = json.dumps(
    {
        "threadId": "t1",
        "runId": "r1",
        "messages": [{"id": "m1", "role": "user", "content": "Hello! What can you do?"}],
        "tools": [],
        "context": [],
        "state": None,
        "forwardedProps": {},
    }
)


PLUGIN = ChannelPlugin(
    name="ag-ui",
    channel=AGUIChannel,
    title="AG-UI (agent to front end)",
    settings=(ChannelSetting("AG_UI_API_KEY", "api_key", secret=True),),
    order=72,
    paths="`/ag-ui`",
    note="AG-UI event stream; POST a RunAgentInput",
    example=curl_example(_RUN, key="AG_UI_API_KEY", stream=True),
)
