"""Checks the command line makes before serving that warn rather than refuse."""

from __future__ import annotations

import logging
import socket
from urllib.parse import urlsplit

logger = logging.getLogger("agent_framework.hosting")


def warn_if_unreachable(url: str | None, *, timeout: float = 2.0) -> bool:
    """Log one warning when nothing accepts a connection at `url`'s host and port; return whether it did."""
    if not url:
        return True
    parts = urlsplit(url)
    if not parts.hostname:
        return True
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        logger.warning("the model endpoint %s cannot be reached (%s); turns fail until it can", url, reason)
        return False
