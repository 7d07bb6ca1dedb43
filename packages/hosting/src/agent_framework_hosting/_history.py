"""Editing a session's in-memory history: marking an interrupted turn, appending delivered messages."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Sequence
from typing import Any

from agent_framework import InMemoryHistoryProvider, Message

INTERRUPTED_TEXT = "[interrupted before answering]"


def _states(target: Any, session: Any) -> list[dict[str, Any]]:
    """The state dicts of the target's in-memory history providers (the default one when it has none)."""
    if session is None:
        return []
    providers = list(getattr(target, "context_providers", None) or ())
    ids = [p.source_id for p in providers if isinstance(p, InMemoryHistoryProvider)]
    if not providers:
        ids = [InMemoryHistoryProvider.DEFAULT_SOURCE_ID]
    return [session.state.setdefault(source_id, {}) for source_id in ids]


def identify(messages: Iterable[Any]) -> None:
    """Give each message without an id one, as it joins a session's history.

    The agent's history provider tells the stored messages from a turn's new ones by id; a message without an
    id it serializes instead, so every turn serialized the whole history again, a cost growing with its length.
    """
    for message in messages:
        if isinstance(message, Message) and message.message_id is None:
            message.message_id = os.urandom(8).hex()


def history_length(target: Any, session: Any) -> int:
    """How many messages the session's history holds now (0 when there is no in-memory history)."""
    states = _states(target, session)
    return len(states[0].get("messages") or []) if states else 0


def history_messages(target: Any, session: Any) -> list[Message]:
    """A copy of the messages the session's in-memory history holds (empty when there is none)."""
    states = _states(target, session)
    stored = (states[0].get("messages") or []) if states else []
    return [copy.deepcopy(m) if isinstance(m, Message) else Message.from_dict(m) for m in stored]


def _marked(message: Message) -> Message:
    properties = dict(message.additional_properties or {})
    properties["hosting"] = {**(properties.get("hosting") or {}), "interrupted": True}
    message.additional_properties = properties
    return message


def mark_interrupted(
    target: Any, session: Any, inputs: Sequence[Message], start: int, partial: Sequence[Message] = ()
) -> None:
    """Keep an interrupted turn in history: its input, and its partial answer marked ``interrupted``.

    `start` is the history length before the turn. What the run did not write
    itself is appended: the input, then the `partial` answer (or a marker).
    """
    for state in _states(target, session):
        messages = list(state.get("messages") or [])
        added = messages[start:]
        if not any(message.role == "user" for message in added):
            messages.extend(inputs)
            added = [*added, *inputs]
        last = messages[-1] if messages else None
        if last is not None and last.role == "assistant" and any(last is message for message in added):
            _marked(last)
        elif partial and any(message.text for message in partial):
            messages.extend(_marked(copy.copy(message)) for message in partial)
        else:
            messages.append(_marked(Message(role="assistant", contents=[INTERRUPTED_TEXT])))
        identify(messages[start:])
        state["messages"] = messages


def append_messages(target: Any, session: Any, messages: Sequence[Message]) -> bool:
    """Append `messages` to the session's in-memory history; False when it keeps none."""
    states = _states(target, session)
    identify(messages)
    for state in states:
        state["messages"] = [*(state.get("messages") or []), *messages]
    return bool(states)


def proactive_id(message: Message) -> str | None:
    """The id `host.deliver` gave a delivered message (None for any other message)."""
    hosting = (message.additional_properties or {}).get("hosting") or {}
    value = hosting.get("proactive_id")
    return value if isinstance(value, str) else None


def proactive_ids(target: Any, session: Any) -> set[str]:
    """The ids of the delivered messages the session's history holds."""
    found: set[str] = set()
    for state in _states(target, session):
        for message in state.get("messages") or []:
            item = message if isinstance(message, Message) else Message.from_dict(message)
            if (value := proactive_id(item)) is not None:
                found.add(value)
    return found


def saved_messages(target: Any, session: Any) -> list[Message]:
    """The messages of the session's (first) in-memory history, as they are (no copies: read only)."""
    states = _states(target, session)
    items = (states[0].get("messages") or []) if states else []
    return [item if isinstance(item, Message) else Message.from_dict(item) for item in items]
