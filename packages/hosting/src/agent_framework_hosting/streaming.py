"""Helpers for channels that render a streamed answer by editing a message as it grows."""

from __future__ import annotations

import time
from collections.abc import Callable


class EditThrottle:
    """Accumulates streamed text and tells when the next edit is due (at most one per `min_interval`)."""

    def __init__(self, min_interval: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.min_interval = min_interval
        self._clock = clock
        self._parts: list[str] = []
        self._sent = ""
        self._last = float("-inf")

    def add(self, text: str) -> None:
        if text:
            self._parts.append(text)

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def sent(self) -> str:
        """The text of the last edit that was made."""
        return self._sent

    def due(self) -> bool:
        """True when there is new text and `min_interval` has passed since the last edit."""
        return self.text.strip() != self._sent.strip() and self._clock() - self._last >= self.min_interval

    def mark_sent(self, text: str | None = None) -> None:
        self._sent = self.text if text is None else text
        self._last = self._clock()
