"""Outbound bearer tokens: the OAuth2 client-credentials flow, cached until shortly before expiry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
from agent_framework_hosting import PlatformError
from agent_framework_hosting.outbound import send_with_retry

TokenProvider = Callable[[], Awaitable[str]]
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
REFRESH_MARGIN_SECONDS = 300.0


class TokenUnavailable(PlatformError):
    """The token service refused or could not be reached."""


def token_endpoint(tenant_id: str | None) -> str:
    return f"https://login.microsoftonline.com/{tenant_id or 'botframework.com'}/oauth2/v2.0/token"


class ClientCredentials:
    """An async token provider for an app id and client secret."""

    def __init__(
        self,
        *,
        app_id: str,
        app_password: str,
        endpoint: str,
        client: Callable[[], httpx.AsyncClient],
        scope: str = BOT_FRAMEWORK_SCOPE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app_id = app_id
        self._app_password = app_password
        self.endpoint = endpoint
        self.scope = scope
        self._client = client
        self._clock = clock
        self._token: str | None = None
        self._refresh_at = float("-inf")
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"ClientCredentials(app_id={self._app_id!r}, endpoint={self.endpoint!r})"

    def invalidate(self) -> None:
        """Forget the cached token (the connector refused it)."""
        self._token = None

    async def __call__(self) -> str:
        async with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                await self._fetch()
            assert self._token is not None
            return self._token

    async def _fetch(self) -> None:
        data = {
            "grant_type": "client_credentials",
            "client_id": self._app_id,
            "client_secret": self._app_password,
            "scope": self.scope,
        }
        try:
            response = await send_with_retry(
                self._client(), "POST", self.endpoint, data=data, describe=f"token request to {self.endpoint}"
            )
        except httpx.HTTPError as error:
            raise TokenUnavailable(f"token service {self.endpoint} unreachable ({type(error).__name__})") from None
        if response.status_code != 200:
            raise TokenUnavailable(f"token service {self.endpoint} answered {response.status_code}")
        try:
            body = response.json()
            token, lifetime = body["access_token"], float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise TokenUnavailable(f"token service {self.endpoint} sent no access_token") from None
        if not isinstance(token, str) or not token:
            raise TokenUnavailable(f"token service {self.endpoint} sent no access_token")
        self._token = token
        self._refresh_at = self._clock() + lifetime - min(REFRESH_MARGIN_SECONDS, lifetime / 2)
