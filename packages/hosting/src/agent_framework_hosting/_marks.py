"""Agent Framework's compaction marks on stored messages, and noticing when one changes.

Compaction (`CompactionProvider`, a chat client's `compaction_strategy`) marks messages
already in the history as excluded by editing their `additional_properties` in place. A
durable store must save such a change, but looking at every stored message on every save
costs more the longer the conversation. So the properties of every message the host has
stored are a `WatchedProperties`, which counts the changes of a mark as they happen: while
the count stands still, only the turn's new messages need looking at.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from agent_framework import Message

EXCLUDED = "_excluded"  # the property Agent Framework's compaction sets on a message it leaves out

_Result = TypeVar("_Result")
_properties = operator.attrgetter("additional_properties")
_excluded = operator.methodcaller("get", EXCLUDED, False)


def marks_of(messages: Iterable[Message]) -> list[Any]:
    """Each message's compaction mark (the loop runs in C: `map` over getters)."""
    return list(map(_excluded, map(_properties, messages)))


class WatchedProperties(dict[str, Any]):
    """A stored message's `additional_properties`; `changes` counts the changes of any such dict's mark.

    One count for the process: a change anywhere makes the next save of every session check all its
    marks (as it would without watching), so no message can be shared between sessions unnoticed.
    Copies and pickles are plain dicts.
    """

    __slots__ = ()
    changes = 0

    def _watching(self, change: Callable[[], _Result]) -> _Result:
        before = self.get(EXCLUDED, False)
        try:
            return change()
        finally:
            if self.get(EXCLUDED, False) != before:
                WatchedProperties.changes += 1

    def __setitem__(self, key: str, value: Any) -> None:
        if key == EXCLUDED and value != self.get(EXCLUDED, False):
            WatchedProperties.changes += 1
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._watching(lambda: super(WatchedProperties, self).__delitem__(key))

    def setdefault(self, key: str, default: Any = None) -> Any:
        return self._watching(lambda: super(WatchedProperties, self).setdefault(key, default))

    def pop(self, key: str, *default: Any) -> Any:
        return self._watching(lambda: super(WatchedProperties, self).pop(key, *default))

    def popitem(self) -> tuple[str, Any]:
        return self._watching(lambda: super(WatchedProperties, self).popitem())

    def clear(self) -> None:
        self._watching(lambda: super(WatchedProperties, self).clear())

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._watching(lambda: super(WatchedProperties, self).update(*args, **kwargs))

    def __ior__(self, other: Any) -> WatchedProperties:  # type: ignore[override,misc]
        self.update(other)
        return self

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[dict[str, Any]]]:
        return dict, (dict(self),)


def watch(messages: Iterable[Message]) -> None:
    """Make the messages' `additional_properties` count their mark's changes (a no-op for those already watched)."""
    for message in messages:
        properties = message.additional_properties
        if type(properties) is not WatchedProperties:
            message.additional_properties = WatchedProperties(properties or {})
