"""The OpenAI Responses API as a channel of `agent_framework_hosting.AgentFrameworkHost`."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ._channel import ResponsesChannel
from ._parse import DEFAULT_FORWARDED_OPTIONS, OPTION_NAMES

try:
    __version__ = version("agent-framework-hosting-responses")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["DEFAULT_FORWARDED_OPTIONS", "OPTION_NAMES", "ResponsesChannel", "__version__"]
