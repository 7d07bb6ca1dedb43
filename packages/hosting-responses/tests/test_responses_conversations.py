"""Conversations through the official SDK: objects, items, and the session a conversation keeps."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import openai
import pytest
from agent_framework_hosting.testing import OfflineChatClient


def test_conversation_objects_can_be_created_read_updated_and_deleted(serve: Any) -> None:
    served = serve()
    conversation = served.client.conversations.create(metadata={"topic": "billing"})
    assert conversation.id.startswith("conv_") and conversation.object == "conversation"
    assert served.client.conversations.retrieve(conversation.id).metadata == {"topic": "billing"}
    updated = served.client.conversations.update(conversation.id, metadata={"topic": "refunds"})
    assert updated.metadata == {"topic": "refunds"}
    gone = served.client.conversations.delete(conversation.id)
    assert (gone.id, gone.deleted, gone.object) == (conversation.id, True, "conversation.deleted")
    with pytest.raises(openai.NotFoundError):
        served.client.conversations.retrieve(conversation.id)
    with pytest.raises(openai.NotFoundError):
        served.client.conversations.delete(conversation.id)


def test_a_conversation_keeps_one_session_across_responses(serve: Any) -> None:
    served = serve()
    conversation = served.client.conversations.create(items=[{"role": "user", "content": "context first"}])
    first = served.client.responses.create(model="m", input="question", conversation=conversation.id)
    assert first.output_text == "echo 2: question"
    assert first.conversation is not None and first.conversation.id == conversation.id
    assert [m.text for m in served.chat.calls[-1]] == ["context first", "question"]
    second = served.client.responses.create(model="m", input="another", conversation={"id": conversation.id})
    assert second.output_text == "echo 3: another"


def test_conversation_items_list_inputs_and_outputs_in_order(serve: Any) -> None:
    served = serve()
    conversation = served.client.conversations.create(items=[{"role": "system", "content": "be kind"}])
    served.client.responses.create(model="m", input="hi", conversation=conversation.id)
    added = served.client.conversations.items.create(conversation.id, items=[{"role": "user", "content": "note"}])
    assert [item.type for item in added.data] == ["message"]
    served.client.responses.create(model="m", input="again", conversation=conversation.id)
    items = list(served.client.conversations.items.list(conversation.id, order="asc", limit=2))
    texts = [item.content[0].text for item in items]  # type: ignore[union-attr]
    assert texts == ["be kind", "hi", "echo 1: hi", "note", "again", "echo 3: again"]
    assert [m.text for m in served.chat.calls[-1]][-2:] == ["note", "again"]
    newest = served.client.conversations.items.list(conversation.id, limit=1)
    assert newest.data[0].content[0].text == "echo 3: again"  # type: ignore[union-attr]
    one = served.client.conversations.items.retrieve(items[1].id, conversation_id=conversation.id)  # type: ignore[union-attr]
    assert one.content[0].text == "hi"  # type: ignore[union-attr]
    with pytest.raises(openai.NotFoundError):
        served.client.conversations.items.retrieve("msg_unknown", conversation_id=conversation.id)


def test_unknown_conversations_are_404_and_mixing_with_previous_response_is_400(serve: Any) -> None:
    served = serve()
    with pytest.raises(openai.NotFoundError):
        served.client.responses.create(model="m", input="x", conversation="conv_missing")
    with pytest.raises(openai.NotFoundError):
        served.client.conversations.items.list("conv_missing")
    conversation = served.client.conversations.create()
    first = served.client.responses.create(model="m", input="x", conversation=conversation.id)
    with pytest.raises(openai.BadRequestError):
        served.client.responses.create(
            model="m", input="y", conversation=conversation.id, previous_response_id=first.id
        )
    assert httpx.post(f"{served.url}/v1/conversations", content=b"[]", timeout=10).status_code == 400
    with pytest.raises(openai.BadRequestError):
        served.client.conversations.create(items=[{"role": "user", "content": "x"}] * 21)


def test_continuing_a_conversation_response_by_id_forks_without_touching_the_conversation(serve: Any) -> None:
    served = serve()
    conversation = served.client.conversations.create()
    first = served.client.responses.create(model="m", input="one", conversation=conversation.id)
    served.client.responses.create(model="m", input="two", conversation=conversation.id)
    fork = served.client.responses.create(model="m", input="side", previous_response_id=first.id)
    assert fork.output_text == "echo 2: side" and fork.conversation is None
    third = served.client.responses.create(model="m", input="three", conversation=conversation.id)
    assert third.output_text == "echo 3: three"


def test_deleting_a_conversation_deletes_its_session(serve: Any) -> None:
    served = serve()
    conversation = served.client.conversations.create()
    served.client.responses.create(model="m", input="x", conversation=conversation.id)
    key = f"conversation:{conversation.id}"
    assert asyncio.run(served.host.state.get("sessions", key)) is not None
    served.client.conversations.delete(conversation.id)
    assert asyncio.run(served.host.state.get("sessions", key)) is None


def test_a_busy_conversation_answers_409_and_keeps_its_new_items(serve: Any) -> None:
    served = serve(chat=OfflineChatClient(chunk_delay=0.2), turn_wait=0.2)
    conversation = served.client.conversations.create()
    running = served.client.responses.create(
        model="m", input=" ".join(["slow"] * 20), conversation=conversation.id, background=True
    )
    deadline = time.monotonic() + 5
    while served.client.responses.retrieve(running.id).status != "in_progress" and time.monotonic() < deadline:
        time.sleep(0.05)
    served.client.conversations.items.create(conversation.id, items=[{"role": "user", "content": "queued note"}])
    with pytest.raises(openai.ConflictError) as caught:
        served.client.responses.create(model="m", input="impatient", conversation=conversation.id)
    assert caught.value.body["code"] == "session_busy"  # type: ignore[index]
    served.client.responses.cancel(running.id)
    served.client.responses.create(model="m", input="later", conversation=conversation.id)
    assert [m.text for m in served.chat.calls[-1]][-2:] == ["queued note", "later"]
