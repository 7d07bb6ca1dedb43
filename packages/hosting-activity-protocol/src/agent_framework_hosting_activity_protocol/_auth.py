"""Inbound authentication: which issuers are trusted and where each one's signing keys come from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from ._jwt import (
    BOT_FRAMEWORK_ISSUER,
    TokenRejected,
    check_endorsement,
    check_service_url,
    read_header,
    verify_token,
)
from ._keys import OpenIdKeys
from ._tokens import VerifiedTokens

BOT_FRAMEWORK_METADATA_URL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
BOT_FRAMEWORK_TENANT = "botframework.com"


def entra_metadata_url(tenant_id: str) -> str:
    return f"https://login.microsoftonline.com/{tenant_id}/v2.0/.well-known/openid-configuration"


def entra_issuers(tenant_id: str) -> tuple[str, str]:
    """The v1 and v2 issuers of Entra ID tokens for one tenant."""
    return f"https://sts.windows.net/{tenant_id}/", f"https://login.microsoftonline.com/{tenant_id}/v2.0"


def default_issuers(tenant_id: str | None) -> tuple[str, ...]:
    """Bot Framework's issuer, plus the tenant's Entra issuers for a single-tenant bot."""
    if not tenant_id or tenant_id.lower() in (BOT_FRAMEWORK_TENANT, "common", "organizations"):
        return (BOT_FRAMEWORK_ISSUER,)
    return (BOT_FRAMEWORK_ISSUER, *entra_issuers(tenant_id))


class Authenticator:
    """Validates Bot Connector bearer tokens for one app id.

    The token's (unverified) issuer picks the key source: Bot Framework's own
    metadata for `https://api.botframework.com`, the Entra metadata for every
    other trusted issuer. The verified claims are then checked again in full.
    A verified token is remembered until its `exp` (`VerifiedTokens`), since the
    connector sends the same token for about an hour.
    """

    def __init__(
        self,
        *,
        app_id: str,
        issuers: Iterable[str],
        bot_framework_keys: OpenIdKeys,
        entra_keys: OpenIdKeys,
    ) -> None:
        self.app_id = app_id
        self.issuers = frozenset(issuers)
        self.verified = VerifiedTokens()
        self._sources: Mapping[str, OpenIdKeys] = {
            issuer: bot_framework_keys if issuer == BOT_FRAMEWORK_ISSUER else entra_keys for issuer in self.issuers
        }

    async def authenticate(
        self, client: httpx.AsyncClient, token: str, *, channel_id: str | None, service_url: str | None
    ) -> dict[str, Any]:
        """The verified claims; raises `TokenRejected`, or `KeysUnavailable` when keys cannot be loaded."""
        verified = self.verified.get(token)
        header = read_header(token) if verified is None else verified.header
        source = self._sources.get(header.issuer)
        if source is None:
            raise TokenRejected("token issuer is not trusted")
        key = await source.get(client, header.kid)
        if key is None:
            self.verified.forget(token)
            raise TokenRejected("token is signed by an unknown key")
        check_endorsement(key, channel_id)
        if verified is not None and verified.key is key:
            claims = verified.claims
        else:  # first seen, or its key was refreshed since: verify in full
            claims = verify_token(token, key, audience=self.app_id, issuers=self.issuers)
            self.verified.put(token, header, key, claims)
        check_service_url(claims, service_url)
        return claims
