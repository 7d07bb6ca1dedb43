"""Discord HTTP Interactions channel for agent-framework-hosting."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("agent-framework-hosting-discord")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

from ._channel import DiscordChannel, DiscordIsolationKeyFactory
from ._split import split_message

__all__ = ["DiscordChannel", "DiscordIsolationKeyFactory", "__version__", "split_message"]
