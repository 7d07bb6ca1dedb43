"""Streaming answers: Slack's native streams, limits on long answers, and the fallback when streams are refused."""

from __future__ import annotations

import time
from typing import Any

from agent_framework_hosting.testing import OfflineChatClient
from slack_fake import MARKDOWN_LIMIT, TEAM, FakeSlack, Signer, envelope, mention, message
from slack_kit import make_channel, make_host, post_event
from starlette.testclient import TestClient


def finished(slack: FakeSlack, channel: str, thread_ts: str | None, count: int = 1) -> list[str]:
    return slack.wait_for(
        lambda fake: (texts := fake.texts(channel, thread_ts)) and len(texts) >= count and texts,
        timeout=30,
        what=f"{count} finished answer(s)",
    )


def test_a_thread_answer_is_streamed_natively_to_the_asking_user(slack: FakeSlack, signer: Signer) -> None:
    agent = OfflineChatClient(chunk_delay=0.02)
    with TestClient(make_host(make_channel(slack), agent).app) as client:
        post_event(client, signer, envelope(mention("stream me please", channel="C1", ts="5.000001", user="U7")))
        slack.expect("C1", "5.000001", ["echo 1: stream me please"])
    start = slack.of("chat.startStream")[0].body
    assert (start["channel"], start["thread_ts"]) == ("C1", "5.000001")
    assert (start["recipient_user_id"], start["recipient_team_id"]) == ("U7", TEAM)
    assert len(slack.of("chat.stopStream")) == 1
    assert slack.of("chat.postMessage") == []


def test_a_long_streamed_answer_stays_within_slacks_limits_and_arrives_whole(slack: FakeSlack, signer: Signer) -> None:
    paragraph = "word " * 60 + "\n\n"
    code = "```python\n" + "print('x' * 3)  # <&>\n" * 400 + "```\n\n"
    answer = (paragraph * 80 + code + paragraph * 60).strip()
    assert len(answer) > 50_000

    agent = OfflineChatClient(reply=lambda messages: answer)
    channel = make_channel(slack, stream_interval=0.2)
    with TestClient(make_host(channel, agent).app) as client:
        post_event(client, signer, envelope(mention("write a lot", channel="C1", ts="6.000001")))
        texts = finished(slack, "C1", "6.000001", 2)
        time.sleep(0.3)
    texts = slack.texts("C1", "6.000001")
    streams = slack.of("chat.startStream") + slack.of("chat.appendStream") + slack.of("chat.stopStream")
    assert all(len(call.body.get("markdown_text", "")) <= MARKDOWN_LIMIT for call in streams)
    assert all(len(text) <= 40_000 for text in texts)
    assert len(texts) == len(slack.of("chat.startStream")) == len(slack.of("chat.stopStream")) >= 2
    rebuilt = "".join(texts).replace("\n```" + "```\n", "")
    assert rebuilt == answer
    for text in texts:
        assert text.count("```") % 2 == 0, "a message left a code block open"
    words = answer.count(" ") + 1
    assert len(slack.of("chat.appendStream")) < words / 10, "appends were not coalesced"


def test_when_streaming_is_refused_the_answer_is_posted_and_streams_are_not_tried_again(
    slack: FakeSlack, signer: Signer
) -> None:
    slack.script("chat.startStream", (200, {"ok": False, "error": "not_allowed_token_type"}))
    agent = OfflineChatClient(chunk_delay=0.01)
    with TestClient(make_host(make_channel(slack), agent).app) as client:
        post_event(client, signer, envelope(mention("first", channel="C1", ts="7.000001")))
        slack.expect("C1", "7.000001", ["echo 1: first"])
        post_event(client, signer, envelope(mention("second", channel="C1", ts="8.000001")))
        slack.expect("C1", "8.000001", ["echo 1: second"])
    assert len(slack.of("chat.startStream")) == 1


def test_a_direct_message_at_the_top_level_is_posted_not_streamed(slack: FakeSlack, signer: Signer) -> None:
    with TestClient(make_host(make_channel(slack)).app) as client:
        post_event(client, signer, envelope(message("hi", channel="D1")))
        slack.expect("D1", None, ["echo 1: hi"])
    assert slack.of("chat.startStream") == []


def test_a_response_hook_that_changes_the_answer_replaces_the_streamed_text(slack: FakeSlack, signer: Signer) -> None:
    from agent_framework_hosting import HostedRunResult

    def redact(result: HostedRunResult[Any], **_: Any) -> HostedRunResult[Any]:
        from agent_framework import AgentResponse, Message

        return result.replace(result=AgentResponse(messages=[Message(role="assistant", contents=["[redacted]"])]))

    channel = make_channel(slack)
    channel.response_hook = redact
    with TestClient(make_host(channel).app) as client:
        post_event(client, signer, envelope(mention("secret stuff", channel="C1", ts="9.000001")))
        slack.wait_for(lambda fake: fake.texts("C1", "9.000001") == ["[redacted]"], what="the redacted answer")


def test_where_streams_do_not_apply_the_answer_grows_by_edits_and_a_long_one_continues_in_new_messages(
    slack: FakeSlack, signer: Signer
) -> None:
    from agent_framework_hosting.text import split_fenced
    from agent_framework_hosting_slack import markdown_to_mrkdwn

    answer = " ".join(f"w{n}" for n in range(2500))
    agent = OfflineChatClient(reply=lambda messages: answer, chunk_delay=0.001)
    with TestClient(make_host(make_channel(slack, stream_interval=0.05), agent).app) as client:
        post_event(client, signer, envelope(message("talk", channel="D1")))
        expected = split_fenced(markdown_to_mrkdwn(answer), 4000)
        assert len(expected) >= 3
        slack.expect("D1", None, expected)
    posts, updates = slack.of("chat.postMessage"), slack.of("chat.update")
    assert updates, "the first message was never edited as the answer grew"
    assert posts[0].at < updates[0].at
    assert all(len(call.body["text"]) <= 4000 for call in posts + updates)
    assert slack.of("chat.startStream") == []


def test_a_429_during_live_edits_holds_them_for_its_retry_after(slack: FakeSlack, signer: Signer) -> None:
    slack.script("chat.update", (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}))
    agent = OfflineChatClient(reply=lambda messages: "a b c d e f g h i j k l m n o p", chunk_delay=0.1)
    with TestClient(make_host(make_channel(slack, stream_interval=0.05), agent).app) as client:
        post_event(client, signer, envelope(message("go", channel="D1")))
        slack.expect("D1", None, ["a b c d e f g h i j k l m n o p"])
    updates = slack.of("chat.update")
    assert len(updates) >= 2
    assert updates[1].at - updates[0].at >= 0.9, "an edit went out during the 429's Retry-After"


def test_a_turn_that_fails_mid_stream_stops_the_stream_and_apologises(slack: FakeSlack, signer: Signer) -> None:
    agent = OfflineChatClient(reply=lambda messages: " ".join(f"w{n}" for n in range(40)), chunk_delay=0.02)
    with TestClient(make_host(make_channel(slack, stream_interval=0.01), agent).app) as client:
        post_event(client, signer, envelope(mention("please [fail] midway", channel="C1", ts="11.000001")))
        slack.wait_for(lambda fake: len(fake.thread("C1", "11.000001")) == 2, what="the partial answer and apology")
    partial, apology = slack.thread("C1", "11.000001")
    assert partial.streamed and partial.stopped and partial.text.startswith("w0 w1")
    assert apology.text == "Sorry, something went wrong while answering. Please try again."
