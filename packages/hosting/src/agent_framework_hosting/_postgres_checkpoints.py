"""Workflow checkpoints in PostgreSQL, one storage per isolation scope."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from agent_framework import WorkflowCheckpoint
from agent_framework.exceptions import WorkflowCheckpointException
from psycopg.types.json import Jsonb

from ._checkpoint_codec import checkpoint_created, encode_checkpoint, restore_checkpoint
from ._postgres import _ms

if TYPE_CHECKING:
    from ._postgres import PostgresStateStore

logger = logging.getLogger("agent_framework.hosting")


class PostgresCheckpointStorage:
    """Agent Framework `CheckpointStorage` for one scope: rows of `afh_checkpoints`.

    Checkpoints are encoded with Agent Framework's own checkpoint encoding and
    decoded with its restricted type allow-list (plus `allowed_checkpoint_types`).
    """

    def __init__(self, store: PostgresStateStore, scope: str) -> None:
        self._store = store
        self.scope = scope

    def _decode(self, encoded: Any, checkpoint_id: str) -> WorkflowCheckpoint:
        try:
            return restore_checkpoint(encoded, self._store.allowed_checkpoint_types)
        except WorkflowCheckpointException:
            raise
        except Exception as error:
            raise WorkflowCheckpointException(f"checkpoint {checkpoint_id} cannot be restored") from error

    async def save(self, checkpoint: WorkflowCheckpoint) -> str:
        encoded = encode_checkpoint(checkpoint, self._store.allowed_checkpoint_types)
        await self._store._run(
            "INSERT INTO {s}.afh_checkpoints (scope, checkpoint_id, workflow_name, created, data, expires_at) "
            "VALUES (%s, %s, %s, %s, %s, {s}.afh_expiry(%s)) ON CONFLICT (scope, checkpoint_id) DO UPDATE SET "
            "workflow_name = excluded.workflow_name, created = excluded.created, data = excluded.data, "
            "expires_at = excluded.expires_at",
            (
                self.scope,
                checkpoint.checkpoint_id,
                checkpoint.workflow_name,
                checkpoint_created(checkpoint),
                Jsonb(encoded),
                _ms(self._store.checkpoint_ttl),
            ),
        )
        return checkpoint.checkpoint_id

    _ALIVE = "(expires_at IS NULL OR expires_at > now())"

    async def load(self, checkpoint_id: str) -> WorkflowCheckpoint:
        rows = await self._store._run(
            "SELECT data FROM {s}.afh_checkpoints WHERE scope = %s AND checkpoint_id = %s AND " + self._ALIVE,
            (self.scope, checkpoint_id),
        )
        if not rows:
            raise WorkflowCheckpointException(f"No checkpoint found with ID {checkpoint_id}")
        return self._decode(rows[0][0], checkpoint_id)

    async def list_checkpoint_ids(self, *, workflow_name: str) -> list[str]:
        rows = await self._store._run(
            "SELECT checkpoint_id FROM {s}.afh_checkpoints WHERE scope = %s AND workflow_name = %s AND "
            + self._ALIVE
            + " ORDER BY created, checkpoint_id",
            (self.scope, workflow_name),
        )
        return [row[0] for row in rows]

    async def list_checkpoints(self, *, workflow_name: str) -> list[WorkflowCheckpoint]:
        rows = await self._store._run(
            "SELECT checkpoint_id, data FROM {s}.afh_checkpoints WHERE scope = %s AND workflow_name = %s AND "
            + self._ALIVE
            + " ORDER BY created, checkpoint_id",
            (self.scope, workflow_name),
        )
        checkpoints: list[WorkflowCheckpoint] = []
        for checkpoint_id, data in rows:
            try:
                checkpoints.append(self._decode(data, checkpoint_id))
            except WorkflowCheckpointException as error:
                logger.warning("skipping checkpoint %s: %s", checkpoint_id, error)
        return checkpoints

    async def get_latest(self, *, workflow_name: str) -> WorkflowCheckpoint | None:
        rows = await self._store._run(
            "SELECT checkpoint_id, data FROM {s}.afh_checkpoints WHERE scope = %s AND workflow_name = %s AND "
            + self._ALIVE
            + " ORDER BY created DESC, checkpoint_id DESC LIMIT 1",
            (self.scope, workflow_name),
        )
        return self._decode(rows[0][1], rows[0][0]) if rows else None

    async def delete(self, checkpoint_id: str) -> bool:
        rows = await self._store._run(
            "DELETE FROM {s}.afh_checkpoints WHERE scope = %s AND checkpoint_id = %s RETURNING 1",
            (self.scope, checkpoint_id),
        )
        return bool(rows)
