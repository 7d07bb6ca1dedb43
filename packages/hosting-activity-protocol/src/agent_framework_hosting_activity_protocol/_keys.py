"""Signing keys from an OpenID metadata document: cached, refreshed on an unknown `kid` (rate limited)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import httpx
from agent_framework_hosting import PlatformError

from ._jwt import SigningKey, parse_jwks

logger = logging.getLogger("agent_framework.hosting.activity")

KEYS_TTL_SECONDS = 24 * 3600.0
UNKNOWN_KID_REFRESH_SECONDS = 60.0


class KeysUnavailable(PlatformError):
    """The OpenID metadata or its JWKS could not be fetched and no keys are cached."""

    status_code = 503
    code = "keys_unavailable"
    public_message = "signing keys are unavailable"


class OpenIdKeys:
    """The JWKS named by one OpenID metadata document.

    Keys are kept for `ttl` seconds. A `kid` that is not cached triggers one
    refetch, at most once per `refresh_interval`, so forged kids cannot make
    the host hammer the metadata endpoint.
    """

    def __init__(
        self,
        metadata_url: str,
        *,
        ttl: float = KEYS_TTL_SECONDS,
        refresh_interval: float = UNKNOWN_KID_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metadata_url = metadata_url
        self.ttl = ttl
        self.refresh_interval = refresh_interval
        self._clock = clock
        self._keys: dict[str, SigningKey] | None = None
        self._fetched_at = float("-inf")
        self._forced_at = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self, client: httpx.AsyncClient, kid: str) -> SigningKey | None:
        """The key named `kid`, or None when the metadata does not list it."""
        keys = self._keys
        if keys is not None and kid in keys and self._clock() - self._fetched_at < self.ttl:
            return keys[kid]  # the common case, on every activity: no lock needed to read fresh keys
        async with self._lock:
            if self._keys is None or self._clock() - self._fetched_at >= self.ttl:
                await self._load(client)
            keys = self._keys or {}
            if kid in keys:
                return keys[kid]
            if self._clock() - self._forced_at < self.refresh_interval:
                return None
            self._forced_at = self._clock()
            await self._load(client)
            return (self._keys or {}).get(kid)

    async def _load(self, client: httpx.AsyncClient) -> None:
        try:
            self._keys = await self._fetch(client)
        except (httpx.HTTPError, ValueError) as error:
            if self._keys is None:
                raise KeysUnavailable(f"cannot load signing keys from {self.metadata_url}") from error
            logger.warning("refreshing signing keys from %s failed (%s); keeping cached keys", self.metadata_url, error)
            self._fetched_at = self._clock() - self.ttl + self.refresh_interval
            return
        self._fetched_at = self._clock()

    async def _fetch(self, client: httpx.AsyncClient) -> dict[str, SigningKey]:
        metadata = await client.get(self.metadata_url)
        metadata.raise_for_status()
        document = metadata.json()
        jwks_uri = document.get("jwks_uri") if isinstance(document, dict) else None
        if not isinstance(jwks_uri, str):
            raise ValueError("OpenID metadata has no jwks_uri")
        response = await client.get(jwks_uri)
        response.raise_for_status()
        return parse_jwks(response.json())
