"""Where records live: surviving a restart with `state_dir`, bounded memory, and workflow targets."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from agent_framework import Executor, Message, WorkflowBuilder, WorkflowContext, handler
from typing_extensions import Never


def test_responses_and_conversations_survive_a_restart_with_state_dir(serve: Any, tmp_path: Any) -> None:
    before = serve(state_dir=tmp_path)
    root = before.client.responses.create(model="m", input="root")
    head = before.client.responses.create(model="m", input="two", previous_response_id=root.id)
    conversation = before.client.conversations.create(metadata={"k": "v"})
    before.client.responses.create(model="m", input="in conversation", conversation=conversation.id)

    after = serve(state_dir=tmp_path)
    assert after.client.responses.retrieve(head.id).output_text == "echo 2: two"
    assert [item.content[0].text for item in after.client.responses.input_items.list(head.id)] == ["two"]  # type: ignore[union-attr]
    assert (
        after.client.responses.create(model="m", input="three", previous_response_id=head.id).output_text
        == "echo 3: three"
    )
    assert (
        after.client.responses.create(model="m", input="fork", previous_response_id=root.id).output_text
        == "echo 2: fork"
    )
    assert after.client.conversations.retrieve(conversation.id).metadata == {"k": "v"}
    again = after.client.responses.create(model="m", input="more", conversation=conversation.id)
    assert again.output_text == "echo 2: more"


def test_memory_keeps_a_bounded_number_of_responses(serve: Any) -> None:
    served = serve(max_sessions=3)
    ids = [served.client.responses.create(model="m", input=f"turn {n}").id for n in range(5)]
    with pytest.raises(openai.NotFoundError):
        served.client.responses.retrieve(ids[0])
    assert served.client.responses.retrieve(ids[-1]).output_text == "echo 1: turn 4"
    continued = served.client.responses.create(model="m", input="next", previous_response_id=ids[-1])
    assert continued.output_text == "echo 2: next"


class TurnCounter(Executor):
    """A workflow step that remembers how many turns its conversation had."""

    def __init__(self) -> None:
        super().__init__(id="counter")
        self.turns = 0

    @handler
    async def answer(self, messages: list[Message], ctx: WorkflowContext[Never, str]) -> None:
        self.turns += 1
        await ctx.yield_output(f"turn {self.turns}: {messages[-1].text.upper()}")


class CounterWorkflow:
    """A workflow factory: the host builds one workflow per conversation."""

    def build(self) -> Any:
        return WorkflowBuilder(start_executor=TurnCounter()).build()


def test_a_workflow_target_answers_and_continues_by_previous_response_id(serve: Any) -> None:
    served = serve(target=CounterWorkflow())
    first = served.client.responses.create(model="m", input="hello")
    assert first.output_text == "turn 1: HELLO" and first.status == "completed"
    second = served.client.responses.create(model="m", input="again", previous_response_id=first.id)
    assert second.output_text == "turn 2: AGAIN"
    other = served.client.responses.create(model="m", input="elsewhere")
    assert other.output_text == "turn 1: ELSEWHERE"
    with served.client.responses.stream(model="m", input="streamed", previous_response_id=second.id) as stream:
        deltas = "".join(event.delta for event in stream if event.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert deltas == final.output_text == "turn 3: STREAMED"
    background = served.client.responses.create(model="m", input="later", background=True)
    events = list(served.client.responses.retrieve(background.id, stream=True))
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "turn 1: LATER"  # type: ignore[union-attr]
