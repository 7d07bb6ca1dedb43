"""The only place this package touches agent-framework-core's private names.

Core offers no public way to serialise checkpoint values or to ask a built
workflow whether it has its own checkpoint storage. `tests/test_upstream.py`
exercises each name here, so an upstream change fails there, loudly, first.
"""

from __future__ import annotations

from agent_framework import Workflow
from agent_framework._workflows._checkpoint_encoding import (  # private: no public encoder in core 1.x
    decode_checkpoint_value,
    encode_checkpoint_value,
)

__all__ = ["decode_checkpoint_value", "encode_checkpoint_value", "workflow_has_checkpointing"]


def workflow_has_checkpointing(workflow: Workflow) -> bool:
    """Whether the workflow was built with its own checkpoint storage (`WorkflowBuilder(checkpoint_storage=...)`)."""
    return bool(workflow._runner.context.has_checkpointing())
