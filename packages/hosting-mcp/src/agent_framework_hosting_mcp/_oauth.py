"""OAuth 2.1 resource server (MCP authorization): protected-resource metadata (RFC 9728) and token checks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from agent_framework_hosting import HostingError
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.routes import build_resource_metadata_url, create_protected_resource_routes
from pydantic import AnyHttpUrl
from starlette.routing import BaseRoute

from ._access import Refusal

logger = logging.getLogger("agent_framework.hosting.mcp")

JWKS_REFRESH = 300.0
"""Seconds a fetched key set is used before it is fetched again."""
JWKS_RETRY = 30.0
"""An unknown key id fetches the key set again at most this often."""


class VerifierUnavailable(HostingError):
    """The token could not be checked (the authorization server's keys could not be fetched)."""

    status_code = 503
    code = "verifier_unavailable"
    public_message = "the token could not be checked; try again later"


@dataclass(frozen=True)
class OAuthOptions:
    """The endpoint as an OAuth protected resource (MCP authorization).

    `resource` is the endpoint's public URL (the token audience, e.g. ``https://agent.example.com/mcp``);
    `authorization_servers` issue its tokens; a token must carry every scope in `scopes`. `verifier`
    checks tokens (`JWTVerifier` for JWT access tokens, or any `mcp` SDK `TokenVerifier`); without one
    only the channel's `api_key` is accepted, and the metadata still tells clients where to get tokens.
    """

    resource: str
    authorization_servers: Sequence[str]
    scopes: Sequence[str] = ()
    verifier: TokenVerifier | None = None
    resource_name: str | None = None

    def __post_init__(self) -> None:
        if not self.authorization_servers:
            raise ValueError("OAuthOptions needs at least one authorization server")
        AnyHttpUrl(self.resource)
        for server in self.authorization_servers:
            AnyHttpUrl(server)

    @property
    def metadata_url(self) -> str:
        return str(build_resource_metadata_url(AnyHttpUrl(self.resource)))

    def routes(self, default_name: str | None) -> list[BaseRoute]:
        """The metadata document at ``/.well-known/oauth-protected-resource`` plus the resource's path."""
        return list(
            create_protected_resource_routes(
                AnyHttpUrl(self.resource),
                [AnyHttpUrl(server) for server in self.authorization_servers],
                scopes_supported=list(self.scopes) or None,
                resource_name=self.resource_name or default_name,
            )
        )

    def challenge(self, error: str | None = None, description: str | None = None) -> str:
        parts = [f'resource_metadata="{self.metadata_url}"']
        if self.scopes:
            parts.append(f'scope="{" ".join(self.scopes)}"')
        if error:
            parts.insert(0, f'error="{error}"')
            if description:
                parts.insert(1, f'error_description="{description}"')
        return "Bearer " + ", ".join(parts)

    def issued_for_this_resource(self, resource: str | None) -> bool:
        """A token naming another resource is refused (RFC 8707); compared as URLs, a trailing slash aside."""
        if resource is None:
            return True
        try:
            return str(AnyHttpUrl(resource)).removesuffix("/") == str(AnyHttpUrl(self.resource)).removesuffix("/")
        except ValueError:
            return False

    async def check(self, token: str | None) -> Refusal | None:
        """None when `token` may call the endpoint, else the 401/403 with its ``WWW-Authenticate`` challenge."""
        if token is None:
            return Refusal(401, "authentication required", {"www-authenticate": self.challenge()})
        invalid = Refusal(
            401, "invalid or expired token", {"www-authenticate": self.challenge("invalid_token", "invalid token")}
        )
        if self.verifier is None:
            return invalid
        try:
            access = await self.verifier.verify_token(token)
        except VerifierUnavailable:
            return Refusal(VerifierUnavailable.status_code, VerifierUnavailable.public_message, {"retry-after": "5"})
        if access is None or (access.expires_at is not None and access.expires_at < time.time()):
            return invalid
        if not self.issued_for_this_resource(access.resource):
            return invalid
        missing = [scope for scope in self.scopes if scope not in access.scopes]
        if missing:
            challenge = self.challenge("insufficient_scope", f"required scope: {' '.join(self.scopes)}")
            return Refusal(403, "insufficient scope", {"www-authenticate": challenge})
        return None


@dataclass
class JWTVerifier:
    """Checks JWT access tokens (RFC 9068) of an external authorization server.

    The signature against the server's key set (`jwks_url`, fetched and cached), `iss` (when `issuer`
    is given), `aud` (must include `audience`, the resource's URL) and `exp`/`nbf`.
    """

    jwks_url: str
    audience: str
    issuer: str | None = None
    algorithms: Sequence[str] = ("RS256",)
    leeway: float = 30.0
    timeout: float = 10.0
    _keys: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _fetched_at: float = field(default=float("-inf"), init=False, repr=False)
    _lock: asyncio.Lock | None = field(default=None, init=False, repr=False)

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        if header.get("alg") not in self.algorithms:
            return None
        key = await self._key(str(header.get("kid", "")))
        if key is None:
            return None
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(self.algorithms),
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp"]},
            )
        except jwt.PyJWTError:
            return None
        return _access_token(token, claims, self.audience)

    async def _key(self, kid: str) -> Any | None:
        now = time.monotonic()
        if now - self._fetched_at > (JWKS_REFRESH if kid in self._keys else JWKS_RETRY):
            self._lock = self._lock or asyncio.Lock()
            async with self._lock:
                if self._fetched_at < now:
                    await self._fetch()
        if not self._keys:
            raise VerifierUnavailable(f"no keys from {self.jwks_url}")
        if kid in self._keys:
            return self._keys[kid]
        return next(iter(self._keys.values())) if kid == "" and len(self._keys) == 1 else None

    async def _fetch(self) -> None:
        """Fetch the key set; a failure keeps the keys there are (tried again after `JWKS_RETRY`)."""
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as http:
                response = await http.get(self.jwks_url)
                response.raise_for_status()
                keys = jwt.PyJWKSet.from_dict(response.json())
            self._keys = {str(key.key_id or ""): key.key for key in keys.keys}
        except (httpx.HTTPError, ValueError, jwt.PyJWTError):
            logger.warning("mcp: could not fetch the authorization server's keys at %s", self.jwks_url)
        finally:
            self._fetched_at = time.monotonic()


def _access_token(token: str, claims: dict[str, Any], audience: str) -> AccessToken:
    scope = claims.get("scope")
    scopes = scope.split() if isinstance(scope, str) else [str(item) for item in claims.get("scp") or []]
    client = claims.get("client_id") or claims.get("azp") or claims.get("sub") or ""
    expires = claims.get("exp")
    return AccessToken(
        token=token,
        client_id=str(client),
        scopes=scopes,
        expires_at=int(expires) if isinstance(expires, (int, float)) else None,
        resource=audience,
        subject=str(claims["sub"]) if "sub" in claims else None,
        claims=claims,
    )
