"""The server-side tool through which the agent changes a thread's shared state (sent as `STATE_DELTA`)."""

from __future__ import annotations

import json
from typing import Any

from agent_framework import FunctionTool

from ._patch import apply_patch
from ._threads import ThreadRecord

MAX_STATE_IN_DESCRIPTION = 4000
PATCH_SCHEMA = {
    "type": "object",
    "properties": {
        "patch": {
            "type": "array",
            "description": "JSON Patch operations (RFC 6902): add, remove or replace",
            "items": {
                "type": "object",
                "properties": {
                    "op": {"type": "string", "enum": ["add", "remove", "replace"]},
                    "path": {"type": "string", "description": "a JSON Pointer such as /todo/0"},
                    "value": {},
                },
                "required": ["op", "path"],
            },
        }
    },
    "required": ["patch"],
}


def state_tool(name: str, record: ThreadRecord, deltas: list[list[Any]]) -> FunctionTool:
    """A tool that patches `record.state`; each applied patch is queued in `deltas` for the event stream."""

    def update_state(patch: list[Any]) -> str:
        record.state = apply_patch(record.state, patch)
        deltas.append(list(patch))
        return "the shared state was updated"

    current = json.dumps(record.state, ensure_ascii=False, sort_keys=True)
    if len(current) > MAX_STATE_IN_DESCRIPTION:
        current = current[:MAX_STATE_IN_DESCRIPTION] + " ..."
    description = f"Change the application state shared with the user's front end. The state now: {current}"
    return FunctionTool(name=name, description=description, func=update_state, input_model=PATCH_SCHEMA)
