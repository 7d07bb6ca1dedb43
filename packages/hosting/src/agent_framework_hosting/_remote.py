"""What the stores kept on a server (Redis, PostgreSQL) share: their own URL options and outage handling."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Collection
from typing import TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._errors import StateUnavailableError

logger = logging.getLogger("agent_framework.hosting")

T = TypeVar("T")


def split_own_options(url: str, names: Collection[str]) -> tuple[str, dict[str, str]]:
    """Take the store's own settings (`names`) out of `url`'s query; the rest stays for the driver."""
    parts = urlsplit(url)
    kept: list[tuple[str, str]] = []
    own: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in names:
            own[name] = value
        else:
            kept.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(kept))), own


class Outages:
    """Turns a server's connection errors into `StateUnavailableError`, logging each outage once."""

    def __init__(self, location: str, errors: tuple[type[BaseException], ...]) -> None:
        self.location = location
        self.errors = errors
        self.down = False

    async def guard(self, operation: Awaitable[T]) -> T:
        try:
            result = await operation
        except self.errors as error:
            if not self.down:
                logger.warning("state store %s is unavailable: %s", self.location, error)
            self.down = True
            raise StateUnavailableError("the state store is unavailable; retry shortly") from None
        if self.down:
            self.down = False
            logger.warning("state store %s is reachable again", self.location)
        return result
