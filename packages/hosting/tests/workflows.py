"""Small workflows the tests host."""

from __future__ import annotations

from typing import Any

from agent_framework import Executor, Workflow, WorkflowBuilder, WorkflowContext, handler, response_handler
from typing_extensions import Never


class Counter(Executor):
    """Counts the turns it has seen; "ask" pauses for a human answer."""

    def __init__(self) -> None:
        super().__init__(id="counter")
        self.count = 0

    @handler
    async def on_text(self, text: str, ctx: WorkflowContext[Never, str]) -> None:
        self.count += 1
        if text == "ask":
            await ctx.request_info("what is your name?", str)
            return
        await ctx.yield_output(f"{self.count}: {text}")

    @response_handler
    async def on_answer(self, question: str, answer: str, ctx: WorkflowContext[Never, str]) -> None:
        await ctx.yield_output(f"hello {answer} ({self.count})")

    async def on_checkpoint_save(self) -> dict[str, Any]:
        return {"count": self.count}

    async def on_checkpoint_restore(self, state: dict[str, Any]) -> None:
        self.count = state["count"]


def build_counter() -> Workflow:
    return WorkflowBuilder(start_executor=Counter(), name="counter").build()


def counter_builder() -> WorkflowBuilder:
    return WorkflowBuilder(start_executor=Counter(), name="counter")
