"""Discord's REST API, as the channel uses it: webhook edits and follow-ups, channel messages, commands."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx
from agent_framework_hosting.outbound import header_retry_after, redact_in_logs, send_with_retry

logger = logging.getLogger("agent_framework.hosting.discord")

DEFAULT_API_BASE_URL = "https://discord.com/api/v10"
PROJECT_URL = "https://github.com/microsoft/agent-framework"
INVALID_WEBHOOK_TOKEN = 50027
WEBHOOK_TOKEN_PATTERN = r"(/webhooks/[^/\s]+/)[^/\s?\"']+"


def retry_after(response: httpx.Response) -> float | None:
    """Discord's JSON `retry_after` (seconds, fractional), else the `Retry-After` header."""
    try:
        value = response.json().get("retry_after")
    except (ValueError, AttributeError):
        value = None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return header_retry_after(response)


def error_code(response: httpx.Response) -> int | None:
    """Discord's JSON error `code` (e.g. 50027 invalid webhook token), when there is one."""
    try:
        code = response.json().get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def describe_failure(response: httpx.Response | None) -> str:
    if response is None:
        return "no response (network error)"
    detail = ""
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            detail = f": {body.get('code')} {body['message'][:200]}"
    except ValueError:
        pass
    return f"HTTP {response.status_code}{detail}"


def token_expired(response: httpx.Response | None) -> bool:
    """Whether a webhook call failed because the interaction token is no longer valid."""
    return response is not None and (response.status_code == 401 or error_code(response) == INVALID_WEBHOOK_TOKEN)


class DiscordApi:
    """A small Discord REST client: 429s honoured, other failures retried a bounded number of times."""

    def __init__(
        self,
        *,
        base_url: str,
        application_id: str,
        bot_token: str | None,
        user_agent: str,
        attempts: int = 4,
        base_delay: float = 0.5,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.application_id = application_id
        self.has_bot_token = bot_token is not None
        self._bot_token = bot_token
        self._user_agent = user_agent
        self.attempts = attempts
        self.base_delay = base_delay
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        redact_in_logs(WEBHOOK_TOKEN_PATTERN, r"\1<token>")

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(timeout=self._timeout, headers={"User-Agent": self._user_agent})
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def call(
        self, method: str, path: str, *, json: Any, describe: str, bot: bool = False, attempts: int | None = None
    ) -> httpx.Response | None:
        """Send one call; returns the final response, or None when Discord could not be reached."""
        headers = {"Authorization": f"Bot {self._bot_token}"} if bot and self._bot_token else None
        try:
            return await send_with_retry(
                self.client,
                method,
                self.base_url + path,
                json=json,
                headers=headers,
                attempts=attempts or self.attempts,
                retry_after=retry_after,
                base_delay=self.base_delay,
                describe=describe,
            )
        except httpx.HTTPError as error:
            logger.warning("%s failed: %s", describe, type(error).__name__)
            return None

    def _webhook(self, token: str) -> str:
        return f"/webhooks/{quote(self.application_id, safe='')}/{quote(token, safe='')}"

    async def edit_original(
        self, token: str, body: dict[str, Any], *, describe: str, attempts: int | None = None
    ) -> httpx.Response | None:
        return await self.call(
            "PATCH", self._webhook(token) + "/messages/@original", json=body, describe=describe, attempts=attempts
        )

    async def follow_up(self, token: str, body: dict[str, Any], *, describe: str) -> httpx.Response | None:
        return await self.call("POST", self._webhook(token), json=body, describe=describe)

    async def channel_message(self, channel_id: str, body: dict[str, Any], *, describe: str) -> httpx.Response | None:
        return await self.call(
            "POST", f"/channels/{quote(channel_id, safe='')}/messages", json=body, describe=describe, bot=True
        )

    async def put_commands(
        self, commands: Sequence[dict[str, Any]], *, guild_id: str | None, describe: str
    ) -> httpx.Response | None:
        """Bulk-overwrite the application's commands (guild-scoped when `guild_id`, else global)."""
        path = f"/applications/{quote(self.application_id, safe='')}"
        if guild_id is not None:
            path += f"/guilds/{quote(guild_id, safe='')}"
        return await self.call("PUT", path + "/commands", json=list(commands), describe=describe, bot=True)
