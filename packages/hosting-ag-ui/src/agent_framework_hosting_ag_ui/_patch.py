"""JSON Patch (RFC 6902) `add`, `remove` and `replace` on the shared state (pure)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from agent_framework_hosting.http import BadRequest

OPERATIONS = ("add", "remove", "replace")


class PatchError(BadRequest):
    """A patch that cannot be applied to the state."""


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"path {path!r} must start with '/'")
    return [token.replace("~1", "/").replace("~0", "~") for token in path[1:].split("/")]


def _index(container: list[Any], token: str, *, adding: bool) -> int:
    if adding and token == "-":
        return len(container)
    if not token.isdigit():
        raise PatchError(f"{token!r} is not an array index")
    index = int(token)
    if index > len(container) or (index == len(container) and not adding):
        raise PatchError(f"index {index} is out of range")
    return index


def _apply_one(state: Any, operation: Any) -> Any:
    if not isinstance(operation, dict) or operation.get("op") not in OPERATIONS:
        raise PatchError(f"each operation needs an 'op' of {', '.join(OPERATIONS)}")
    op, path = operation["op"], operation.get("path")
    if not isinstance(path, str):
        raise PatchError("each operation needs a string 'path'")
    if op != "remove" and "value" not in operation:
        raise PatchError(f"'{op}' needs a 'value'")
    tokens = _tokens(path)
    if not tokens:
        if op == "remove":
            raise PatchError("the whole state cannot be removed")
        return copy.deepcopy(operation["value"])
    parent = state
    for token in tokens[:-1]:
        if isinstance(parent, dict) and token in parent:
            parent = parent[token]
        elif isinstance(parent, list):
            parent = parent[_index(parent, token, adding=False)]
        else:
            raise PatchError(f"path {path!r} does not exist")
    last = tokens[-1]
    if isinstance(parent, dict):
        if op != "add" and last not in parent:
            raise PatchError(f"path {path!r} does not exist")
        if op == "remove":
            del parent[last]
        else:
            parent[last] = copy.deepcopy(operation["value"])
    elif isinstance(parent, list):
        index = _index(parent, last, adding=op == "add")
        if op == "add":
            parent.insert(index, copy.deepcopy(operation["value"]))
        elif op == "remove":
            del parent[index]
        else:
            parent[index] = copy.deepcopy(operation["value"])
    else:
        raise PatchError(f"path {path!r} does not exist")
    return state


def apply_patch(state: Any, operations: Sequence[Any]) -> Any:
    """A new state with `operations` applied in order; the input is left as it was. All or nothing."""
    result = copy.deepcopy(state)
    for operation in operations:
        result = _apply_one(result, operation)
    return result
