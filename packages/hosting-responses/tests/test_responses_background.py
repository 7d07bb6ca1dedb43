"""Background responses: polling, resumed streams, cancellation and deletion, in one process and across two."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest
from agent_framework_hosting.testing import GatedChatClient, OfflineChatClient, wait_until

LONG_INPUT = " ".join(f"w{n}" for n in range(30))


def poll(client: openai.OpenAI, response_id: str, statuses: tuple[str, ...], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.responses.retrieve(response_id)
        if response.status in statuses:
            return response
        time.sleep(0.05)
    raise AssertionError(f"{response_id} never reached {statuses}")


def test_background_returns_at_once_and_polling_sees_it_complete(serve: Any) -> None:
    chat = GatedChatClient(chunk_delay=0.05)
    served = serve(chat=chat)
    try:
        # The model cannot answer until the gate opens, so getting the response back proves it did not wait for the run.
        queued = served.client.responses.create(model="m", input="take your time", background=True)
        assert queued.status == "queued" and queued.background is True and queued.output == []
        wait_until(lambda: chat.held == ["take your time"], message="the run to reach the model")
        assert served.client.responses.retrieve(queued.id).status in ("queued", "in_progress")
    finally:
        chat.release()
    done = poll(served.client, queued.id, ("completed",))
    assert done.output_text == "echo 1: take your time"
    follow_up = served.client.responses.create(model="m", input="next", previous_response_id=done.id)
    assert follow_up.output_text == "echo 2: next"


def test_background_stream_can_be_resumed_after_a_sequence_number(serve: Any) -> None:
    served = serve(chat=OfflineChatClient(chunk_delay=0.05))
    seen = []
    with served.client.responses.create(model="m", input="one two three four", background=True, stream=True) as stream:
        for event in stream:
            seen.append(event)
            if event.type == "response.output_text.delta":
                break
    response_id = seen[0].response.id  # type: ignore[union-attr]
    assert [e.type for e in seen[:3]] == ["response.created", "response.queued", "response.in_progress"]
    last = seen[-1].sequence_number
    with served.client.responses.stream(response_id=response_id, starting_after=last) as resumed:
        rest = list(resumed)
        final = resumed.get_final_response()
    assert rest[0].sequence_number == last + 1
    assert [e.sequence_number for e in rest] == list(range(last + 1, last + 1 + len(rest)))
    assert final.output_text == "echo 1: one two three four"
    streamed = [e.delta for e in [*seen, *rest] if e.type == "response.output_text.delta"]  # type: ignore[union-attr]
    assert "".join(streamed) == final.output_text
    replay = list(served.client.responses.retrieve(response_id, stream=True, starting_after=last))
    assert [e.sequence_number for e in replay] == [e.sequence_number for e in rest]


def test_cancel_stops_a_background_response(serve: Any) -> None:
    chat = OfflineChatClient(chunk_delay=0.2)
    served = serve(chat=chat)
    queued = served.client.responses.create(model="m", input=LONG_INPUT, background=True)
    poll(served.client, queued.id, ("in_progress",))
    started = time.monotonic()
    cancelled = served.client.responses.cancel(queued.id)
    assert time.monotonic() - started < 5
    assert cancelled.status == "cancelled"
    assert served.client.responses.cancel(queued.id).status == "cancelled"
    time.sleep(0.5)
    assert served.client.responses.retrieve(queued.id).status == "cancelled"
    events = list(served.client.responses.retrieve(queued.id, stream=True))
    assert events[-1].type != "response.completed"
    served.client.responses.delete(queued.id)
    with pytest.raises(openai.NotFoundError):
        served.client.responses.retrieve(queued.id)


def test_only_running_background_responses_can_be_cancelled(serve: Any) -> None:
    served = serve()
    foreground = served.client.responses.create(model="m", input="x")
    with pytest.raises(openai.BadRequestError):
        served.client.responses.cancel(foreground.id)
    finished = served.client.responses.create(model="m", input="y", background=True)
    poll(served.client, finished.id, ("completed",))
    with pytest.raises(openai.BadRequestError):
        served.client.responses.cancel(finished.id)
    with pytest.raises(openai.NotFoundError):
        served.client.responses.cancel("resp_unknown")


def test_a_running_response_cannot_be_deleted(serve: Any) -> None:
    served = serve(chat=OfflineChatClient(chunk_delay=0.2))
    queued = served.client.responses.create(model="m", input=LONG_INPUT, background=True)
    with pytest.raises(openai.BadRequestError):
        served.client.responses.delete(queued.id)
    served.client.responses.cancel(queued.id)


def test_background_requires_store_and_only_background_responses_stream_again(serve: Any) -> None:
    served = serve()
    with pytest.raises(openai.BadRequestError):
        served.client.responses.create(model="m", input="x", background=True, store=False)
    foreground = served.client.responses.create(model="m", input="x")
    answer = httpx.get(f"{served.url}/v1/responses/{foreground.id}", params={"stream": "true"}, timeout=10)
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "stream"


def test_a_background_failure_is_recorded_as_failed(serve: Any) -> None:
    served = serve()
    queued = served.client.responses.create(model="m", input="one two [fail]", background=True)
    failed = poll(served.client, queued.id, ("failed",))
    assert failed.error is not None and failed.error.code == "server_error"
    assert list(served.client.responses.retrieve(queued.id, stream=True))[-1].type == "response.failed"


def test_another_process_sharing_the_state_follows_and_cancels(serve: Any, tmp_path: Any) -> None:
    runner = serve(chat=OfflineChatClient(chunk_delay=0.05), state_dir=tmp_path)
    follower = serve(state_dir=tmp_path)
    queued = runner.client.responses.create(model="m", input="one two three four five six", background=True)
    with follower.client.responses.stream(response_id=queued.id) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert final.output_text == "echo 1: one two three four five six"
    slow = serve(chat=OfflineChatClient(chunk_delay=0.2), state_dir=tmp_path)
    long_running = slow.client.responses.create(model="m", input=LONG_INPUT, background=True)
    poll(slow.client, long_running.id, ("in_progress",))
    assert follower.client.responses.cancel(long_running.id).status == "cancelled"
    time.sleep(1.0)
    assert slow.client.responses.retrieve(long_running.id).status == "cancelled"
    assert len(slow.host.tasks) == 0, "the run noticed the cancellation and stopped"
