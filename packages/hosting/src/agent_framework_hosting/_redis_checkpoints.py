"""Workflow checkpoints in Redis, one storage per isolation scope."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from agent_framework import WorkflowCheckpoint
from agent_framework.exceptions import WorkflowCheckpointException

from ._checkpoint_codec import checkpoint_created, encode_checkpoint, restore_checkpoint
from ._redis import _dumps, _ms

if TYPE_CHECKING:
    from ._redis import RedisStateStore

logger = logging.getLogger("agent_framework.hosting")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisCheckpointStorage:
    """Agent Framework `CheckpointStorage` for one scope: a hash of encoded checkpoints and a time index per workflow.

    Checkpoints are encoded with Agent Framework's own checkpoint encoding and
    decoded with its restricted type allow-list (plus `allowed_checkpoint_types`).
    """

    def __init__(self, store: RedisStateStore, scope: str) -> None:
        self._store = store
        self.scope = scope
        self._records = store._internal("cp", quote(scope, safe=""))

    def _index(self, workflow_name: str) -> str:
        return self._store._internal("cpi", f"{quote(self.scope, safe='')}:{quote(workflow_name, safe='')}")

    def _decode(self, raw: bytes | str, checkpoint_id: str) -> WorkflowCheckpoint:
        try:
            encoded = json.loads(raw)
        except ValueError as error:
            raise WorkflowCheckpointException(f"checkpoint {checkpoint_id} is not valid JSON") from error
        return restore_checkpoint(encoded, self._store.allowed_checkpoint_types)

    async def save(self, checkpoint: WorkflowCheckpoint) -> str:
        data = encode_checkpoint(checkpoint, self._store.allowed_checkpoint_types, _dumps)
        index = self._index(checkpoint.workflow_name)
        pipe = self._store.client.pipeline(transaction=True)
        pipe.hset(self._records, checkpoint.checkpoint_id, data)
        pipe.zadd(index, {checkpoint.checkpoint_id: checkpoint_created(checkpoint)})
        if self._store.checkpoint_ttl is not None:
            pipe.pexpire(self._records, _ms(self._store.checkpoint_ttl))
            pipe.pexpire(index, _ms(self._store.checkpoint_ttl))
        await self._store.guard(pipe.execute())
        return checkpoint.checkpoint_id

    async def load(self, checkpoint_id: str) -> WorkflowCheckpoint:
        raw = await self._store.guard(self._store.client.hget(self._records, checkpoint_id))
        if raw is None:
            raise WorkflowCheckpointException(f"No checkpoint found with ID {checkpoint_id}")
        return self._decode(raw, checkpoint_id)

    async def list_checkpoint_ids(self, *, workflow_name: str) -> list[str]:
        ids = await self._store.guard(self._store.client.zrange(self._index(workflow_name), 0, -1))
        return [_text(item) for item in ids]

    async def list_checkpoints(self, *, workflow_name: str) -> list[WorkflowCheckpoint]:
        ids = await self.list_checkpoint_ids(workflow_name=workflow_name)
        if not ids:
            return []
        records = await self._store.guard(self._store.client.hmget(self._records, ids))
        checkpoints: list[WorkflowCheckpoint] = []
        for checkpoint_id, raw in zip(ids, records, strict=True):
            if raw is None:
                continue
            try:
                checkpoints.append(self._decode(raw, checkpoint_id))
            except WorkflowCheckpointException as error:
                logger.warning("skipping checkpoint %s: %s", checkpoint_id, error)
        return checkpoints

    async def get_latest(self, *, workflow_name: str) -> WorkflowCheckpoint | None:
        index = self._index(workflow_name)
        while True:
            newest = await self._store.guard(self._store.client.zrange(index, -1, -1))
            if not newest:
                return None
            checkpoint_id = _text(newest[0])
            raw = await self._store.guard(self._store.client.hget(self._records, checkpoint_id))
            if raw is not None:
                return self._decode(raw, checkpoint_id)
            await self._store.guard(self._store.client.zrem(index, checkpoint_id))

    async def delete(self, checkpoint_id: str) -> bool:
        raw = await self._store.guard(self._store.client.hget(self._records, checkpoint_id))
        if raw is None:
            return False
        pipe = self._store.client.pipeline(transaction=True)
        pipe.hdel(self._records, checkpoint_id)
        try:
            workflow_name = json.loads(raw).get("workflow_name")
        except (ValueError, AttributeError):
            workflow_name = None
        if isinstance(workflow_name, str):
            pipe.zrem(self._index(workflow_name), checkpoint_id)
        removed = await self._store.guard(pipe.execute())
        return bool(removed[0])
