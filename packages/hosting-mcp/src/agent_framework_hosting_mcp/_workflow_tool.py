"""A workflow's start executor input as an MCP tool's parameters (pure): which arguments, and how they become input."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

from agent_framework import Message
from pydantic import BaseModel, Field

MESSAGE = Annotated[str, Field(min_length=1, description="What to send the workflow.")]
CONVERSATION = Annotated[
    str | None, Field(description="A name of your choice for the conversation; the workflow keeps its state.")
]


@dataclass(frozen=True)
class WorkflowParameters:
    """The tool's parameters (for its signature, hence its input schema) and how arguments become the input."""

    parameters: list[inspect.Parameter]
    to_input: Callable[[dict[str, Any]], Any]
    takes_conversation: bool


def _is_text_form(kind: Any) -> bool:
    if kind in (str, Message, Any, object):
        return True
    return get_origin(kind) in (list, Sequence) and get_args(kind)[:1] == (Message,)


def _keyword(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


def _fields_of(kind: type) -> list[inspect.Parameter] | None:
    """A pydantic model's or a dataclass's fields as keyword parameters (their JSON schema is the model's)."""
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        parameters = []
        for name, info in kind.model_fields.items():
            value = inspect.Parameter.empty if info.is_required() else info.get_default(call_default_factory=True)
            annotation = (
                Annotated[info.annotation, Field(description=info.description)] if info.description else info.annotation
            )
            parameters.append(_keyword(info.alias or name, annotation, value))
        return parameters
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        hints = typing.get_type_hints(kind)
        parameters = []
        for item in dataclasses.fields(kind):
            if item.default is not dataclasses.MISSING:
                default: Any = item.default
            elif item.default_factory is not dataclasses.MISSING:
                default = item.default_factory()
            else:
                default = inspect.Parameter.empty
            parameters.append(_keyword(item.name, hints.get(item.name, Any), default))
        return parameters
    return None


def _text_input(types: Sequence[Any], text: str) -> Any:
    """`text` in the first text form the start executor takes."""
    for kind in types:
        if kind is Message:
            return Message(role="user", contents=[text])
        if _is_text_form(kind) and kind not in (str, Any, object):
            return [Message(role="user", contents=[text])]
        if kind is str:
            return text
    return text


def _build(kind: type, arguments: dict[str, Any]) -> Any:
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return kind.model_validate(arguments)
    return kind(**arguments)


def workflow_parameters(types: Sequence[Any], *, conversation: bool = True) -> WorkflowParameters:
    """Text when the start executor takes text (``message``, and ``conversation`` if asked), else its first JSON type.

    A model or dataclass gives its fields (the input is built from them); any other type one ``input``
    argument of that type.
    """
    if not types or any(_is_text_form(kind) for kind in types):
        parameters = [_keyword("message", MESSAGE)]
        if conversation:
            parameters.append(_keyword("conversation", CONVERSATION, None))
        return WorkflowParameters(
            parameters, lambda arguments: _text_input(types, arguments["message"]), takes_conversation=conversation
        )
    kind = types[0]
    fields = _fields_of(kind)
    if fields is not None:
        return WorkflowParameters(fields, lambda arguments: _build(kind, arguments), takes_conversation=False)
    return WorkflowParameters(
        [_keyword("input", Annotated[kind, Field(description="The workflow's input.")])],
        lambda arguments: arguments["input"],
        takes_conversation=False,
    )
