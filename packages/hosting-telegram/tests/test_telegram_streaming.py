"""Streaming by editing (groups, or `stream_drafts=False`): one message, throttled edits, a formatted final edit."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx
from agent_framework_hosting.testing import OfflineChatClient, eventually
from agent_framework_hosting_telegram import markdown_to_html

sys.path.insert(0, os.path.dirname(__file__))
from telegram_fake import FakeBotApi, message_update, serve_bot  # noqa: E402

WEBHOOK_URL = "https://bot.example.com/hook"


def streaming_bot(fake: FakeBotApi, client: OfflineChatClient, **kwargs: object):  # type: ignore[no-untyped-def]
    kwargs.setdefault("stream", True)
    return serve_bot(fake, client=client, webhook_url=WEBHOOK_URL, **kwargs)  # type: ignore[arg-type]


async def post(bot, update: object) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(bot.webhook, json=update, headers=bot.headers())
        assert response.status_code == 200


async def test_stream_sends_once_then_edits_no_faster_than_the_interval_and_ends_formatted(fake: FakeBotApi) -> None:
    answer = "**Answer**: " + " ".join(f"w{i}" for i in range(40))
    client = OfflineChatClient(reply=lambda messages: answer, chunk_delay=0.03)
    with streaming_bot(fake, client, stream_edit_min_interval=0.25, stream_drafts=False) as bot:
        await post(bot, message_update(1, "go"))
        await eventually(
            lambda: fake.current(42) and fake.current(42)[0]["visible"] == answer.replace("**", ""),
            message="final text",
        )
        await asyncio.sleep(0.3)
    sends, edits = fake.timed("sendMessage"), fake.timed("editMessageText")
    assert len(sends) == 1 and len(edits) >= 2
    moments = [sends[0].at] + [edit.at for edit in edits]
    assert all(later - earlier >= 0.2 for earlier, later in zip(moments, moments[1:], strict=False))
    assert len(edits) <= (moments[-1] - moments[0]) / 0.25 + 2
    texts = [sends[0].payload["text"]] + [edit.payload["text"] for edit in edits]
    assert all(a != b for a, b in zip(texts, texts[1:], strict=False))  # never an edit that changes nothing
    assert len(texts[0]) < len(texts[-1])  # the first message carried only the beginning
    [message] = fake.current(42)
    assert message["parse_mode"] == "HTML" and message["text"] == markdown_to_html(answer)
    assert message["text"].startswith("<b>Answer</b>")


async def test_final_edit_is_formatted_even_when_interim_edits_failed_formatting(fake: FakeBotApi) -> None:
    answer = "plain start then **bold end**"
    client = OfflineChatClient(reply=lambda messages: answer, chunk_delay=0.02)
    fake.fail("editMessageText", "entities", times=2)  # the first interim edit and its plain-text resend
    with streaming_bot(fake, client, stream_edit_min_interval=0.05, stream_drafts=False) as bot:
        await post(bot, message_update(1, "go"))

        def formatted() -> bool:
            messages = fake.current(42)
            return (
                bool(messages)
                and messages[0]["parse_mode"] == "HTML"
                and messages[0]["visible"] == "plain start then bold end"
            )

        await eventually(formatted, message="formatted final")
        assert fake.current(42)[0]["text"] == "plain start then <b>bold end</b>"
        assert fake.of("editMessageText")[-1]["parse_mode"] == "HTML"


async def test_message_not_modified_answers_are_ignored(fake: FakeBotApi) -> None:
    answer = " ".join(f"t{i}" for i in range(12))
    client = OfflineChatClient(reply=lambda messages: answer, chunk_delay=0.03)
    fake.fail("editMessageText", "not_modified", times=2)
    with streaming_bot(fake, client, stream_edit_min_interval=0.05, stream_drafts=False) as bot:
        await post(bot, message_update(1, "go"))
        await eventually(lambda: fake.current(42) and fake.current(42)[0]["visible"] == answer, message="final text")
        await asyncio.sleep(0.2)
        assert [m["visible"] for m in fake.current(42)] == [answer]


def shown_in_three(answer: str) -> list[str]:
    from agent_framework_hosting_telegram import html_to_text, split_html

    parts = [html_to_text(chunk).strip() for chunk in split_html(markdown_to_html(answer))]
    assert len(parts) == 3 and " ".join(parts) == answer
    return parts


async def test_a_long_streamed_answer_ends_split_across_messages(fake: FakeBotApi) -> None:
    words = [f"word{i:04d}" for i in range(1300)]  # ~11.7k characters
    answer = " ".join(words)
    client = OfflineChatClient(reply=lambda messages: answer)
    with streaming_bot(fake, client, stream_edit_min_interval=0.05, stream_drafts=False) as bot:
        await post(bot, message_update(1, "go"))
        expected = shown_in_three(answer)
        await eventually(
            lambda: [m["visible"].strip() for m in fake.current(42)] == expected,
            message="three messages with the whole answer",
        )
        assert all(len(m["visible"]) <= 4096 for m in fake.current(42))


async def test_typing_is_repeated_while_the_agent_works(fake: FakeBotApi) -> None:
    client = OfflineChatClient(reply=lambda messages: " ".join(["slow"] * 10), chunk_delay=0.1)
    with streaming_bot(fake, client, typing_interval=0.2) as bot:
        await post(bot, message_update(1, "go"))
        await eventually(
            lambda: fake.current(42) and fake.current(42)[0]["visible"].count("slow") == 10, message="answer"
        )
        await asyncio.sleep(0.1)
        count = len(fake.of("sendChatAction"))
        assert count >= 3
        assert fake.of("sendChatAction")[0] == {"chat_id": 42, "action": "typing"}
        await asyncio.sleep(0.5)
        assert len(fake.of("sendChatAction")) == count  # stopped with the turn


async def test_send_typing_action_false_is_honoured_when_streaming(fake: FakeBotApi) -> None:
    client = OfflineChatClient(chunk_delay=0.02)
    with streaming_bot(fake, client, send_typing_action=False, typing_interval=0.05) as bot:
        await post(bot, message_update(1, "go"))
        await eventually(lambda: fake.current(42) and fake.current(42)[0]["visible"] == "echo 1: go", message="answer")
        assert fake.of("sendChatAction") == []


async def test_a_failure_mid_stream_is_followed_by_an_apology(fake: FakeBotApi) -> None:
    client = OfflineChatClient(chunk_delay=0.02)
    with streaming_bot(fake, client, stream_edit_min_interval=0) as bot:
        await post(bot, message_update(1, "one two three four [fail] five six"))
        await eventually(lambda: any(m["visible"].startswith("Sorry") for m in fake.current(42)), message="the apology")
        assert fake.current(42)[-1]["visible"] == "Sorry, something went wrong while answering. Please try again."


async def test_stream_update_hook_and_response_hook_shape_what_users_see(fake: FakeBotApi) -> None:
    from agent_framework import AgentResponse, Message

    def hide_secrets(update):  # type: ignore[no-untyped-def]
        return None if "secret" in update.text else update

    def redact(result, *, request, channel_name):  # type: ignore[no-untyped-def]
        return result.replace(result=AgentResponse(messages=[Message(role="assistant", contents=["[redacted]"])]))

    client = OfflineChatClient(chunk_delay=0.01)
    with streaming_bot(fake, client, stream_update_hook=hide_secrets, response_hook=redact) as bot:
        await post(bot, message_update(1, "my secret stuff"))
        await eventually(
            lambda: fake.current(42) and fake.current(42)[0]["visible"] == "[redacted]", message="redacted"
        )
        await asyncio.sleep(0.2)
    shown = [
        call.payload["text"]
        for call in fake.calls
        if call.method in ("sendMessage", "sendMessageDraft", "editMessageText")
    ]
    assert shown and not any("secret" in text for text in shown)
    assert [m["visible"] for m in fake.current(42)] == ["[redacted]"]
