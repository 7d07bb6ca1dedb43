"""`host.deliver` into a Responses conversation: an open stream sees the message at once, as an output item of its own.

The official SDK (strict validation) reads the streams of a real server; the delivery comes from outside
through ``POST /admin/deliver`` while the agent is still answering.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

import httpx
from agent_framework_hosting.testing import OfflineChatClient
from agent_framework_hosting_responses._events import ResponseEvents
from agent_framework_hosting_responses._render import message_item

ADMIN = "admin-token-0123456789"
REMINDER = "Reminder: stand-up at ten."
WORDS = "a b c d e f g h i j"


def _deliver(url: str, conversation_id: str) -> httpx.Response:
    return httpx.post(
        f"{url}/admin/deliver",
        json={"to": f"conversation:{conversation_id}", "text": REMINDER},
        headers={"authorization": f"Bearer {ADMIN}"},
        timeout=30,
    )


def test_a_message_delivered_during_a_stream_is_streamed_at_once_as_its_own_output_item(serve: Any) -> None:
    served = serve(chat=OfflineChatClient(chunk_delay=0.2), admin_token=ADMIN)
    conversation = served.client.conversations.create()
    seen: list[Any] = []
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        delivery = None
        with served.client.responses.stream(model="m", input=WORDS, conversation=conversation.id) as stream:
            for event in stream:
                seen.append(event)
                if event.type == "response.output_text.delta" and delivery is None:
                    delivery = pool.submit(_deliver, served.url, conversation.id)
            final = stream.get_final_response()
        assert delivery is not None and delivery.result().status_code == 200
        assert delivery.result().json()["results"][0]["delivered"] is True

    types = [event.type for event in seen]
    added = [event.item for event in seen if event.type == "response.output_item.added"]
    assert [item.type for item in added] == ["message", "message"]
    answer_id, delivered_id = added[0].id, added[1].id
    delivered_done = types.index("response.output_item.done")
    assert seen[delivered_done].item.id == delivered_id and seen[delivered_done].output_index == 1
    answer_deltas = [i for i, e in enumerate(seen) if e.type == "response.output_text.delta" and e.item_id == answer_id]
    assert answer_deltas[-1] > delivered_done, "the delivered message arrived while the agent was still answering"
    assert [e.delta for e in seen if e.type == "response.output_text.delta" and e.item_id == delivered_id] == [REMINDER]
    assert [e.sequence_number for e in seen] == list(range(len(seen)))

    assert final.status == "completed"
    assert [item.id for item in final.output] == [answer_id, delivered_id]
    assert final.output[0].content[0].text == f"echo 1: {WORDS}"  # type: ignore[union-attr]
    assert final.output[1].content[0].text == REMINDER  # type: ignore[union-attr]
    stored = served.client.responses.retrieve(final.id)
    assert [(i.id, i.content[0].text) for i in stored.output] == [
        (answer_id, final.output[0].content[0].text),
        (delivered_id, REMINDER),
    ]  # type: ignore[union-attr]

    items = list(served.client.conversations.items.list(conversation.id, order="asc"))
    assert [item.id for item in items][1:] == [answer_id, delivered_id], "stored once, where the stream showed it"
    assert items[0].type == "message" and items[0].role == "user"  # type: ignore[union-attr]

    follow_up = served.client.responses.create(model="m", input="next", conversation=conversation.id)
    seen_by_agent = [m.text for m in served.chat.calls[-1]]
    assert REMINDER in seen_by_agent, "the agent knows it said it"
    assert follow_up.output_text == "echo 2: next"


def test_a_background_stream_and_its_replay_carry_the_delivered_message(serve: Any) -> None:
    served = serve(chat=OfflineChatClient(chunk_delay=0.2), admin_token=ADMIN)
    conversation = served.client.conversations.create()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        delivery = None
        stream = served.client.responses.create(
            model="m", input=WORDS, conversation=conversation.id, background=True, stream=True
        )
        live = []
        for event in stream:
            live.append(event)
            if event.type == "response.output_text.delta" and delivery is None:
                delivery = pool.submit(_deliver, served.url, conversation.id)
        assert delivery is not None and delivery.result().status_code == 200
    response_id = live[0].response.id
    delivered = [e.item for e in live if e.type == "response.output_item.done" and e.item.content[0].text == REMINDER]
    assert len(delivered) == 1
    completed = live[-1]
    assert completed.type == "response.completed"
    assert [item.id for item in completed.response.output][1] == delivered[0].id

    with served.client.responses.stream(response_id=response_id) as replay:
        replayed = list(replay)
        final = replay.get_final_response()
    assert [(e.sequence_number, e.type) for e in replayed] == [(e.sequence_number, e.type) for e in live]
    assert REMINDER in [e.delta for e in replayed if e.type == "response.output_text.delta"]
    assert [item.id for item in final.output] == [item.id for item in completed.response.output]


def test_a_message_delivered_with_no_response_running_is_the_conversations_next_item(serve: Any) -> None:
    served = serve(admin_token=ADMIN)
    conversation = served.client.conversations.create()
    first = served.client.responses.create(model="m", input="hello", conversation=conversation.id)
    assert _deliver(served.url, conversation.id).status_code == 200
    items = list(served.client.conversations.items.list(conversation.id, order="asc"))
    assert [item.type for item in items] == ["message"] * 3
    assert items[1].id == first.output[0].id and items[2].content[0].text == REMINDER  # type: ignore[union-attr]
    later = served.client.responses.create(model="m", input="again", conversation=conversation.id)
    assert [item.type for item in later.output] == ["message"] and later.output_text == "echo 2: again"


def test_a_delivery_before_the_agents_first_text_takes_the_first_output_index() -> None:
    events = ResponseEvents("resp_1")
    reminder = message_item("msg_reminder", REMINDER, "completed")
    delivered = events.deliver(reminder)
    assert [e["type"] for e in delivered] == [
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ]
    assert {e["output_index"] for e in delivered} == {0}
    assert {e["output_index"] for e in events.delta("hi")} == {1}
    answer = message_item(events.message_id, "hi", "completed")
    call = {
        "id": "fc_1",
        "type": "function_call",
        "call_id": "c",
        "name": "f",
        "arguments": "{}",
        "status": "completed",
    }
    output = events.arrange([answer, call])
    assert [item["id"] for item in output] == ["msg_reminder", events.message_id, "fc_1"]
    closing = events.finished({"status": "completed", "output": output})
    assert [(e["type"], e.get("output_index")) for e in closing][:3] == [
        ("response.output_text.done", 1),
        ("response.content_part.done", 1),
        ("response.output_item.done", 1),
    ]
    assert closing[3]["output_index"] == 2 and closing[-1]["type"] == "response.completed"
    assert events.deliver(message_item("msg_late", "late", "completed")) == [], "a closing response takes no more"
