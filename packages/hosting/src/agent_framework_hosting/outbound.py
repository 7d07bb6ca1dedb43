"""Calling platform APIs: retry 429 after the time they ask, 5xx and network errors with backoff."""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from ._metrics import record_dead_letter, record_outbound_retry

logger = logging.getLogger("agent_framework.hosting")
RetryAfter = Callable[[httpx.Response], "float | None"]
MAX_RETRY_AFTER = 300.0


def header_retry_after(response: httpx.Response) -> float | None:
    """Seconds from a `Retry-After` header, when it holds a number."""
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _target(url: str) -> str:
    return urlsplit(url).hostname or "unknown"


async def send_with_retry(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    attempts: int = 4,
    retry_after: RetryAfter = header_retry_after,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    describe: str = "request",
    **kwargs: Any,
) -> httpx.Response:
    """Send a request, retrying a bounded number of times; returns the last response.

    `describe` names the call in logs; it must not contain secrets (URLs may).
    Raises the last `httpx.TransportError` when every attempt failed to connect.
    """
    for attempt in range(1, attempts + 1):
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.TransportError as error:
            if attempt == attempts:
                raise
            delay = min(max_delay, base_delay * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
            logger.warning("%s failed (%s); retrying in %.2fs", describe, type(error).__name__, delay)
            record_outbound_retry(_target(url), type(error).__name__)
            await asyncio.sleep(delay)
            continue
        if response.status_code != 429 and response.status_code < 500:
            return response
        if attempt == attempts:
            return response
        if response.status_code == 429:
            asked = retry_after(response)
            delay = min(MAX_RETRY_AFTER, base_delay * 2 ** (attempt - 1) if asked is None else max(0.0, asked))
        else:
            delay = min(max_delay, base_delay * 2 ** (attempt - 1))
        logger.warning("%s answered %s; retrying in %.2fs", describe, response.status_code, delay)
        record_outbound_retry(_target(url), str(response.status_code))
        await asyncio.sleep(delay)
    raise AssertionError("unreachable")


class _RedactSecrets(logging.Filter):
    """Rewrites secrets out of log records: message, arguments and formatted traceback."""

    def __init__(self) -> None:
        super().__init__()
        self.rules: dict[str, tuple[re.Pattern[str], str]] = {}

    def clean(self, text: str) -> str:
        for pattern, replacement in self.rules.values():
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        cleaned = self.clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        return True


_redactor = _RedactSecrets()
HTTP_LOGGERS = ("httpx", "httpcore")


def redact_in_logs(pattern: str, replacement: str, *, loggers: Sequence[str] = HTTP_LOGGERS) -> None:
    """Keep a secret that travels in URLs (a bot token, a webhook token) out of these loggers' records.

    The HTTP client logs every request URL at INFO, hence the default.
    """
    _redactor.rules[pattern] = (re.compile(pattern), replacement)
    for name in loggers:
        target = logging.getLogger(name)
        if _redactor not in target.filters:
            target.addFilter(_redactor)


def forget_redaction(pattern: str) -> None:
    _redactor.rules.pop(pattern, None)


__all__ = [
    "HTTP_LOGGERS",
    "MAX_RETRY_AFTER",
    "RetryAfter",
    "forget_redaction",
    "header_retry_after",
    "record_dead_letter",
    "record_outbound_retry",
    "redact_in_logs",
    "send_with_retry",
]
