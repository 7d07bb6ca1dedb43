"""A real redis-server as state: a delivery during an outage gets 503, and its redelivery runs once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from agent_framework_hosting.testing import OfflineChatClient, RedisServer, redis_server_binary
from slack_fake import FakeSlack, Signer, envelope, message
from slack_kit import make_channel, make_host, post_event
from starlette.testclient import TestClient

pytestmark = pytest.mark.slow


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with RedisServer(redis_server_binary()) as server:
        yield server


def state(redis: RedisServer) -> str:
    return f"{redis.url}?prefix=slack{uuid.uuid4().hex[:8]}:&lock_ttl=3"


def retry(n: int, reason: str = "http_error") -> dict[str, str]:
    return {"X-Slack-Retry-Num": str(n), "X-Slack-Retry-Reason": reason}


@pytest.mark.parametrize("outage", ["paused", "stopped"])
def test_an_event_during_a_redis_outage_gets_503_and_its_redelivery_runs_once(
    outage: str, redis: RedisServer, slack: FakeSlack, signer: Signer
) -> None:
    agent = OfflineChatClient()
    payload = envelope(message("during the outage", channel="D1"))
    host = make_host(make_channel(slack, stream=False), agent, state_dir=state(redis))
    with TestClient(host.app) as client:
        post_event(client, signer, envelope(message("before", channel="D1")))
        slack.wait_for(lambda fake: fake.texts("D1", None) == ["echo 1: before"], what="the first answer")
        if outage == "paused":
            redis.pause()
        else:
            redis.stop()
        try:
            refused = post_event(client, signer, payload)
        finally:
            if outage == "paused":
                redis.resume()
            else:
                redis.start()
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "state_unavailable"
        redelivered = post_event(client, signer, payload, **retry(1))
        assert redelivered.status_code == 200 and redelivered.json() == {"ok": True}
        slack.wait_for(lambda fake: len(fake.texts("D1", None)) == 2, what="the redelivered event's answer")
        again = post_event(client, signer, payload, **retry(2))
        assert again.json() == {"ok": True, "duplicate": True}
    # A stopped redis-server here restarts empty (no persistence), so the conversation starts over.
    turn = 2 if outage == "paused" else 1
    assert slack.texts("D1", None) == ["echo 1: before", f"echo {turn}: during the outage"]
    assert len(agent.calls) == 2


def test_two_hosts_sharing_redis_answer_an_event_delivered_to_both_once(
    redis: RedisServer, slack: FakeSlack, signer: Signer
) -> None:
    location = state(redis)
    first_agent, second_agent = OfflineChatClient(chunk_delay=0.05), OfflineChatClient(chunk_delay=0.05)
    first = make_host(make_channel(slack), first_agent, state_dir=location)
    second = make_host(make_channel(slack), second_agent, state_dir=location)
    payload = envelope(message("hello both", channel="D1"))
    with TestClient(first.app) as a, TestClient(second.app) as b:
        answers = [post_event(a, signer, payload).json(), post_event(b, signer, payload, **retry(1)).json()]
        slack.wait_for(lambda fake: fake.texts("D1", None), what="the answer")
    assert sorted(answer.get("duplicate", False) for answer in answers) == [False, True]
    assert len(first_agent.calls) + len(second_agent.calls) == 1
    assert slack.texts("D1", None) == ["echo 1: hello both"]


def test_in_socket_mode_an_envelope_that_cannot_be_recorded_is_left_unacknowledged(
    redis: RedisServer, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    from agent_framework_hosting.testing import wait_until
    from slack_fake import APP_TOKEN

    agent = OfflineChatClient()
    channel = make_channel(slack, signing_secret=None, app_token=APP_TOKEN, stream=False)
    payload = envelope(message("over the socket", channel="D1"))
    with TestClient(make_host(channel, agent, state_dir=state(redis)).app):
        slack.wait_for(lambda fake: fake.sockets, what="the connection")
        redis.stop()
        try:
            slack.push_envelope({"envelope_id": "first", "type": "events_api", "payload": payload, "retry_attempt": 0})
            wait_until(lambda: "envelope first not acknowledged" in caplog.text, message="the refusal")
        finally:
            redis.start()
        assert [ack for ack in slack.acks if ack.get("envelope_id") == "first"] == []
        slack.push_envelope(
            {
                "envelope_id": "again",
                "type": "events_api",
                "payload": payload,
                "retry_attempt": 1,
                "retry_reason": "timeout",
            }
        )
        slack.wait_for(lambda fake: fake.texts("D1", None) == ["echo 1: over the socket"], what="the answer")
    assert [ack["envelope_id"] for ack in slack.acks] == ["again"]
    assert len(agent.calls) == 1
