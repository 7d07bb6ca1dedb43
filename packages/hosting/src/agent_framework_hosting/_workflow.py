"""Running workflow targets: one workflow per conversation, checkpoints per isolation key."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any

from agent_framework import (
    AgentResponse,
    AgentResponseUpdate,
    CheckpointStorage,
    Content,
    Message,
    Workflow,
    WorkflowEvent,
    WorkflowRunResult,
)

from ._workflow_input import adapt_input

logger = logging.getLogger("agent_framework.hosting")

WorkflowFactory = Callable[[], Workflow]
CheckpointFactory = Callable[[str], CheckpointStorage]
MAX_LIVE_WORKFLOWS = 1000


class FirstThenBuild:
    """A zero-argument workflow factory as a builder: hands out the probe workflow first, then new ones."""

    def __init__(self, factory: Callable[[], Any], first: Workflow) -> None:
        self._factory = factory
        self._first: Workflow | None = first
        self.name = first.name

    def build(self) -> Workflow:
        if self._first is not None:
            first, self._first = self._first, None
            return first
        workflow = self._factory()
        if not isinstance(workflow, Workflow):
            raise TypeError(f"the workflow factory returned {type(workflow).__name__}, not a Workflow")
        return workflow


def resolve_target(target: Any) -> tuple[Any, WorkflowFactory | None]:
    """Split a host target into (the agent or workflow, a per-conversation workflow factory or None).

    Accepts an agent, a `Workflow`, a `WorkflowBuilder`, or a zero-argument factory returning either.
    """
    if isinstance(target, Workflow) or callable(getattr(target, "run", None)):
        return target, None
    build = getattr(target, "build", None)
    if callable(build):
        return target, build
    if callable(target):
        made = target()
        if isinstance(made, Workflow):
            return target, FirstThenBuild(target, made).build
        if callable(getattr(made, "run", None)):
            return made, None
        raise TypeError(f"the target factory returned {type(made).__name__}, not an agent or a Workflow")
    raise TypeError(f"target must be an agent, a Workflow, a WorkflowBuilder or a factory, got {type(target).__name__}")


def _data_text(data: Any) -> str:
    if isinstance(data, str):
        return data
    if isinstance(data, (list, tuple)):
        return "\n".join(_data_text(item) for item in data)
    text = getattr(data, "text", None)
    if isinstance(text, str):
        return text
    prompt = getattr(data, "prompt", None)
    if isinstance(prompt, str):
        return prompt
    return str(data)


def result_text(result: Any) -> str:
    """The readable text of an agent response or a workflow run result."""
    if isinstance(result, WorkflowRunResult):
        outputs = result.get_outputs()
        if outputs:
            return "\n".join(_data_text(output) for output in outputs)
        return "\n".join(_data_text(event.data) for event in result.get_request_info_events())
    return _data_text(result) if result is not None else ""


def event_to_update(event: WorkflowEvent[Any]) -> AgentResponseUpdate | None:
    """Map an `output` or `request_info` workflow event to a streamed update; drop the rest."""
    if event.type not in ("output", "request_info"):
        return None
    data = event.data
    if isinstance(data, AgentResponseUpdate):
        if data.raw_representation is None:
            data.raw_representation = event
        return data
    content = data if isinstance(data, Content) else Content.from_text(_data_text(data))
    return AgentResponseUpdate(
        contents=[content],
        role="assistant",
        author_name=event.executor_id,
        raw_representation=event,
    )


def pending_request_ids(result: Any) -> list[str]:
    if isinstance(result, WorkflowRunResult):
        return [event.request_id for event in result.get_request_info_events()]
    return []


class ScopedCheckpointStorage:
    """Confines a shared `CheckpointStorage` to one isolation scope through checkpoint metadata."""

    def __init__(self, inner: CheckpointStorage, scope: str) -> None:
        self._inner = inner
        self._scope = scope

    def _mine(self, checkpoint: Any) -> bool:
        return (checkpoint.metadata or {}).get("hosting_scope") == self._scope

    async def save(self, checkpoint: Any) -> str:
        checkpoint.metadata = {**(checkpoint.metadata or {}), "hosting_scope": self._scope}
        return await self._inner.save(checkpoint)

    async def load(self, checkpoint_id: str) -> Any:
        return await self._inner.load(checkpoint_id)

    async def list_checkpoints(self, *, workflow_name: str) -> list[Any]:
        return [c for c in await self._inner.list_checkpoints(workflow_name=workflow_name) if self._mine(c)]

    async def delete(self, checkpoint_id: str) -> bool:
        return await self._inner.delete(checkpoint_id)

    async def get_latest(self, *, workflow_name: str) -> Any:
        mine = await self.list_checkpoints(workflow_name=workflow_name)
        return max(mine, key=lambda c: c.timestamp) if mine else None

    async def list_checkpoint_ids(self, *, workflow_name: str) -> list[str]:
        return [c.checkpoint_id for c in await self.list_checkpoints(workflow_name=workflow_name)]


class WorkflowRunner:
    """Runs turns of a workflow target.

    With a factory, every conversation gets its own workflow instance: restored
    from its checkpoints when checkpointing is on, else kept live in a bounded
    LRU. A bare instance is shared and runs one turn at a time.
    """

    def __init__(self, target: Workflow | WorkflowFactory, checkpoints: CheckpointFactory | None) -> None:
        self._shared = target if isinstance(target, Workflow) else None
        self._factory = None if isinstance(target, Workflow) else target
        self._checkpoints = checkpoints
        self._shared_lock = asyncio.Lock()
        self._live: OrderedDict[str, Workflow] = OrderedDict()
        self._pending: dict[str, list[str]] = {}
        self._name: str | None = None
        self._warned = False
        self._spare: Workflow | None = None

    def sample(self) -> Workflow:
        """A workflow to inspect (its start executor); a built one is handed out by the next turn, not wasted."""
        if self._shared is not None:
            return self._shared
        if self._spare is None:
            self._spare = self._built()
        return self._spare

    @property
    def name(self) -> str:
        workflow = self._shared or self._live_sample()
        return getattr(workflow, "name", None) or "workflow"

    def _live_sample(self) -> Workflow | None:
        return next(iter(self._live.values()), None)

    def _instance(self, scope: str | None, storage: CheckpointStorage | None) -> tuple[Workflow, bool]:
        """The workflow to run and whether it is fresh (needs restoring from a checkpoint)."""
        if self._shared is not None:
            return self._shared, True
        assert self._factory is not None
        if storage is not None or scope is None:
            return self._built(), True
        workflow = self._live.get(scope)
        if workflow is None:
            workflow = self._built()
            self._live[scope] = workflow
            while len(self._live) > MAX_LIVE_WORKFLOWS:
                evicted, _ = self._live.popitem(last=False)
                self._pending.pop(evicted, None)
        self._live.move_to_end(scope)
        return workflow, False

    def _built(self) -> Workflow:
        """A new workflow from the factory; warns once if its name changes between builds."""
        assert self._factory is not None
        if self._spare is not None:
            spare, self._spare = self._spare, None
            return spare
        workflow = self._factory()
        if self._name is None:
            self._name = workflow.name
        elif workflow.name != self._name and not self._warned:
            self._warned = True
            logger.warning(
                "the workflow factory builds workflows with changing names (%s, %s); give WorkflowBuilder a name= "
                "so checkpoints can be found again",
                self._name,
                workflow.name,
            )
        return workflow

    async def _plan(self, scope: str | None, message: Any) -> tuple[Workflow, dict[str, Any], list[dict[str, Any]]]:
        """Pick the instance and the run calls (restore, then the turn) for one turn."""
        storage = self._checkpoints(scope) if self._checkpoints is not None and scope else None
        workflow, fresh = self._instance(scope, storage)
        latest = await storage.get_latest(workflow_name=workflow.name) if storage is not None else None
        base: dict[str, Any] = {} if storage is None else {"checkpoint_storage": storage}
        calls: list[dict[str, Any]] = []
        if latest is not None:
            pending = list(latest.pending_request_info_events or {})
            if pending:
                return (
                    workflow,
                    base,
                    [{"checkpoint_id": latest.checkpoint_id, "responses": dict.fromkeys(pending, message)}],
                )
            if fresh:
                calls.append({"checkpoint_id": latest.checkpoint_id, "restore": True})
        elif storage is None and scope is not None and self._pending.get(scope):
            return workflow, base, [{"responses": dict.fromkeys(self._pending.pop(scope), message)}]
        calls.append({"message": adapt_input(message, workflow.get_start_executor())})
        return workflow, base, calls

    async def run(self, message: Any, scope: str | None) -> WorkflowRunResult:
        async with self._exclusive():
            workflow, base, calls = await self._plan(scope, message)
            result: WorkflowRunResult | None = None
            for call in calls:
                restore = call.pop("restore", False)
                outcome = await workflow.run(**call, **base)
                if restore and not len(outcome):
                    logger.warning("restoring workflow %s produced no events", workflow.name)
                if not restore:
                    result = outcome
            assert result is not None
            self._remember(scope, result)
            return result

    async def stream(self, message: Any, scope: str | None) -> AsyncIterator[AgentResponseUpdate]:
        async with self._exclusive():
            workflow, base, calls = await self._plan(scope, message)
            for call in calls:
                if call.pop("restore", False):
                    await workflow.run(**call, **base)
                    continue
                pending: list[str] = []
                async for event in workflow.run(**call, **base, stream=True):
                    if event.type == "request_info":
                        pending.append(event.request_id)
                    update = event_to_update(event)
                    if update is not None:
                        yield update
                if scope is not None and pending:
                    self._pending[scope] = pending

    def _remember(self, scope: str | None, result: WorkflowRunResult) -> None:
        pending = pending_request_ids(result)
        if scope is not None and pending:
            self._pending[scope] = pending

    def _exclusive(self) -> Any:
        from contextlib import nullcontext

        return self._shared_lock if self._shared is not None else nullcontext()


def final_from_updates(updates: list[AgentResponseUpdate]) -> AgentResponse:
    if not updates:
        return AgentResponse(messages=[Message(role="assistant", contents=[])])
    return AgentResponse.from_updates(updates)
