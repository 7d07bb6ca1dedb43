"""Images, the assistant surface, commands, interactions, rate limits and secrets kept out of logs."""

from __future__ import annotations

import base64
import logging
import time
from typing import Any

import pytest
from agent_framework_hosting import ChannelCommand, ChannelCommandContext
from agent_framework_hosting.testing import OfflineChatClient
from slack_fake import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET, TEAM, FakeSlack, Signer, envelope, mention, message
from slack_kit import COMMANDS, INTERACTIONS, make_channel, make_host, post_event, post_form
from starlette.testclient import TestClient

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def finished(slack: FakeSlack, channel: str, thread_ts: str | None, count: int = 1) -> list[str]:
    return slack.wait_for(
        lambda fake: (texts := fake.texts(channel, thread_ts)) and len(texts) >= count and texts,
        what=f"{count} finished answer(s) in {channel}/{thread_ts}",
    )


# --- images -------------------------------------------------------------------------------------------


def test_an_image_is_downloaded_with_the_bot_token_and_given_to_the_agent_as_data(
    slack: FakeSlack, signer: Signer
) -> None:
    agent = OfflineChatClient()
    file = slack.add_file("cat.png", PNG, "image/png")
    event = message("what is in this picture?", channel="D1", subtype="file_share", files=[file])
    with TestClient(make_host(make_channel(slack), agent).app) as client:
        post_event(client, signer, envelope(event))
        slack.expect("D1", None, ["echo 1: what is in this picture?"])
    download = slack.of("file")[0]
    assert download.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    user = [m for m in agent.calls[0] if m.role == "user"][-1]
    images = [c for c in user.contents if c.type == "data"]
    assert len(images) == 1 and images[0].media_type == "image/png"
    assert images[0].uri == "data:image/png;base64," + base64.b64encode(PNG).decode()
    seen_by_model = str([m.to_dict() for m in agent.calls[0]])
    assert "files-pri" not in seen_by_model and file["url_private"] not in seen_by_model


def test_an_image_alone_is_answered_and_a_file_off_slack_is_never_fetched_with_the_token(
    slack: FakeSlack, signer: Signer
) -> None:
    agent = OfflineChatClient()
    good = slack.add_file("dog.jpg", b"\xff\xd8\xff" + b"jpeg" * 10, "image/jpeg")
    foreign = {
        **good,
        "id": "F9",
        "url_private": "http://localhost:9/steal",
        "url_private_download": "http://localhost:9/steal",
    }
    with TestClient(make_host(make_channel(slack), agent).app) as client:
        post_event(client, signer, envelope(message("", channel="D1", subtype="file_share", files=[good])))
        slack.expect("D1", None, ["echo 1:"])
        post_event(client, signer, envelope(message("", channel="D2", subtype="file_share", files=[foreign])))
        slack.expect("D2", None, ["Sorry, I could not load that image."])
        pdf = slack.add_file("doc.pdf", b"%PDF", "application/pdf")
        post_event(client, signer, envelope(message("", channel="D3", subtype="file_share", files=[pdf])))
        slack.expect("D3", None, ["Sorry, I can only read text and images."])
    assert len(agent.calls) == 1
    assert [c.body["name"] for c in slack.of("file")] == ["dog.jpg"]


# --- the assistant surface ------------------------------------------------------------------------------


def thread_started(channel: str, thread_ts: str, user: str = "U0ADA") -> dict[str, Any]:
    return {
        "type": "assistant_thread_started",
        "event_ts": thread_ts,
        "assistant_thread": {
            "user_id": user,
            "channel_id": channel,
            "thread_ts": thread_ts,
            "context": {"channel_id": "C1", "team_id": TEAM, "enterprise_id": None},
        },
    }


