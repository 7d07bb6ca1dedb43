"""What a workflow target accepts as its start message."""

from __future__ import annotations

import logging
from typing import Any

from agent_framework import Workflow, WorkflowMessage

logger = logging.getLogger("agent_framework.hosting.invocations")


class WorkflowInputCheck:
    """Tells whether a workflow's start executor accepts a value; builds one sample workflow lazily."""

    def __init__(self, target: Any) -> None:
        self._target = target
        self._sample: Workflow | None = target if isinstance(target, Workflow) else None

    def accepts(self, value: Any) -> bool:
        """False only when the start executor is known to refuse `value`."""
        try:
            if self._sample is None:
                build = getattr(self._target, "build", None)
                self._sample = build() if callable(build) else self._target()
            start = self._sample.get_start_executor()
            return bool(start.can_handle(WorkflowMessage(data=value, source_id="invocations", target_id=start.id)))
        except Exception:
            logger.debug("could not inspect the workflow's start executor", exc_info=True)
            return True
