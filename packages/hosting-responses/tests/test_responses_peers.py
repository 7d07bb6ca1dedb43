"""Independent peers against the channel: Microsoft's Responses event validator and the OpenAI Agents SDK."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import agents
import openai
from agent_framework_hosting.testing import OfflineChatClient
from azure.ai.agentserver.responses.streaming._state_machine import EventStreamValidator

LONG_INPUT = " ".join(f"w{n}" for n in range(40))


def validate(events: list[Any]) -> list[dict[str, Any]]:
    """Every event through Microsoft's `EventStreamValidator`; returns them as dicts."""
    validator = EventStreamValidator()
    dicts = [event if isinstance(event, dict) else event.model_dump(mode="json") for event in events]
    for event in dicts:
        validator.validate_next(event)
    return dicts


def poll(client: openai.OpenAI, response_id: str, statuses: tuple[str, ...], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.responses.retrieve(response_id)
        if response.status in statuses:
            return response
        time.sleep(0.05)
    raise AssertionError(f"{response_id} never reached {statuses}")


def assert_ends_cancelled(events: list[dict[str, Any]]) -> None:
    kinds = [event["type"] for event in events]
    assert kinds[-1] == "response.failed", kinds[-4:]
    assert events[-1]["response"]["status"] == "cancelled"
    assert kinds.count("response.output_item.added") == kinds.count("response.output_item.done") == 1
    done = next(event for event in events if event["type"] == "response.output_item.done")
    assert done["item"]["status"] == "incomplete"
    streamed = "".join(event["delta"] for event in events if event["type"] == "response.output_text.delta")
    assert done["item"]["content"][0]["text"] == streamed
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == streamed


def test_a_cancelled_background_stream_closes_its_item_and_ends_cancelled_live_and_on_replay(serve: Any) -> None:
    served = serve(chat=OfflineChatClient(chunk_delay=0.1))
    live: list[Any] = []
    with served.client.responses.create(model="m", input=LONG_INPUT, background=True, stream=True) as stream:
        for event in stream:
            live.append(event)
            if sum(e.type == "response.output_text.delta" for e in live) == 3:
                assert served.sdk().responses.cancel(live[0].response.id).status == "cancelled"
    response_id = live[0].response.id
    assert_ends_cancelled(validate(live))
    replay = validate(list(served.client.responses.retrieve(response_id, stream=True)))
    assert_ends_cancelled(replay)
    assert [event["sequence_number"] for event in replay] == list(range(len(replay)))


def test_a_background_response_cancelled_from_another_process_ends_cancelled_on_replay(
    serve: Any, tmp_path: Any
) -> None:
    runner = serve(chat=OfflineChatClient(chunk_delay=0.1), state_dir=tmp_path)
    other = serve(state_dir=tmp_path)
    queued = runner.client.responses.create(model="m", input=LONG_INPUT, background=True)
    poll(runner.client, queued.id, ("in_progress",))
    time.sleep(0.5)
    assert other.client.responses.cancel(queued.id).status == "cancelled"
    deadline = time.monotonic() + 10
    while len(runner.host.tasks) and time.monotonic() < deadline:
        time.sleep(0.05)
    for client in (runner.client, other.client):
        assert_ends_cancelled(validate(list(client.responses.retrieve(queued.id, stream=True))))


def test_foreground_and_failed_streams_pass_the_validator(serve: Any) -> None:
    served = serve()
    ok = validate(list(served.client.responses.create(model="m", input="hello there", stream=True)))
    assert ok[-1]["type"] == "response.completed"
    failed = validate(list(served.client.responses.create(model="m", input="one two [fail]", stream=True)))
    assert failed[-1]["type"] == "response.failed" and failed[-1]["response"]["status"] == "failed"
    background = served.client.responses.create(model="m", input="a b c", background=True, stream=True)
    assert validate(list(background))[-1]["type"] == "response.completed"


def test_settings_are_echoed_as_sent_and_not_forwarded(serve: Any) -> None:
    served = serve()
    tool = {"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {}}, "strict": False}
    sent = dict(truncation="auto", parallel_tool_calls=False, reasoning={"effort": "low"}, tools=[tool])
    response = served.client.responses.create(model="m", input="hi", **sent)  # type: ignore[arg-type]
    assert response.truncation == "auto"
    assert response.parallel_tool_calls is False
    assert response.reasoning is not None and response.reasoning.effort == "low"
    assert [t.name for t in response.tools] == ["lookup"]  # type: ignore[union-attr]
    stored = served.client.responses.retrieve(response.id)
    assert stored.truncation == "auto" and stored.parallel_tool_calls is False and stored.tools
    defaults = served.client.responses.create(model="m", input="hi")
    assert defaults.truncation == "disabled" and defaults.parallel_tool_calls is True and defaults.tools == []
    assert response.output_text == "echo 1: hi", "the agent ran with its own tools; the sent ones were not forwarded"


def test_the_openai_agents_sdk_runs_against_the_channel(serve: Any) -> None:
    served = serve()
    agents.set_tracing_disabled(True)

    async def converse() -> tuple[str, str]:
        client = openai.AsyncOpenAI(base_url=served.url + "/v1", api_key="unused", max_retries=0)
        model = agents.OpenAIResponsesModel(model="hosted", openai_client=client)
        peer = agents.Agent(name="peer", instructions="Be brief.", model=model)
        first = await agents.Runner.run(peer, "hello from the agents sdk")
        streamed = agents.Runner.run_streamed(peer, "and streamed")
        deltas = [
            event.data.delta
            async for event in streamed.stream_events()
            if event.type == "raw_response_event" and event.data.type == "response.output_text.delta"
        ]
        await client.close()
        assert "".join(deltas) == streamed.final_output
        return str(first.final_output), str(streamed.final_output)

    first, second = asyncio.run(converse())
    assert first == "echo 1: hello from the agents sdk"
    assert second == "echo 1: and streamed"
