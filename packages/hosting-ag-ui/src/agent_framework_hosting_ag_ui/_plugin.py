"""How `agent-framework-host` finds and configures this channel (entry point `agent_framework_hosting.channels`)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping

from agent_framework_hosting.plugins import ChannelPlugin, ChannelSetting

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


def _example(url: str, environ: Mapping[str, str]) -> str:
    auth = ' -H "Authorization: Bearer $AG_UI_API_KEY"' if environ.get("AG_UI_API_KEY") else ""
    return f"curl -N {url}{auth} -H 'Content-Type: application/json' -d {shlex.quote(_RUN)}"


PLUGIN = ChannelPlugin(
    name="ag-ui",
    channel=AGUIChannel,
    title="AG-UI (agent to front end)",
    settings=(ChannelSetting("AG_UI_API_KEY", "api_key", secret=True),),
    order=72,
    paths="`/ag-ui`",
    note="AG-UI event stream; POST a RunAgentInput",
    example=_example,
)
