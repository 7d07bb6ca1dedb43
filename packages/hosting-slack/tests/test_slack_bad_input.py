"""A signed delivery that nests deep or holds a lone surrogate is a 400; nothing is sent; no traceback."""

from __future__ import annotations

from urllib.parse import urlencode

from agent_framework_hosting.testing import OfflineChatClient, hostile_bodies, watch_logs
from slack_fake import FakeSlack, Signer, envelope, message
from slack_kit import INTERACTIONS, make_channel, make_host, post_event
from starlette.testclient import TestClient


def test_hostile_events_and_interactions_are_400(slack: FakeSlack, signer: Signer) -> None:
    agent = OfflineChatClient()
    action = {
        "type": "block_actions",
        "team": {"id": "T"},
        "user": {"id": "U"},
        "channel": {"id": "C1"},
        "actions": [{"action_id": "a", "value": "v"}],
    }
    with TestClient(make_host(make_channel(slack), agent).app) as client, watch_logs() as logs:
        for name, body in hostile_bodies(envelope(message("hi", channel="D1"))).items():
            answer = post_event(client, signer, body)
            assert answer.status_code == 400, (name, answer.text)
        for name, body in hostile_bodies(action).items():
            form = urlencode(
                {"payload": body.decode("utf-8", "surrogatepass")}, encoding="utf-8", errors="surrogatepass"
            ).encode()
            answer = client.post(
                INTERACTIONS,
                content=form,
                headers={**signer.headers(form), "Content-Type": "application/x-www-form-urlencoded"},
            )
            assert answer.status_code in (400, 413), (name, answer.text)
    assert logs.tracebacks() == []
    assert agent.calls == []
    assert [call.method for call in slack.calls] == ["auth.test"]
