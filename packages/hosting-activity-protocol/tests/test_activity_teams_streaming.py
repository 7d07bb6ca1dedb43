"""The Teams streaming protocol: informative update, cumulative chunks with sequence numbers, final message."""

from __future__ import annotations

import time
from typing import Any

from agent_framework_hosting.testing import OfflineChatClient
from microsoft_agents.activity import Activity

ANSWER = " ".join(f"word{n}" for n in range(16))


def stream_info(activity: dict[str, Any]) -> dict[str, Any] | None:
    return next((e for e in activity.get("entities") or [] if e.get("type") == "streaminfo"), None)


def stream_type(kind: str) -> Any:
    return lambda body: (stream_info(body) or {}).get("streamType") == kind


def slow_answer(delay: float = 0.03) -> OfflineChatClient:
    return OfflineChatClient(reply=lambda messages: ANSWER, chunk_delay=delay)


def test_teams_streaming_sequence(deploy: Any, mint: Any, make_activity: Any, wait_for: Any) -> None:
    deployment = deploy(chat=slow_answer())
    inbound = make_activity("stream please")
    assert deployment.post(inbound, token=mint()).status_code == 202
    wait_for(deployment.fake.messages, message="the final message")
    wire = [a.body for a in deployment.fake.recorded()]
    for activity in wire:
        Activity.model_validate(activity)
        assert activity["replyToId"] == inbound["id"]

    informative, *chunks, final = wire
    assert informative["type"] == "typing"
    assert stream_info(informative) == {"type": "streaminfo", "streamType": "informative", "streamSequence": 1}
    assert informative["text"]

    assert len(chunks) >= 2
    stream_ids = {stream_info(chunk)["streamId"] for chunk in chunks}
    assert len(stream_ids) == 1
    stream_id = stream_ids.pop()
    assert stream_id.startswith("act-")
    sequences = [stream_info(chunk)["streamSequence"] for chunk in chunks]
    assert sequences == list(range(2, 2 + len(chunks)))
    texts = [chunk["text"] for chunk in chunks]
    assert all(chunk["type"] == "typing" for chunk in chunks)
    assert all(later.startswith(earlier) for earlier, later in zip(texts, texts[1:], strict=False))

    assert final["type"] == "message"
    assert final["text"] == ANSWER
    assert stream_info(final) == {"type": "streaminfo", "streamType": "final", "streamId": stream_id}
    assert ANSWER.startswith(texts[-1])


def test_stream_updates_are_throttled(deploy: Any, mint: Any, make_activity: Any, wait_for: Any) -> None:
    deployment = deploy(chat=slow_answer(0.05), stream_edit_min_interval=0.3)
    deployment.post(make_activity("stream please"), token=mint())
    wait_for(deployment.fake.messages, message="the final message")
    chunks = [a for a in deployment.fake.recorded() if stream_type("streaming")(a.body)]
    assert 1 <= len(chunks) < 8, "sixteen streamed words must be coalesced into a few updates"
    gaps = [later.at - earlier.at for earlier, later in zip(chunks, chunks[1:], strict=False)]
    assert all(gap >= 0.25 for gap in gaps)


def test_a_403_mid_stream_falls_back_to_one_plain_message(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any
) -> None:
    deployment = deploy(chat=slow_answer())
    deployment.fake.script(403, match=stream_type("streaming"), body={"error": {"code": "ContentStreamNotAllowed"}})
    deployment.post(make_activity("stream please"), token=mint())
    (final,) = wait_for(deployment.fake.messages, message="the fallback message")
    time.sleep(0.2)
    assert len(deployment.fake.messages()) == 1
    assert final["text"] == ANSWER
    assert stream_info(final) is None
    assert len([a for a in deployment.fake.recorded() if stream_type("streaming")(a.body)]) == 1


