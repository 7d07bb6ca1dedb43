"""Calling the Bot API: JSON methods with retries, file downloads, and a token that never reaches a log."""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
from agent_framework_hosting import PlatformError
from agent_framework_hosting.outbound import forget_redaction, redact_in_logs, send_with_retry

logger = logging.getLogger("agent_framework.hosting.telegram")
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
REDACTED = "<bot-token>"


class TelegramApiError(PlatformError):
    """The Bot API refused a call (``ok: false``) or could not be reached."""

    def __init__(
        self, method: str, description: str, *, error_code: int | None = None, retry_after: float | None = None
    ):
        super().__init__(f"{method} failed: {error_code or 'network'} {description}".strip())
        self.method = method
        self.description = description
        self.error_code = error_code
        self.retry_after = retry_after

    @property
    def bad_entities(self) -> bool:
        """Telegram could not parse the formatting (HTML/Markdown) of the text."""
        return self.error_code == 400 and "can't parse entities" in self.description.lower()

    @property
    def not_modified(self) -> bool:
        return self.error_code == 400 and "message is not modified" in self.description.lower()


def telegram_retry_after(response: httpx.Response) -> float | None:
    """Seconds from the body's ``parameters.retry_after`` (Telegram's way), else the header."""
    try:
        value = response.json().get("parameters", {}).get("retry_after")
    except (ValueError, AttributeError):
        value = None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    header = response.headers.get("retry-after", "")
    return float(header) if header.isdigit() else None


class BotApi:
    """One bot's Bot API client: ``POST {api_base}/bot<token>/<method>`` with JSON bodies."""

    REDACTED_LOGGERS = ("httpx", "httpcore", "agent_framework.hosting", "agent_framework.hosting.telegram")

    def __init__(self, token: str, api_base: str, *, client: httpx.AsyncClient | None = None, timeout: float = 30.0):
        self._token = token
        self._base = api_base.rstrip("/")
        self._client = client
        self._owns_client = client is None
        self._timeout = timeout
        self._secret = re.escape(token)

    def open(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
            self._owns_client = True
        redact_in_logs(self._secret, REDACTED, loggers=self.REDACTED_LOGGERS)

    async def aclose(self) -> None:
        forget_redaction(self._secret)
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("the Telegram channel has not started (its HTTP client is not open)")
        return self._client

    async def call(
        self, method: str, payload: dict[str, Any] | None = None, *, attempts: int = 4, timeout: float | None = None
    ) -> Any:
        """Call `method` and return its ``result``; raises `TelegramApiError`."""
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            response = await send_with_retry(
                self.client,
                "POST",
                f"{self._base}/bot{self._token}/{method}",
                json=payload or {},
                attempts=attempts,
                retry_after=telegram_retry_after,
                describe=f"telegram {method}",
                **extra,
            )
        except httpx.TransportError as error:
            raise TelegramApiError(method, type(error).__name__) from None
        return _result(method, response)

    async def download(self, file_path: str, *, max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes:
        """The bytes of a file `getFile` named, fetched here so its token-bearing URL never leaves the server."""
        if not file_path or file_path.startswith("/") or "://" in file_path or ".." in file_path.split("/"):
            raise TelegramApiError("file download", "unexpected file path")
        url = f"{self._base}/file/bot{self._token}/{file_path}"
        try:
            async with self.client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise TelegramApiError("file download", "download refused", error_code=response.status_code)
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data.extend(chunk)
                    if len(data) > max_bytes:
                        raise TelegramApiError("file download", f"file exceeds {max_bytes} bytes")
                return bytes(data)
        except httpx.HTTPError as error:
            raise TelegramApiError("file download", type(error).__name__) from None


def _result(method: str, response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise TelegramApiError(method, "answer is not a JSON object", error_code=response.status_code)
    if body.get("ok") is True and response.status_code < 400:
        return body.get("result")
    parameters = body.get("parameters")
    retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
    code = body.get("error_code")
    raise TelegramApiError(
        method,
        str(body.get("description") or "request failed"),
        error_code=code if isinstance(code, int) else response.status_code,
        retry_after=float(retry_after) if isinstance(retry_after, (int, float)) else None,
    )
