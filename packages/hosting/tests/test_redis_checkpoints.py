"""Workflow checkpoints in Redis, one storage per isolation scope."""

from __future__ import annotations

import datetime as dt
import os
import sys

import pytest
from agent_framework import Executor, WorkflowBuilder, WorkflowCheckpoint, WorkflowContext, handler
from agent_framework.exceptions import WorkflowCheckpointException
from agent_framework_hosting import AgentFrameworkHost, RedisStateStore
from agent_framework_hosting.testing import JsonChannel
from starlette.testclient import TestClient

sys.path.insert(0, os.path.dirname(__file__))
from redis_server import RedisServer, state_url  # noqa: E402


class Opaque:
    """An application type that is not on the checkpoint allow-list."""

    def __init__(self, value: int) -> None:
        self.value = value


def checkpoint(minute: int, workflow: str = "wf", **state: object) -> WorkflowCheckpoint:
    stamp = dt.datetime(2026, 1, 1, 12, minute, tzinfo=dt.timezone.utc).isoformat()
    return WorkflowCheckpoint(workflow_name=workflow, graph_signature_hash="g", timestamp=stamp, state=dict(state))


async def test_checkpoints_round_trip_with_non_json_values(store: RedisStateStore) -> None:
    storage = store.checkpoint_storage("user-1")
    saved = checkpoint(1, turns=3, when=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), pair=(1, "a"), tags={"x"})
    assert await storage.save(saved) == saved.checkpoint_id
    loaded = await storage.load(saved.checkpoint_id)
    assert loaded.to_dict() == saved.to_dict()
    assert isinstance(loaded.state["pair"], tuple) and loaded.state["tags"] == {"x"}


async def test_latest_list_and_delete_follow_timestamps_per_workflow(store: RedisStateStore) -> None:
    storage = store.checkpoint_storage("user-1")
    first, third, second, other = checkpoint(1), checkpoint(3), checkpoint(2), checkpoint(9, workflow="other")
    for item in (first, third, second, other):
        await storage.save(item)
    latest = await storage.get_latest(workflow_name="wf")
    assert latest is not None and latest.checkpoint_id == third.checkpoint_id
    ids = [first.checkpoint_id, second.checkpoint_id, third.checkpoint_id]
    assert await storage.list_checkpoint_ids(workflow_name="wf") == ids
    assert [c.checkpoint_id for c in await storage.list_checkpoints(workflow_name="wf")] == ids
    assert await storage.delete(third.checkpoint_id) is True
    assert await storage.delete(third.checkpoint_id) is False
    latest = await storage.get_latest(workflow_name="wf")
    assert latest is not None and latest.checkpoint_id == second.checkpoint_id
    assert await storage.list_checkpoint_ids(workflow_name="other") == [other.checkpoint_id]
    assert await storage.get_latest(workflow_name="missing") is None
    with pytest.raises(WorkflowCheckpointException):
        await storage.load(third.checkpoint_id)


async def test_scopes_never_see_each_others_checkpoints(store: RedisStateStore) -> None:
    mine, theirs = store.checkpoint_storage("user:1"), store.checkpoint_storage("user:2")
    saved = checkpoint(1)
    await mine.save(saved)
    assert await theirs.list_checkpoints(workflow_name="wf") == []
    assert await theirs.get_latest(workflow_name="wf") is None
    assert await theirs.delete(saved.checkpoint_id) is False
    with pytest.raises(WorkflowCheckpointException):
        await theirs.load(saved.checkpoint_id)
    assert (await mine.load(saved.checkpoint_id)).checkpoint_id == saved.checkpoint_id


async def test_types_off_the_allow_list_are_refused_when_saving(redis: RedisServer, store: RedisStateStore) -> None:
    with pytest.raises(WorkflowCheckpointException):
        await store.checkpoint_storage("s").save(checkpoint(1, thing=Opaque(1)))
    assert await store.checkpoint_storage("s").list_checkpoint_ids(workflow_name="wf") == []
    allowing = RedisStateStore.from_url(state_url(redis), allowed_checkpoint_types=[f"{__name__}:Opaque"])
    try:
        saved = checkpoint(1, thing=Opaque(5))
        await allowing.checkpoint_storage("s").save(saved)
        assert (await allowing.checkpoint_storage("s").load(saved.checkpoint_id)).state["thing"].value == 5
    finally:
        await allowing.aclose()


async def test_checkpoint_ttl_expires_a_scopes_checkpoints(redis: RedisServer) -> None:
    store = RedisStateStore.from_url(state_url(redis), checkpoint_ttl=60)
    try:
        await store.checkpoint_storage("s").save(checkpoint(1))
        keys = [key async for key in store.client.scan_iter(match=f"{store.prefix}!cp*")]
        assert len(keys) == 2
        for key in keys:
            assert 50_000 < await store.client.pttl(key) <= 60_000
    finally:
        await store.aclose()


class TurnCounter(Executor):
    @handler
    async def count(self, text: str, ctx: WorkflowContext[None, str]) -> None:
        turns = (ctx.get_state("turns") or 0) + 1
        ctx.set_state("turns", turns)
        await ctx.yield_output(f"turn {turns}: {text}")


def build_counter() -> object:
    return WorkflowBuilder(start_executor=TurnCounter(id="counter"), name="counter").build()


def test_workflow_turns_resume_from_redis_on_any_host_per_isolation_key(redis: RedisServer) -> None:
    url = state_url(redis)
    first = AgentFrameworkHost(build_counter, channels=[JsonChannel()], state_dir=url)
    second = AgentFrameworkHost(build_counter, channels=[JsonChannel()], state_dir=url)
    with TestClient(first.app) as one, TestClient(second.app) as two:
        assert one.post("/json", json={"text": "a", "key": "alice"}).json() == {"text": "turn 1: a"}
        assert two.post("/json", json={"text": "b", "key": "alice"}).json() == {"text": "turn 2: b"}
        assert two.post("/json", json={"text": "x", "key": "bob"}).json() == {"text": "turn 1: x"}
        assert one.post("/json", json={"text": "c", "key": "alice", "stream": True}).text == "turn 3: c"
        first.reset_session("alice")
        assert two.post("/json", json={"text": "d", "key": "alice"}).json() == {"text": "turn 1: d"}
        assert one.post("/json", json={"text": "y", "key": "bob"}).json() == {"text": "turn 2: y"}
