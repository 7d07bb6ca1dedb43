"""Concurrency policies through the official SDK: reject is a 409 in OpenAI's error shape; interrupt cuts a stream."""

from __future__ import annotations

import threading
import time
from typing import Any

import openai
import pytest
from agent_framework_hosting.testing import OfflineChatClient

LONG = " ".join(f"w{i}" for i in range(30))


def test_reject_answers_409_with_the_openai_error_shape_and_changes_nothing(serve: Any) -> None:
    served = serve(chat=OfflineChatClient(chunk_delay=0.1), concurrency="reject")
    conversation = served.client.conversations.create()
    stream = served.client.responses.create(model="m", input=LONG, conversation=conversation.id, stream=True)
    events = iter(stream)
    assert next(e for e in events if e.type == "response.output_text.delta")
    with pytest.raises(openai.ConflictError) as refused:
        served.client.responses.create(model="m", input="too soon", conversation=conversation.id)
    error = refused.value.body
    assert error["code"] == "conversation_busy"
    assert "still working on your last message" in error["message"]
    final = [e for e in events if e.type == "response.completed"][0].response
    assert final.output_text == "echo 1: " + LONG
    after = served.client.responses.create(model="m", input="now", conversation=conversation.id)
    assert after.output_text == "echo 2: now", "the refused message never entered the conversation"


def test_interrupt_ends_the_running_stream_incomplete_and_answers_the_new_message(serve: Any) -> None:
    served = serve(chat=OfflineChatClient(chunk_delay=0.1), concurrency="interrupt")
    conversation = served.client.conversations.create()
    stream = served.client.responses.create(model="m", input=LONG, conversation=conversation.id, stream=True)
    events = iter(stream)
    assert next(e for e in events if e.type == "response.output_text.delta")
    newer: dict[str, Any] = {}

    def ask() -> None:
        newer["response"] = served.sdk().responses.create(model="m", input="stop", conversation=conversation.id)

    asker = threading.Thread(target=ask)
    started = time.monotonic()
    asker.start()
    last = [e for e in events][-1]
    asker.join(10)
    assert last.type == "response.incomplete"
    assert last.response.status == "incomplete"
    assert len(last.response.output_text) < len("echo 1: " + LONG)
    assert newer["response"].output_text == "echo 2: stop"
    assert time.monotonic() - started < 5
