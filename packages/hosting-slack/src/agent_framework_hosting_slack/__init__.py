"""Slack channel for agent-framework-hosting: Events API, Socket Mode, assistant threads, native streaming."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from ._api import SlackApiError
from ._assistant import SlackAssistant
from ._channel import SlackChannel
from ._manifest import app_manifest
from ._mrkdwn import markdown_to_mrkdwn
from ._parse import Place, unescape
from ._verify import InvalidSignature, SignatureVerifier, signature_for

try:
    __version__ = version("agent-framework-hosting-slack")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "InvalidSignature",
    "Place",
    "SignatureVerifier",
    "SlackApiError",
    "SlackAssistant",
    "SlackChannel",
    "__version__",
    "app_manifest",
    "markdown_to_mrkdwn",
    "signature_for",
    "unescape",
]
