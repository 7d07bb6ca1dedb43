"""Loading the command line's TARGET (`module:attribute`) into something the host can serve."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import sys
from dataclasses import dataclass
from typing import Any, Literal

from agent_framework import Workflow

from ._errors import ConfigurationError
from ._host import AgentFrameworkHost
from ._workflow import FirstThenBuild

TargetKind = Literal["host", "agent", "workflow"]
EXPECTED = "an agent, a workflow, a zero-argument factory returning one, or an AgentFrameworkHost"


class TargetError(ConfigurationError):
    """TARGET cannot be served; the message is one line for the user."""


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    value: Any
    """The host, the agent, or the workflow (a `Workflow`, or a builder the host calls per conversation)."""


def _classify(value: Any) -> TargetKind | None:
    if isinstance(value, AgentFrameworkHost):
        return "host"
    if inspect.isclass(value):
        return None
    if isinstance(value, Workflow):
        return "workflow"
    if callable(getattr(value, "run", None)):
        return "agent"
    if callable(getattr(value, "build", None)):
        return "workflow"  # a WorkflowBuilder: the host builds one workflow per conversation
    return None


def _needs_arguments(function: Any) -> bool:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return False
    return any(
        p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        for p in signature.parameters.values()
    )


def _describe(value: Any) -> str:
    if inspect.ismodule(value):
        return "a module"
    if inspect.isclass(value):
        return f"the class {value.__name__}"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def resolve_target(value: Any, spec: str) -> Target:
    """Turn the object TARGET names into a `Target`, calling it once if it is a factory."""
    kind = _classify(value)
    if kind is not None:
        return Target(kind, value)
    if not callable(value):
        raise TargetError(f"{spec} is {_describe(value)}; expected {EXPECTED}")
    if _needs_arguments(value):
        raise TargetError(f"{spec} needs arguments; expected {EXPECTED}")
    try:
        made = value()
        if inspect.isawaitable(made):
            made = asyncio.run(_awaited(made))
    except Exception as error:
        raise TargetError(f"calling {spec}() failed: {type(error).__name__}: {error}") from error
    kind = _classify(made)
    if kind is None:
        raise TargetError(f"{spec}() returned {_describe(made)}; expected {EXPECTED}")
    if kind == "workflow" and isinstance(made, Workflow):
        return Target(kind, FirstThenBuild(value, made))
    return Target(kind, made)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def _import(module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise TargetError(
                f"cannot import {module_name!r}: no module named {missing!r} (run from the folder that holds it)"
            ) from error
        raise TargetError(f"importing {module_name!r} failed: {error}") from error
    except (Exception, SystemExit) as error:
        raise TargetError(f"importing {module_name!r} failed: {type(error).__name__}: {error}") from error


def load_target(spec: str, *, search_path: str | None = None) -> Target:
    """Import `module:attribute` (the attribute may be dotted) and resolve it; `search_path` goes first on sys.path."""
    module_name, separator, attribute = spec.partition(":")
    module_name, attribute = module_name.strip(), attribute.strip()
    if not separator or not module_name or not attribute:
        raise TargetError(f"TARGET must look like 'module:attribute', got {spec!r}")
    if search_path is not None and search_path not in sys.path:
        sys.path.insert(0, search_path)
    value = _import(module_name)
    for part in attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise TargetError(f"module {module_name!r} has no attribute {attribute!r}") from None
    return resolve_target(value, spec)
