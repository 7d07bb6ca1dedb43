"""Building a host with a Slack channel against the fake, and posting signed deliveries to it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient
from agent_framework_hosting_slack import SlackChannel
from slack_fake import BOT_TOKEN, SIGNING_SECRET, FakeSlack, Signer, encode
from starlette.testclient import TestClient

EVENTS = "/slack/events"
COMMANDS = "/slack/commands"
INTERACTIONS = "/slack/interactions"


def make_channel(slack: FakeSlack | None, **kwargs: Any) -> SlackChannel:
    settings: dict[str, Any] = {
        "signing_secret": SIGNING_SECRET,
        "api_base": f"{slack.url}/api" if slack else "http://127.0.0.1:9/api",
        "stream_interval": 0.05,
    }
    settings.update(kwargs)
    channel = SlackChannel(BOT_TOKEN, **settings)
    channel.api.base_delay = 0.01
    return channel


def make_host(channel: SlackChannel, client: OfflineChatClient | None = None, **kwargs: Any) -> AgentFrameworkHost:
    agent = Agent(client=client or OfflineChatClient(), name="echo")
    return AgentFrameworkHost(agent, channels=[channel], shutdown_timeout=10.0, **kwargs)


def post_event(client: TestClient, signer: Signer, payload: Any, **headers: str) -> Any:
    body = payload if isinstance(payload, bytes) else encode(payload)
    return client.post(
        EVENTS, content=body, headers={**signer.headers(body), "Content-Type": "application/json", **headers}
    )


def post_form(client: TestClient, signer: Signer, path: str, form: dict[str, str]) -> Any:
    body = urlencode(form).encode()
    return client.post(
        path, content=body, headers={**signer.headers(body), "Content-Type": "application/x-www-form-urlencoded"}
    )
