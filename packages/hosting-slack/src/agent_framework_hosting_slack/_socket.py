"""Socket Mode: Slack delivers over a websocket the app opens (no public URL), through slack_sdk's client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ._api import SDK_LOGGER, SlackApiError

logger = logging.getLogger("agent_framework.hosting.slack")

# An envelope handler returns the acknowledgement's payload (None: an empty ack), or raises to leave the
# envelope unacknowledged so Slack delivers it again.
EnvelopeHandler = Callable[[str, Any, int, str | None], Awaitable["dict[str, Any] | None"]]


class SocketModeRunner:
    """Connects with the app-level token, hands each envelope to `handler`, and acknowledges it by envelope id."""

    def __init__(
        self,
        app_token: str,
        api_base: str,
        handler: EnvelopeHandler,
        *,
        ping_interval: float = 10.0,
        connect_timeout: float = 30.0,
    ) -> None:
        if not app_token.startswith("xapp-"):
            raise ValueError("app_token must be an app-level token (xapp-...) with the connections:write scope")
        self._app_token = app_token
        self._api_base = api_base.rstrip("/") + "/"
        self._handler = handler
        self._ping_interval = ping_interval
        self.connect_timeout = connect_timeout
        self._client: Any = None

    @property
    def connected(self) -> bool:
        return self._client is not None and not self._client.closed

    async def start(self) -> None:
        from slack_sdk.socket_mode.aiohttp import SocketModeClient
        from slack_sdk.web.async_client import AsyncWebClient

        sdk_logger = logging.getLogger(SDK_LOGGER)
        web = AsyncWebClient(base_url=self._api_base, logger=sdk_logger)
        client: Any = SocketModeClient(
            self._app_token, web_client=web, logger=sdk_logger, ping_interval=self._ping_interval
        )
        client.socket_mode_request_listeners.append(self._on_request)
        self._client = client
        try:
            # Open the first connection URL here, so a refused app token fails startup instead of retrying forever.
            client.wss_uri = await self._open_url(web)
            await asyncio.wait_for(client.connect(), self.connect_timeout)
        except BaseException:
            await self.stop()
            raise
        logger.info("slack: connected in Socket Mode")

    async def _open_url(self, web: Any) -> str:
        from slack_sdk.errors import SlackApiError as SdkError

        try:
            answer = await web.apps_connections_open(app_token=self._app_token)
        except SdkError as error:
            code = error.response.get("error") if hasattr(error.response, "get") else None
            raise SlackApiError("apps.connections.open", str(code or "request_failed")) from None
        url = answer.get("url")
        if not isinstance(url, str):
            raise SlackApiError("apps.connections.open", "no url in the answer")
        return url

    async def stop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def _on_request(self, client: Any, request: Any) -> None:
        from slack_sdk.socket_mode.response import SocketModeResponse

        try:
            payload = await self._handler(
                request.type, request.payload, int(request.retry_attempt or 0), request.retry_reason or None
            )
        except Exception as error:
            logger.warning("slack: envelope %s not acknowledged (%s); Slack will send it again", request.envelope_id,
                           type(error).__name__)  # fmt: skip
            return
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id, payload=payload))
