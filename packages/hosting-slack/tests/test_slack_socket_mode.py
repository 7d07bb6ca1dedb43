"""Socket Mode against a local websocket server speaking Slack's envelope protocol (hello, envelopes, acks)."""

from __future__ import annotations

import uuid
from typing import Any

from agent_framework_hosting.testing import OfflineChatClient
from slack_fake import APP_TOKEN, TEAM, FakeSlack, envelope, message
from slack_kit import make_channel, make_host
from starlette.testclient import TestClient


def socket_channel(slack: FakeSlack, **kwargs: Any) -> Any:
    return make_channel(slack, signing_secret=None, app_token=APP_TOKEN, **kwargs)


def push(slack: FakeSlack, kind: str, payload: dict[str, Any], *, retry: int = 0) -> str:
    envelope_id = str(uuid.uuid4())
    slack.push_envelope(
        {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "retry_attempt": retry,
            "retry_reason": "timeout" if retry else "",
            "accepts_response_payload": kind != "events_api",
        }
    )
    return envelope_id


def acked(slack: FakeSlack, envelope_id: str) -> dict[str, Any]:
    return slack.wait_for(
        lambda fake: next((ack for ack in fake.acks if ack.get("envelope_id") == envelope_id), None),
        what=f"the ack of {envelope_id}",
    )


def test_events_arrive_over_the_socket_are_acknowledged_by_envelope_id_and_answered(slack: FakeSlack) -> None:
    agent = OfflineChatClient()
    with TestClient(make_host(socket_channel(slack), agent).app) as client:
        slack.wait_for(lambda fake: fake.sockets, what="the connection")
        assert slack.of("apps.connections.open")[0].headers["authorization"] == f"Bearer {APP_TOKEN}"
        payload = envelope(message("hello over the socket", channel="D1"))
        first = push(slack, "events_api", payload)
        assert acked(slack, first) == {"envelope_id": first}
        slack.wait_for(lambda fake: fake.texts("D1", None) == ["echo 1: hello over the socket"], what="the answer")
        again = push(slack, "events_api", payload, retry=1)
        acked(slack, again)
        assert client.post("/slack/events", content=b"{}").status_code == 404
    assert len(agent.calls) == 1


def test_slash_commands_and_interactions_over_the_socket(slack: FakeSlack) -> None:
    with TestClient(make_host(socket_channel(slack)).app):
        slack.wait_for(lambda fake: fake.sockets, what="the connection")
        command = {
            "team_id": TEAM,
            "channel_id": "C1",
            "channel_name": "general",
            "user_id": "U1",
            "command": "/nope",
            "text": "",
            "trigger_id": "1",
        }
        ack = acked(slack, push(slack, "slash_commands", command))
        assert ack["payload"] == {"response_type": "ephemeral", "text": "I don't know the command /nope."}
        action = {
            "type": "block_actions",
            "team": {"id": TEAM},
            "user": {"id": "U1"},
            "channel": {"id": "C1"},
            "container": {"channel_id": "C1", "message_ts": "80.000002", "thread_ts": "80.000001"},
            "actions": [{"action_id": "go", "type": "button", "value": "Go on"}],
        }
        acked(slack, push(slack, "interactive", action))
        slack.wait_for(lambda fake: fake.texts("C1", "80.000001") == ["echo 1: Go on"], what="the action's answer")


def test_a_refused_app_token_stops_the_host_from_starting(slack: FakeSlack) -> None:
    import pytest
    from agent_framework_hosting_slack import SlackApiError

    slack.script("apps.connections.open", (200, {"ok": False, "error": "invalid_auth"}))
    with pytest.raises(SlackApiError, match="invalid_auth"), TestClient(make_host(socket_channel(slack)).app):
        pass
    assert len(slack.of("apps.connections.open")) == 1
