"""Streaming in private chats with `sendMessageDraft`: a throttled draft, then the real formatted messages."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx
import pytest
from agent_framework_hosting.testing import OfflineChatClient, eventually
from agent_framework_hosting_telegram import html_to_text, markdown_to_html, split_html

sys.path.insert(0, os.path.dirname(__file__))
from telegram_fake import FakeBotApi, message_update, serve_bot  # noqa: E402

WEBHOOK_URL = "https://bot.example.com/hook"


def streaming_bot(fake: FakeBotApi, client: OfflineChatClient, **kwargs: object):  # type: ignore[no-untyped-def]
    return serve_bot(fake, client=client, webhook_url=WEBHOOK_URL, stream=True, **kwargs)  # type: ignore[arg-type]


async def post(bot, update: object) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(bot.webhook, json=update, headers=bot.headers())
        assert response.status_code == 200


def shown(fake: FakeBotApi, chat_id: int) -> list[str]:
    return [m["visible"] for m in fake.current(chat_id)]


async def test_a_private_chat_streams_a_throttled_draft_then_sends_the_formatted_answer(fake: FakeBotApi) -> None:
    answer = "**Answer**: " + " ".join(f"w{i}" for i in range(40))
    visible = answer.replace("**", "")
    client = OfflineChatClient(reply=lambda messages: answer, chunk_delay=0.03)
    with streaming_bot(fake, client, stream_edit_min_interval=0.25) as bot:
        await post(bot, message_update(1, "go"))
        await eventually(lambda: shown(fake, 42) == [visible], message="the final message")
        await asyncio.sleep(0.3)
    drafts, sends = fake.timed("sendMessageDraft"), fake.timed("sendMessage")
    assert len(drafts) >= 2 and len(sends) == 1 and fake.of("editMessageText") == []
    [draft_id] = {call.payload["draft_id"] for call in drafts}
    assert isinstance(draft_id, int) and draft_id != 0
    assert all(call.payload["chat_id"] == 42 for call in drafts)
    moments = [call.at for call in drafts]
    assert all(later - earlier >= 0.2 for earlier, later in zip(moments, moments[1:], strict=False))
    assert len(drafts) <= (moments[-1] - moments[0]) / 0.25 + 2
    texts = fake.drafts[(42, draft_id)]
    assert [len(t) for t in texts] == sorted({len(t) for t in texts}) and len(texts[0]) < len(visible)  # grows
    assert all(visible.startswith(text.strip()) for text in texts)
    assert drafts[0].payload["parse_mode"] == "HTML" and drafts[0].payload["text"].startswith("<b>Answer</b>")
    assert sends[0].at > moments[-1]
    [message] = fake.current(42)
    assert message["parse_mode"] == "HTML" and message["text"] == markdown_to_html(answer)


async def test_every_turn_gets_its_own_draft_id(fake: FakeBotApi) -> None:
    client = OfflineChatClient(chunk_delay=0.01)
    with streaming_bot(fake, client, stream_edit_min_interval=0) as bot:
        await post(bot, message_update(1, "one", chat_id=5))
        await post(bot, message_update(2, "two", chat_id=5))
        await post(bot, message_update(3, "three", chat_id=6))
        await eventually(lambda: len(shown(fake, 5)) == 2 and shown(fake, 6), message="three answers")
    assert shown(fake, 5) == ["echo 1: one", "echo 2: two"] and shown(fake, 6) == ["echo 1: three"]
    ids = [(chat, draft_id) for chat, draft_id in fake.drafts]
    assert len(ids) == 3 and len({draft_id for _, draft_id in ids}) == 3
    assert all(draft_id != 0 for _, draft_id in ids)
    assert fake.of("editMessageText") == []


async def test_a_group_chat_still_streams_by_editing(fake: FakeBotApi) -> None:
    answer = " ".join(f"g{i}" for i in range(20))
    client = OfflineChatClient(reply=lambda messages: answer, chunk_delay=0.03)
    with streaming_bot(fake, client, stream_edit_min_interval=0.1) as bot:
        await post(bot, message_update(1, "go", chat_id=-100, chat_type="supergroup"))
        await eventually(lambda: shown(fake, -100) == [answer], message="the edited answer")
    assert fake.of("sendMessageDraft") == []
    assert len(fake.of("sendMessage")) == 1 and len(fake.of("editMessageText")) >= 1


async def test_stream_drafts_false_streams_private_chats_by_editing(fake: FakeBotApi) -> None:
    answer = " ".join(f"p{i}" for i in range(20))
    client = OfflineChatClient(reply=lambda messages: answer, chunk_delay=0.03)
    with streaming_bot(fake, client, stream_edit_min_interval=0.1, stream_drafts=False) as bot:
        await post(bot, message_update(1, "go"))
        await eventually(lambda: shown(fake, 42) == [answer], message="the edited answer")
    assert fake.of("sendMessageDraft") == []
    assert len(fake.of("sendMessage")) == 1 and len(fake.of("editMessageText")) >= 1


@pytest.mark.parametrize("status", [404, 400])
async def test_a_refused_draft_falls_back_to_editing_and_later_turns_skip_drafts(fake: FakeBotApi, status: int) -> None:
    fake.refuse_drafts = status
    client = OfflineChatClient(chunk_delay=0.03)
    words = " ".join(f"r{i}" for i in range(12))
    with streaming_bot(fake, client, stream_edit_min_interval=0.05) as bot:
        await post(bot, message_update(1, words))
        await eventually(lambda: shown(fake, 42) == [f"echo 1: {words}"], message="the first answer")
        assert len(fake.of("sendMessageDraft")) == 1  # refused once, then never asked again this turn
        first_edits = len(fake.of("editMessageText"))
        assert first_edits >= 1 and len(fake.of("sendMessage")) == 1
        await post(bot, message_update(2, words))
        await eventually(lambda: len(shown(fake, 42)) == 2, message="the second answer")
        await eventually(lambda: shown(fake, 42)[1] == f"echo 2: {words}", message="the second answer in full")
    assert len(fake.of("sendMessageDraft")) == 1  # the refusal was remembered
    assert len(fake.of("editMessageText")) > first_edits


async def test_a_chat_that_refuses_a_draft_does_not_turn_drafts_off_for_the_bot(fake: FakeBotApi) -> None:
    fake.refuse_drafts = 403
    client = OfflineChatClient(chunk_delay=0.03)
    words = " ".join(f"b{i}" for i in range(12))
    with streaming_bot(fake, client, stream_edit_min_interval=0.05) as bot:
        await post(bot, message_update(1, words))
        await eventually(lambda: shown(fake, 42) == [f"echo 1: {words}"], message="the first answer")
        assert len(fake.of("sendMessageDraft")) == 1 and len(fake.of("editMessageText")) >= 1
        fake.refuse_drafts = None
        await post(bot, message_update(2, words))
        await eventually(lambda: len(shown(fake, 42)) == 2, message="the second answer")
    assert len(fake.of("sendMessageDraft")) > 1, "a 403 is about one chat: the next turn tries drafts again"


async def test_a_rate_limited_or_badly_formatted_draft_is_not_a_refusal(fake: FakeBotApi) -> None:
    fake.fail("sendMessageDraft", "429", retry_after=0)
    fake.fail("sendMessageDraft", "entities")  # the next draft is resent as plain text
    client = OfflineChatClient(chunk_delay=0.03)
    words = " ".join(f"x{i}" for i in range(10))
    with streaming_bot(fake, client, stream_edit_min_interval=0.05) as bot:
        await post(bot, message_update(1, words))
        await eventually(lambda: shown(fake, 42) == [f"echo 1: {words}"], message="the first answer")
        await post(bot, message_update(2, "again"))
        await eventually(lambda: len(shown(fake, 42)) == 2, message="the second answer")
    calls = fake.of("sendMessageDraft")
    assert "parse_mode" in calls[1] and "parse_mode" not in calls[2]  # the plain-text resend
    assert len(fake.drafts) == 2  # both turns still streamed as drafts
    assert fake.of("editMessageText") == []


async def test_a_long_answer_ends_in_split_final_messages(fake: FakeBotApi) -> None:
    answer = " ".join(f"word{i:04d}" for i in range(1300))  # ~11.7k characters
    expected = [html_to_text(part).strip() for part in split_html(markdown_to_html(answer))]
    assert len(expected) == 3 and " ".join(expected) == answer
    client = OfflineChatClient(reply=lambda messages: answer, chunk_delay=0.001)
    with streaming_bot(fake, client, stream_edit_min_interval=0.05) as bot:
        await post(bot, message_update(1, "go"))
        await eventually(
            lambda: [text.strip() for text in shown(fake, 42)] == expected, message="three messages with the answer"
        )
    [(_, texts)] = fake.drafts.items()
    assert len(texts) >= 2 and all(len(text) <= 4096 for text in texts)
    assert len(fake.of("sendMessage")) == 3 and fake.of("editMessageText") == []