def test_an_assistant_thread_gets_prompts_a_thinking_status_a_title_and_a_streamed_answer(
    slack: FakeSlack, signer: Signer
) -> None:
    from agent_framework_hosting_slack import SlackAssistant

    assistant = SlackAssistant(
        suggested_prompts=[("Summarise", "Summarise this channel"), ("Help", "What can you do?")],
        prompts_title="Try these",
        greeting="Hi! How can I help?",
    )
    with TestClient(make_host(make_channel(slack, assistant=assistant)).app) as client:
        post_event(client, signer, envelope(thread_started("D1", "50.000001")))
        prompts = slack.wait_for(lambda fake: fake.of("assistant.threads.setSuggestedPrompts"), what="prompts")[0].body
        assert prompts["prompts"] == [
            {"title": "Summarise", "message": "Summarise this channel"},
            {"title": "Help", "message": "What can you do?"},
        ]
        assert (prompts["channel_id"], prompts["thread_ts"], prompts["title"]) == ("D1", "50.000001", "Try these")
        post_event(client, signer, envelope(message("What can you do?", channel="D1", thread_ts="50.000001")))
        slack.expect("D1", "50.000001", ["Hi! How can I help?", "echo 1: What can you do?"])
        post_event(client, signer, envelope(message("more", channel="D1", thread_ts="50.000001")))
        finished(slack, "D1", "50.000001", 3)
    statuses = [c.body["status"] for c in slack.of("assistant.threads.setStatus")]
    assert statuses == ["is thinking…", "is thinking…"]
    assert [c.body["title"] for c in slack.of("assistant.threads.setTitle")] == ["What can you do?"]
    assert len(slack.of("chat.startStream")) == 2
    order = [c.method for c in slack.calls if c.method in ("assistant.threads.setStatus", "chat.startStream")]
    assert order[:2] == ["assistant.threads.setStatus", "chat.startStream"]


def test_a_failed_turn_in_an_assistant_thread_clears_the_status(slack: FakeSlack, signer: Signer) -> None:
    with TestClient(make_host(make_channel(slack, stream=False)).app) as client:
        post_event(client, signer, envelope(thread_started("D1", "51.000001")))
        post_event(client, signer, envelope(message("please [fail]", channel="D1", thread_ts="51.000001")))
        slack.expect("D1", "51.000001", ["Sorry, something went wrong while answering. Please try again."])
        slack.wait_for(lambda fake: len(fake.of("assistant.threads.setStatus")) == 2, what="the cleared status")
    assert [c.body["status"] for c in slack.of("assistant.threads.setStatus")] == ["is thinking…", ""]


# --- commands and interactions -------------------------------------------------------------------------------


def slash(
    command: str, text: str = "", *, channel: str = "D1", user: str = "U0ADA", slack: FakeSlack
) -> dict[str, str]:
    return {
        "token": "x",
        "team_id": TEAM,
        "team_domain": "fake",
        "channel_id": channel,
        "channel_name": "directmessage" if channel.startswith("D") else "general",
        "user_id": user,
        "user_name": "ada",
        "command": command,
        "text": text,
        "api_app_id": "A0APP",
        "trigger_id": "1.2.3",
        "response_url": f"{slack.url}/respond/{time.monotonic_ns()}",
    }


def test_slash_reset_in_a_dm_starts_a_new_conversation(slack: FakeSlack, signer: Signer) -> None:
    with TestClient(make_host(make_channel(slack)).app) as client:
        post_event(client, signer, envelope(message("remember me", channel="D1")))
        finished(slack, "D1", None)
        response = post_form(client, signer, COMMANDS, slash("/reset", slack=slack))
        assert response.status_code == 200
        slack.wait_for(lambda fake: fake.responses, what="the reset confirmation")
        post_event(client, signer, envelope(message("who am I?", channel="D1")))
        slack.expect("D1", None, ["echo 1: remember me", "echo 1: who am I?"])
    assert slack.responses == [{"response_type": "ephemeral", "text": "Started a new conversation."}]


def test_slash_reset_in_a_channel_explains_threads_and_reset_by_mention_works(slack: FakeSlack, signer: Signer) -> None:
    with TestClient(make_host(make_channel(slack)).app) as client:
        answer = post_form(client, signer, COMMANDS, slash("/reset", channel="C1", slack=slack))
        assert "mention me with `/reset` inside the thread" in answer.json()["text"]
        post_event(client, signer, envelope(mention("hello", channel="C1", ts="60.000001")))
        finished(slack, "C1", "60.000001")
        post_event(client, signer, envelope(mention("/reset", channel="C1", ts="60.000002", thread_ts="60.000001")))
        finished(slack, "C1", "60.000001", 2)
        post_event(client, signer, envelope(mention("again", channel="C1", ts="60.000003", thread_ts="60.000001")))
        slack.expect("C1", "60.000001", ["echo 1: hello", "Started a new conversation.", "echo 1: again"])


