"""The Events API end to end: signed events in, a real agent, the fake Slack Web API out."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from agent_framework_hosting.testing import OfflineChatClient
from slack_fake import BOT_TOKEN, BOT_USER, FakeSlack, Signer, encode, envelope, mention, message
from slack_kit import EVENTS, make_channel, make_host, post_event
from starlette.testclient import TestClient


def answered(slack: FakeSlack, channel: str, thread_ts: str | None, count: int = 1) -> list[str]:
    return slack.wait_for(
        lambda fake: (texts := fake.texts(channel, thread_ts)) and len(texts) >= count and texts,
        what=f"{count} answer(s) in {channel}/{thread_ts}",
    )


# --- verification and the envelope ----------------------------------------------------------------


def test_url_verification_echoes_the_challenge(slack: FakeSlack, signer: Signer) -> None:
    with TestClient(make_host(make_channel(slack)).app) as client:
        response = post_event(
            client,
            signer,
            {
                "token": "t",
                "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                "type": "url_verification",
            },
        )
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_unsigned_forged_and_stale_requests_are_401_and_run_nothing(slack: FakeSlack, signer: Signer) -> None:
    agent = OfflineChatClient()
    body = encode(envelope(message("hello", channel="D1")))
    with TestClient(make_host(make_channel(slack), agent).app) as client:
        responses = [
            client.post(EVENTS, content=body),
            client.post(EVENTS, content=body, headers=Signer("wrong-secret").headers(body)),
            client.post(EVENTS, content=body, headers=signer.headers(body, str(int(time.time()) - 301))),
            client.post(EVENTS, content=body + b" ", headers=signer.headers(body)),
            client.post(EVENTS, content=b'{"type":"url_verification","challenge":"x"}'),
        ]
    assert [r.status_code for r in responses] == [401] * 5
    assert all(r.json()["error"]["code"] == "invalid_signature" for r in responses)
    assert agent.calls == []
    assert [c.method for c in slack.calls] == ["auth.test"]


def test_signed_garbage_is_a_clear_400(slack: FakeSlack, signer: Signer) -> None:
    with TestClient(make_host(make_channel(slack)).app) as client:
        not_json = post_event(client, signer, b"{nope")
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "invalid_json"


def test_an_oversized_body_is_413(slack: FakeSlack, signer: Signer) -> None:
    with TestClient(make_host(make_channel(slack, max_body_bytes=512)).app) as client:
        response = post_event(client, signer, envelope(message("x" * 1000, channel="D1")))
    assert response.status_code == 413


# --- answering ---------------------------------------------------------------------------------------


def test_a_direct_message_is_acknowledged_then_answered_at_the_top_level(slack: FakeSlack, signer: Signer) -> None:
    with TestClient(make_host(make_channel(slack, stream=False)).app) as client:
        response = post_event(client, signer, envelope(message("hello there", channel="D1")))
        assert response.status_code == 200 and response.json() == {"ok": True}
        slack.expect("D1", None, ["echo 1: hello there"])
        post_event(client, signer, envelope(message("and again", channel="D1")))
        slack.expect("D1", None, ["echo 1: hello there", "echo 2: and again"])
    post = slack.of("chat.postMessage")[0]
    assert post.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    assert "thread_ts" not in post.body


def test_a_mention_is_answered_in_a_new_thread_under_it(slack: FakeSlack, signer: Signer) -> None:
    with TestClient(make_host(make_channel(slack)).app) as client:
        post_event(client, signer, envelope(mention("what's up?", channel="C1", ts="100.000001")))
        slack.expect("C1", "100.000001", ["echo 1: what's up?"])


def test_in_a_thread_the_bot_is_part_of_it_answers_without_a_mention(slack: FakeSlack, signer: Signer) -> None:
    with TestClient(make_host(make_channel(slack)).app) as client:
        post_event(client, signer, envelope(message("nobody asked", channel="C1", thread_ts="90.000001")))
        post_event(client, signer, envelope(mention("hi", channel="C1", ts="100.000001")))
        answered(slack, "C1", "100.000001")
        post_event(client, signer, envelope(message("follow-up", channel="C1", thread_ts="100.000001")))
        slack.expect("C1", "100.000001", ["echo 1: hi", "echo 2: follow-up"])
        post_event(client, signer, envelope(message("top level chatter", channel="C1")))
        time.sleep(0.3)
    assert slack.texts("C1", "90.000001") == []
    assert len(slack.of("chat.postMessage")) + len(slack.of("chat.startStream")) == 2


def test_bot_messages_edits_and_joins_are_ignored(slack: FakeSlack, signer: Signer) -> None:
    agent = OfflineChatClient()
    with TestClient(make_host(make_channel(slack), agent).app) as client:
        for event in (
            message("from a bot", channel="D1", bot_id="B9"),
            message("my own", channel="D1", user=BOT_USER),
            message("edited", channel="D1", subtype="message_changed"),
            message("joined", channel="C1", subtype="channel_join"),
        ):
            assert post_event(client, signer, envelope(event)).json() == {"ok": True}
        time.sleep(0.3)
    assert agent.calls == []


# --- acknowledgement, retries and duplicates ----------------------------------------------------------


def test_the_event_is_acknowledged_before_the_agent_has_answered(slack: FakeSlack, signer: Signer) -> None:
    agent = OfflineChatClient(chunk_delay=0.3)
    with TestClient(make_host(make_channel(slack), agent).app) as client:
        response = post_event(client, signer, envelope(mention("one two three four five", channel="C1", ts="1.000001")))
        assert response.status_code == 200
        assert slack.texts("C1", "1.000001") == [], "the answer was finished before the acknowledgement"
        slack.expect("C1", "1.000001", ["echo 1: one two three four five"])


def test_slack_retries_never_run_the_agent_twice_and_are_logged(
    slack: FakeSlack, signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    agent = OfflineChatClient(chunk_delay=0.05)
    payload = envelope(message("only once", channel="D1"), eid="Ev0RETRIED")
    with caplog.at_level(logging.INFO), TestClient(make_host(make_channel(slack), agent).app) as client:
        first = post_event(client, signer, payload)
        retries = [
            post_event(client, signer, payload, **{"X-Slack-Retry-Num": str(n), "X-Slack-Retry-Reason": "http_timeout"})
            for n in (1, 2, 3)
        ]
        slack.expect("D1", None, ["echo 1: only once"])
        late = post_event(client, signer, payload, **{"X-Slack-Retry-Num": "3", "X-Slack-Retry-Reason": "http_error"})
        time.sleep(0.3)
    assert first.json() == {"ok": True}
    assert [r.json() for r in [*retries, late]] == [{"ok": True, "duplicate": True}] * 4
    assert len(agent.calls) == 1 and slack.texts("D1", None) == ["echo 1: only once"]
    logged = caplog.text
    assert "Ev0RETRIED delivered again (retry 1, reason http_timeout)" in logged
    assert "retry 3, reason http_error" in logged


def test_the_same_event_posted_concurrently_runs_once(slack: FakeSlack, signer: Signer) -> None:
    from concurrent.futures import ThreadPoolExecutor

    agent = OfflineChatClient()
    payload = envelope(message("concurrent", channel="D1"))
    with TestClient(make_host(make_channel(slack, stream=False), agent).app) as client:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: post_event(client, signer, payload).json(), range(4)))
        answered(slack, "D1", None)
        time.sleep(0.3)
    assert sorted(r.get("duplicate", False) for r in results) == [False, True, True, True]
    assert len(agent.calls) == 1


# --- threads: parallel across, serialised within ------------------------------------------------------


def test_two_threads_run_in_parallel_while_one_threads_turns_are_serialised(slack: FakeSlack, signer: Signer) -> None:
    started: dict[str, float] = {}

    def reply(messages: Any) -> str:
        text = [m for m in messages if m.role == "user"][-1].text
        started[text] = time.monotonic()
        return f"{text} one two three four five six"

    agent = OfflineChatClient(reply=reply, chunk_delay=0.1)
    with TestClient(make_host(make_channel(slack), agent).app) as client:
        post_event(client, signer, envelope(mention("a1", channel="C1", ts="10.000001")))
        post_event(client, signer, envelope(message("a2", channel="C1", thread_ts="10.000001")))
        post_event(client, signer, envelope(mention("b1", channel="C1", ts="20.000001")))
        answered(slack, "C1", "10.000001", 2)
        answered(slack, "C1", "20.000001", 1)
    stops = {c.body["ts"]: c.at for c in slack.of("chat.stopStream")}
    by_text = {m.text.split(" ")[0]: stops[m.ts] for m in slack.messages.values()}
    assert started["b1"] < by_text["a1"], "thread B waited for thread A"
    assert started["a2"] > by_text["a1"], "thread A's second turn overlapped its first"
    assert slack.texts("C1", "10.000001") == ["a1 one two three four five six", "a2 one two three four five six"]


def test_a_proactive_message_is_posted_into_the_conversation(slack: FakeSlack, signer: Signer) -> None:
    admin = "admin-token-0123456789"
    host = make_host(make_channel(slack), admin_token=admin)
    with TestClient(host.app) as client:
        post_event(client, signer, envelope(message("hello there", channel="D1")))
        slack.expect("D1", None, ["echo 1: hello there"])
        [key] = client.portal.call(host.state.keys, "conversation-refs")
        response = client.post(
            "/admin/deliver", json={"to": key, "text": "Build **passed**"}, headers={"Authorization": f"Bearer {admin}"}
        )
        assert response.status_code == 200, response.text
        slack.expect("D1", None, ["echo 1: hello there", "Build *passed*"])
