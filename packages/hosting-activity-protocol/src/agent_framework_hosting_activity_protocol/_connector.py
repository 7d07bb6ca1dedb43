"""Posting activities to the Bot Connector service named by an activity's `serviceUrl`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from agent_framework_hosting import PlatformError
from agent_framework_hosting.outbound import send_with_retry

from ._credentials import ClientCredentials, TokenProvider, TokenUnavailable
from ._parse import InboundActivity
from ._urls import activities_url, service_url_allowed


class DeliveryError(PlatformError):
    """The connector did not accept an activity; `platform_status` is None when no HTTP answer came back."""

    def __init__(self, message: str, *, platform_status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.platform_status = platform_status
        self.detail = detail


class Connector:
    """Sends activities as replies to an inbound activity, with a bearer token when one is configured."""

    def __init__(
        self,
        *,
        client: Callable[[], httpx.AsyncClient],
        token_provider: TokenProvider | None,
        allowed_hosts: tuple[str, ...],
        attempts: int = 4,
    ) -> None:
        self._client = client
        self._token_provider = token_provider
        self.allowed_hosts = allowed_hosts
        self.attempts = attempts

    async def _headers(self) -> dict[str, str]:
        if self._token_provider is None:
            return {}
        try:
            token = await self._token_provider()
        except TokenUnavailable as error:
            raise DeliveryError(str(error)) from None
        return {"Authorization": f"Bearer {token}"}

    async def send(
        self, inbound: InboundActivity, activity: dict[str, Any], *, attempts: int | None = None
    ) -> dict[str, Any]:
        """POST `activity` as a reply to `inbound`; returns the connector's JSON answer (its `id`)."""
        return await self.post(
            inbound.service_url, inbound.conversation_id, activity, reply_to=inbound.id, attempts=attempts
        )

    async def post(
        self,
        service_url: str,
        conversation_id: str,
        activity: dict[str, Any],
        *,
        reply_to: str | None = None,
        attempts: int | None = None,
    ) -> dict[str, Any]:
        """POST `activity` into a conversation (a reply when `reply_to` is set, else a proactive message)."""
        if not service_url_allowed(service_url, self.allowed_hosts):
            raise DeliveryError(f"serviceUrl {service_url!r} is not allowed")
        url = activities_url(service_url, conversation_id, reply_to)
        response = await self._post(url, activity, attempts or self.attempts)
        if response.status_code == 401 and isinstance(self._token_provider, ClientCredentials):
            self._token_provider.invalidate()
            response = await self._post(url, activity, attempts or self.attempts)
        if not 200 <= response.status_code < 300:
            raise DeliveryError(
                f"connector answered {response.status_code}",
                platform_status=response.status_code,
                detail=response.text[:300],
            )
        try:
            body = response.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    async def _post(self, url: str, activity: dict[str, Any], attempts: int) -> httpx.Response:
        headers = await self._headers()
        try:
            return await send_with_retry(
                self._client(),
                "POST",
                url,
                json=activity,
                headers=headers,
                attempts=attempts,
                describe=f"{activity.get('type')} activity to {url}",
            )
        except httpx.HTTPError as error:
            raise DeliveryError(f"connector unreachable ({type(error).__name__})") from None