def test_streaming_refused_at_the_start_sends_one_plain_message(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any
) -> None:
    deployment = deploy(chat=slow_answer())
    deployment.fake.script(
        400, match=stream_type("informative"), body={"error": {"message": "streaming api is not enabled"}}
    )
    deployment.post(make_activity("stream please"), token=mint())
    (final,) = wait_for(deployment.fake.messages, message="the fallback message")
    assert final["text"] == ANSWER and stream_info(final) is None
    assert [a.body["type"] for a in deployment.fake.recorded()] == ["typing", "message"]


def test_teams_group_chats_get_typing_and_one_message(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any
) -> None:
    deployment = deploy(chat=slow_answer())
    deployment.post(make_activity("hi all", conversation_type="groupChat"), token=mint())
    (final,) = wait_for(deployment.fake.messages)
    assert final["text"] == ANSWER and stream_info(final) is None
    assert [a.body["type"] for a in deployment.fake.recorded()] == ["typing", "message"]


def test_other_channels_get_one_final_message_even_when_streaming(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any
) -> None:
    deployment = deploy(chat=slow_answer(), stream=True)
    deployment.post(make_activity("hi", channel_id="webchat"), token=mint())
    (final,) = wait_for(deployment.fake.messages)
    assert final["text"] == ANSWER
    assert all(stream_info(a.body) is None for a in deployment.fake.recorded())


def test_the_stream_update_hook_shapes_what_is_streamed(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any
) -> None:
    def shout(update: Any) -> Any:
        for content in update.contents:
            if content.type == "text":
                content.text = content.text.upper()
        return update

    deployment = deploy(chat=slow_answer(), stream_update_hook=shout)
    deployment.post(make_activity("stream please"), token=mint())
    wait_for(deployment.fake.messages)
    chunks = [a.body["text"] for a in deployment.fake.recorded() if stream_type("streaming")(a.body)]
    assert chunks and all(text == text.upper() for text in chunks)


def test_a_failure_mid_stream_ends_the_stream_with_an_apology(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any
) -> None:
    deployment = deploy(chat=OfflineChatClient(chunk_delay=0.03))
    deployment.post(make_activity("one two three four five six [fail]"), token=mint())
    (final,) = wait_for(deployment.fake.messages)
    assert (stream_info(final) or {}).get("streamType") == "final"
    assert "went wrong" in final["text"]


def test_a_streamed_answer_longer_than_a_message_continues_in_plain_messages(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any
) -> None:
    long_answer = " ".join(f"token{n}" for n in range(120))
    deployment = deploy(chat=OfflineChatClient(reply=lambda m: long_answer), max_message_length=300)
    deployment.post(make_activity("long"), token=mint())
    messages = wait_for(lambda: len(deployment.fake.messages()) >= 3 and deployment.fake.messages())
    time.sleep(0.2)
    messages = deployment.fake.messages()
    assert (stream_info(messages[0]) or {}).get("streamType") == "final"
    assert all(stream_info(m) is None for m in messages[1:])
    assert " ".join(m["text"] for m in messages).split() == long_answer.split()
    assert all(len(a.body.get("text", "")) <= 300 for a in deployment.fake.recorded())


def test_without_an_informative_update_the_first_chunk_opens_the_stream(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any
) -> None:
    deployment = deploy(chat=slow_answer(), stream_informative_text=None)
    deployment.post(make_activity("stream please"), token=mint())
    wait_for(deployment.fake.messages)
    wire = [a.body for a in deployment.fake.recorded()]
    assert wire[0]["type"] == "typing" and stream_info(wire[0]) is None
    chunks = [body for body in wire if stream_type("streaming")(body)]
    assert stream_info(chunks[0]) == {"type": "streaminfo", "streamType": "streaming", "streamSequence": 1}
    assert [stream_info(c)["streamSequence"] for c in chunks] == list(range(1, len(chunks) + 1))
    stream_id = stream_info(chunks[1])["streamId"]
    assert all(stream_info(c)["streamId"] == stream_id for c in chunks[1:])
    assert stream_info(wire[-1]) == {"type": "streaminfo", "streamType": "final", "streamId": stream_id}
