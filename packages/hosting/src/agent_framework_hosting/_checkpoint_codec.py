"""Encoding workflow checkpoints for the shared stores (Redis, PostgreSQL) and restoring them."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from agent_framework import WorkflowCheckpoint
from agent_framework.exceptions import WorkflowCheckpointException

from ._upstream import decode_checkpoint_value, encode_checkpoint_value


def checkpoint_created(checkpoint: WorkflowCheckpoint) -> float:
    """The checkpoint's own timestamp in epoch seconds, or now when it has none that parses."""
    try:
        return datetime.fromisoformat(checkpoint.timestamp).timestamp()
    except (TypeError, ValueError):
        return time.time()


def encode_checkpoint(
    checkpoint: WorkflowCheckpoint, allowed_types: frozenset[str], serialize: Callable[[Any], Any] = lambda value: value
) -> Any:
    """Agent Framework's encoding of `checkpoint` passed through `serialize`.

    Refused up front (`WorkflowCheckpointException`) unless it also decodes under `allowed_types`.
    """
    try:
        encoded = encode_checkpoint_value(checkpoint.to_dict())
        decode_checkpoint_value(encoded, allowed_types=allowed_types)
        return serialize(encoded)
    except WorkflowCheckpointException:
        raise
    except Exception as error:
        raise WorkflowCheckpointException(
            f"checkpoint {checkpoint.checkpoint_id} cannot be encoded or restored under the allowed types"
        ) from error


def restore_checkpoint(encoded: Any, allowed_types: frozenset[str]) -> WorkflowCheckpoint:
    """Decode with Agent Framework's restricted type allow-list (plus `allowed_types`)."""
    return WorkflowCheckpoint.from_dict(decode_checkpoint_value(encoded, allowed_types=allowed_types))