def test_custom_commands_unknown_commands_and_bad_forms(slack: FakeSlack, signer: Signer) -> None:
    seen: list[str] = []

    async def summarize(ctx: ChannelCommandContext) -> None:
        seen.append(str(ctx.request.metadata["args"]))
        await ctx.reply(f"summary of {ctx.request.metadata['args']}")

    channel = make_channel(slack, commands=[ChannelCommand("summarize", "Summarise", summarize)])
    with TestClient(make_host(channel).app) as client:
        assert post_form(client, signer, COMMANDS, slash("/summarize", "the week", slack=slack)).status_code == 200
        slack.wait_for(lambda fake: fake.responses, what="the command's answer")
        unknown = post_form(client, signer, COMMANDS, slash("/nope", slack=slack))
        bad = post_form(client, signer, COMMANDS, {"text": "x"})
        unsigned = client.post(COMMANDS, content=b"command=%2Freset")
    assert seen == ["the week"]
    assert slack.responses == [{"response_type": "ephemeral", "text": "summary of the week"}]
    assert unknown.json() == {"response_type": "ephemeral", "text": "I don't know the command /nope."}
    assert bad.status_code == 400 and unsigned.status_code == 401


def test_a_button_press_runs_a_turn_in_its_thread(slack: FakeSlack, signer: Signer) -> None:
    import json

    payload = {
        "type": "block_actions",
        "team": {"id": TEAM},
        "user": {"id": "U0ADA"},
        "channel": {"id": "C1"},
        "container": {"type": "message", "channel_id": "C1", "message_ts": "70.000002", "thread_ts": "70.000001"},
        "trigger_id": "9.9.9",
        "response_url": f"{slack.url}/respond/1",
        "actions": [{"action_id": "more", "block_id": "b", "type": "button", "value": "Tell me more"}],
    }
    with TestClient(make_host(make_channel(slack)).app) as client:
        response = post_form(client, signer, INTERACTIONS, {"payload": json.dumps(payload)})
        assert response.status_code == 200
        slack.expect("C1", "70.000001", ["echo 1: Tell me more"])
        garbage = post_form(client, signer, INTERACTIONS, {"nope": "1"})
    assert garbage.status_code == 400


# --- rate limits, server errors, secrets ------------------------------------------------------------------


def test_a_429_is_waited_out_for_its_retry_after_and_a_5xx_is_retried(slack: FakeSlack, signer: Signer) -> None:
    slack.script(
        "chat.postMessage",
        (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}),
        (503, {"ok": False, "error": "service_unavailable"}),
    )
    with TestClient(make_host(make_channel(slack, stream=False)).app) as client:
        post_event(client, signer, envelope(message("hello", channel="D1")))
        slack.expect("D1", None, ["echo 1: hello"])
    posts = slack.of("chat.postMessage")
    assert len(posts) == 3
    assert posts[1].at - posts[0].at >= 1.0, "the Retry-After was not honoured"


def test_tokens_and_the_signing_secret_never_reach_a_log(
    slack: FakeSlack, signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    slack.script(
        "chat.postMessage",
        (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "0"}),
        (500, {"ok": False, "error": "fatal_error"}),
        (500, {}),
        (500, {}),
        (500, {}),
    )
    channel = make_channel(slack, stream=False, app_token=APP_TOKEN)
    with caplog.at_level(logging.DEBUG), TestClient(make_host(channel).app) as client:
        slack.wait_for(lambda fake: fake.sockets, what="the Socket Mode connection")
        logging.getLogger("agent_framework.hosting.slack").debug("token %s secret %s", BOT_TOKEN, SIGNING_SECRET)
        logging.getLogger("httpx").info("Authorization: Bearer %s app %s", BOT_TOKEN, APP_TOKEN)
        post_event(client, signer, envelope(message("hello", channel="D1")))
        slack.wait_for(lambda fake: len(fake.of("chat.postMessage")) >= 4, what="four attempts")
        time.sleep(0.3)
    assert "could not deliver part 1/1 of a reply" in caplog.text
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "<slack-bot-token>" in text
    for secret in (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET):
        assert secret not in text
