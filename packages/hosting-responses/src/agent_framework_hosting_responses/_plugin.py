"""How `agent-framework-host` finds and configures this channel (entry point `agent_framework_hosting.channels`)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from agent_framework_hosting.plugins import ChannelPlugin, ChannelSetting

from ._channel import ResponsesChannel


def _example(url: str, environ: Mapping[str, str]) -> str:
    auth = ' -H "Authorization: Bearer $RESPONSES_API_KEY"' if environ.get("RESPONSES_API_KEY") else ""
    body = shlex.quote('{"input": "Hello! What can you do?", "stream": true}')
    return f"curl -N {url}{auth} -H 'Content-Type: application/json' -d {body}"


PLUGIN = ChannelPlugin(
    name="responses",
    channel=ResponsesChannel,
    title="Responses",
    settings=(ChannelSetting("RESPONSES_API_KEY", "api_key", secret=True),),
    order=10,
    paths="`/responses`, `/v1/responses`, `/conversations`",
    note="OpenAI Responses API; also at {base}/v1/responses",
    example=_example,
)
