"""Calling Slack's Web API: JSON methods with retries, file downloads, and tokens that never reach a log."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from agent_framework_hosting import PlatformError
from agent_framework_hosting.outbound import forget_redaction, header_retry_after, redact_in_logs, send_with_retry

logger = logging.getLogger("agent_framework.hosting.slack")
SDK_LOGGER = "agent_framework.hosting.slack.sdk"
DEFAULT_API_BASE = "https://slack.com/api"
FILE_HOSTS = frozenset({"files.slack.com", "slack-files.com"})
RESPONSE_URL_HOSTS = frozenset({"hooks.slack.com"})
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
REDACTED_LOGGERS = (
    "httpx",
    "httpcore",
    "aiohttp.client",
    "aiohttp.access",
    "agent_framework.hosting",
    "agent_framework.hosting.slack",
    SDK_LOGGER,
)


class SlackApiError(PlatformError):
    """A Web API method answered ``ok: false`` (`error` is Slack's code) or could not be reached.

    `platform_status` is Slack's HTTP status (None when no answer came back); `retry_after` a 429's wait.
    """

    def __init__(
        self, method: str, error: str, *, platform_status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{method} failed: {error}" + (f" (HTTP {platform_status})" if platform_status else ""))
        self.method = method
        self.error = error
        self.platform_status = platform_status
        self.retry_after = retry_after

    @property
    def rate_limited(self) -> bool:
        return self.platform_status == 429 or self.error == "ratelimited"

    @property
    def transient(self) -> bool:
        """A refusal that is about load, not about the request (another attempt later may succeed)."""
        return self.rate_limited or self.platform_status is None or self.platform_status >= 500


class Secrets:
    """Registers secret values for redaction from every log record of the HTTP and Slack loggers."""

    def __init__(self, values: Mapping[str, str | None]) -> None:
        self._rules = [(re.escape(value), f"<{name}>") for name, value in values.items() if value]

    def hide(self) -> None:
        for pattern, replacement in self._rules:
            redact_in_logs(pattern, replacement, loggers=REDACTED_LOGGERS)

    def forget(self) -> None:
        for pattern, _ in self._rules:
            forget_redaction(pattern)


def _host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


class SlackApi:
    """One bot's Web API client: ``POST {api_base}/<method>`` with a JSON body and the bot token."""

    def __init__(
        self,
        token: str,
        api_base: str = DEFAULT_API_BASE,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
        attempts: int = 4,
        base_delay: float = 0.5,
        trusted_hosts: Iterable[str] = (),
    ) -> None:
        self._token = token
        self.base = api_base.rstrip("/")
        self._client = client
        self._owns_client = client is None
        self._timeout = timeout
        self.attempts = attempts
        self.base_delay = base_delay
        custom = () if self.base == DEFAULT_API_BASE else (_host_of(self.base),)
        self._file_hosts = FILE_HOSTS | set(custom) | set(trusted_hosts)
        self._response_hosts = RESPONSE_URL_HOSTS | set(custom) | set(trusted_hosts)

    def open(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
            self._owns_client = True

    async def aclose(self) -> None:
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("the Slack channel has not started (its HTTP client is not open)")
        return self._client

    async def call(self, method: str, payload: Mapping[str, Any] | None = None, *, attempts: int | None = None) -> Any:
        """Call `method`; returns the answer's JSON object, raises `SlackApiError` when it is not ``ok``."""
        try:
            response = await send_with_retry(
                self.client,
                "POST",
                f"{self.base}/{method}",
                json=dict(payload or {}),
                headers={"Authorization": f"Bearer {self._token}"},
                attempts=attempts or self.attempts,
                base_delay=self.base_delay,
                describe=f"slack {method}",
            )
        except httpx.TransportError as error:
            raise SlackApiError(method, type(error).__name__) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 429:
            raise SlackApiError(method, "ratelimited", platform_status=429, retry_after=header_retry_after(response))
        if not isinstance(body, dict):
            raise SlackApiError(method, "answer is not a JSON object", platform_status=response.status_code)
        if body.get("ok") is not True or response.status_code >= 400:
            reason = body.get("error")
            code = reason if isinstance(reason, str) else "request_failed"
            raise SlackApiError(method, code, platform_status=response.status_code)
        return body

    async def download(self, url: str, *, max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes:
        """A private file's bytes, fetched here with the bot token (only from Slack's file hosts)."""
        if urlsplit(url).scheme not in ("https", "http") or _host_of(url) not in self._file_hosts:
            raise SlackApiError("file download", "the file is not on a Slack file host")
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            async with self.client.stream("GET", url, headers=headers, follow_redirects=True) as response:
                if response.status_code != 200:
                    raise SlackApiError("file download", "download refused", platform_status=response.status_code)
                if response.headers.get("content-type", "").startswith("text/html"):
                    raise SlackApiError("file download", "Slack answered with a login page (missing files:read?)")
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data.extend(chunk)
                    if len(data) > max_bytes:
                        raise SlackApiError("file download", f"file exceeds {max_bytes} bytes")
                return bytes(data)
        except httpx.HTTPError as error:
            raise SlackApiError("file download", type(error).__name__) from None

    def can_respond_to(self, response_url: str | None) -> bool:
        return bool(response_url) and _host_of(response_url or "") in self._response_hosts

    async def respond(self, response_url: str, payload: Mapping[str, Any]) -> None:
        """Answer a slash command or an interaction through its ``response_url``."""
        if not self.can_respond_to(response_url):
            raise SlackApiError("response_url", "not a Slack response URL")
        try:
            response = await send_with_retry(
                self.client, "POST", response_url, json=dict(payload), attempts=self.attempts,
                base_delay=self.base_delay, describe="slack response_url",
            )  # fmt: skip
        except httpx.TransportError as error:
            raise SlackApiError("response_url", type(error).__name__) from None
        if response.status_code >= 400:
            raise SlackApiError("response_url", "refused", platform_status=response.status_code)
