"""Discord wire payloads: interaction responses, messages and command definitions (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

PONG = 1
CHANNEL_MESSAGE_WITH_SOURCE = 4
DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
APPLICATION_COMMAND_AUTOCOMPLETE_RESULT = 8
EPHEMERAL = 1 << 6
CHAT_INPUT = 1
STRING_OPTION = 3
NO_MENTIONS: dict[str, Any] = {"parse": []}


def pong() -> dict[str, Any]:
    return {"type": PONG}


def deferred(*, ephemeral: bool = False) -> dict[str, Any]:
    """Type 5: Discord shows "thinking…" until the original response is edited."""
    response: dict[str, Any] = {"type": DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE}
    if ephemeral:
        response["data"] = {"flags": EPHEMERAL}
    return response


def message(content: str, *, ephemeral: bool = False) -> dict[str, Any]:
    """A message body that can never ping anyone, whatever the text says."""
    body: dict[str, Any] = {"content": content, "allowed_mentions": dict(NO_MENTIONS)}
    if ephemeral:
        body["flags"] = EPHEMERAL
    return body


def immediate(content: str, *, ephemeral: bool = True) -> dict[str, Any]:
    """Type 4: answer in the interaction response itself."""
    return {"type": CHANNEL_MESSAGE_WITH_SOURCE, "data": message(content, ephemeral=ephemeral)}


def no_choices() -> dict[str, Any]:
    """Type 8 with no suggestions: the polite answer to autocomplete we do not offer."""
    return {"type": APPLICATION_COMMAND_AUTOCOMPLETE_RESULT, "data": {"choices": []}}


def string_option(name: str, description: str, *, required: bool) -> dict[str, Any]:
    return {"type": STRING_OPTION, "name": name, "description": description, "required": required}


def slash_command(name: str, description: str, options: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    command: dict[str, Any] = {"type": CHAT_INPUT, "name": name, "description": description}
    if options:
        command["options"] = list(options)
    return command
