"""Push notifications: per-task webhook configs in the host's state, and their delivery.

Configs live in namespace ``a2a_push``, one record per task (``{"version": n, "configs": {id: config}}``,
compare-and-set on ``version``), so reading a task's configs costs one lookup. A notification is POSTed
as the A2A `StreamResponse` JSON of the event, with the config's token (``X-A2A-Notification-Token``) and
authentication (``Authorization: <scheme> <credentials>``); one that fails goes to the host's durable outbox
(retried with backoff, then a dead letter). URLs must be http(s); by default a host that resolves to a private,
loopback, link-local or otherwise non-public address is refused (SSRF), checked when the config is created and
again before every delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from a2a.types import InvalidParamsError, TaskPushNotificationConfig
from a2a.utils.push_url_validator import validate_push_notification_url
from agent_framework_hosting import DeliveryFailed, StateStore
from agent_framework_hosting.outbound import send_with_retry
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError

logger = logging.getLogger("agent_framework.hosting.a2a")

PUSH = "a2a_push"
MAX_CONFIGS = 16


@dataclass(frozen=True)
class PushOptions:
    """Where push notifications may go.

    `allowed_hosts`: when not empty, only these host names (exact, case-insensitive) may receive them.
    `allow_private_addresses`: skip the refusal of hosts resolving to private, loopback or link-local
    addresses (a trusted network; tests on 127.0.0.1). `timeout`: seconds per delivery attempt.
    """

    allowed_hosts: Sequence[str] = ()
    allow_private_addresses: bool = False
    timeout: float = 10.0


async def refusal(url: str, options: PushOptions) -> str | None:
    """Why `url` may not receive notifications, or None when it may."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "the URL does not parse"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "the URL must be http(s) with a host"
    if options.allowed_hosts and parts.hostname.lower() not in {host.lower() for host in options.allowed_hosts}:
        return f"host {parts.hostname} is not in the server's allow-list"
    if not options.allow_private_addresses and not await validate_push_notification_url(url):
        return f"host {parts.hostname} does not resolve to a public address"
    return None


def _parse(value: Any) -> TaskPushNotificationConfig | None:
    try:
        config: TaskPushNotificationConfig = ParseDict(value, TaskPushNotificationConfig(), ignore_unknown_fields=True)
    except (ParseError, TypeError, ValueError):
        return None
    return config


class PushConfigs:
    """The push notification configs of each task."""

    def __init__(self, state: StateStore, *, ttl: float | None) -> None:
        self.state = state
        self.ttl = ttl

    async def all(self, task_id: str) -> list[TaskPushNotificationConfig]:
        record = await self.state.get(PUSH, task_id) if task_id else None
        configs = record.get("configs") if isinstance(record, dict) else None
        if not isinstance(configs, dict):
            return []
        parsed = (_parse(value) for _, value in sorted(configs.items()))
        return [config for config in parsed if config is not None]

    async def _change(self, task_id: str, config_id: str, value: dict[str, Any] | None) -> bool:
        """Set (or with None, remove) one config; False when removing one that is not there."""
        for _ in range(10):
            record = await self.state.get(PUSH, task_id)
            if not isinstance(record, dict):
                if value is None:
                    return False
                if await self.state.add(PUSH, task_id, {"version": 1, "configs": {config_id: value}}, ttl=self.ttl):
                    return True
                continue
            configs = dict(record.get("configs") or {})
            if value is None and configs.pop(config_id, None) is None:
                return False
            if value is not None:
                if config_id not in configs and len(configs) >= MAX_CONFIGS:
                    raise InvalidParamsError(message=f"a task takes at most {MAX_CONFIGS} push notification configs")
                configs[config_id] = value
            version = int(record.get("version", 0))
            changed = {"version": version + 1, "configs": configs}
            if await self.state.replace(PUSH, task_id, changed, match={"version": str(version)}, ttl=self.ttl):
                return True
        raise InvalidParamsError(message="the task's push notification configs are changing too fast; try again")

    async def put(self, config: TaskPushNotificationConfig) -> None:
        await self._change(config.task_id, config.id, MessageToDict(config))

    async def delete(self, task_id: str, config_id: str) -> bool:
        return await self._change(task_id, config_id, None)


def destination(config: TaskPushNotificationConfig) -> dict[str, str]:
    """Where and how to deliver (JSON for the outbox): the URL and the headers the config asks for."""
    headers = {}
    if config.token:
        headers["X-A2A-Notification-Token"] = config.token
    if config.HasField("authentication") and config.authentication.scheme and config.authentication.credentials:
        headers["Authorization"] = f"{config.authentication.scheme} {config.authentication.credentials}"
    return {"url": config.url, **{f"header:{name}": value for name, value in headers.items()}}


class PushSender:
    """POSTs notifications; raises `DeliveryFailed` (permanent for a refusal or a 4xx) so the outbox can retry."""

    def __init__(self, options: PushOptions) -> None:
        self.options = options
        self.client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self.client = httpx.AsyncClient(timeout=self.options.timeout, follow_redirects=False)

    async def stop(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            await client.aclose()

    async def resend(self, destination: Any, payload: Any) -> None:
        if not isinstance(destination, dict) or not isinstance(destination.get("url"), str):
            raise DeliveryFailed("not a push notification destination", permanent=True)
        url = destination["url"]
        reason = await refusal(url, self.options)
        if reason is not None:
            raise DeliveryFailed(f"push notification refused: {reason}", permanent=True)
        if self.client is None:
            raise DeliveryFailed("the server is not running")
        headers = {key[len("header:") :]: str(value) for key, value in destination.items() if key.startswith("header:")}
        try:
            response = await send_with_retry(
                self.client, "POST", url, attempts=2, json=payload, headers=headers, describe="a2a push notification"
            )
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            raise DeliveryFailed(f"push notification failed: {type(error).__name__}") from error
        if response.status_code == 429 or response.status_code >= 500:
            raise DeliveryFailed(f"push notification answered {response.status_code}")
        if response.status_code >= 300:
            raise DeliveryFailed(f"push notification refused with {response.status_code}", permanent=True)
