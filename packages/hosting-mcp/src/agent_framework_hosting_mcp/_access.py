"""Who may call the endpoint: browser origins (DNS-rebinding defence) and the bearer key (pure checks)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agent_framework_hosting.http import secrets_equal
from starlette.responses import JSONResponse

INVALID_REQUEST = -32600
INTERNAL_ERROR = -32603
LOOPBACK_ORIGINS: tuple[str, ...] = ("http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*")


def origin_allowed(origin: str | None, allowed: Sequence[str]) -> bool:
    """No Origin (a non-browser client) passes; a browser's must match an entry (``scheme://host:*`` = any port)."""
    if origin is None:
        return True
    for pattern in allowed:
        if pattern == "*" or origin == pattern:
            return True
        if pattern.endswith(":*"):
            base = pattern[:-2]
            if origin == base or (origin.startswith(base + ":") and origin[len(base) + 1 :].isdigit()):
                return True
    return False


def bearer_of(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@dataclass(frozen=True)
class Refusal:
    """An HTTP refusal with a JSON-RPC error body (the request never reaches the MCP server)."""

    status: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    code: int = INVALID_REQUEST

    def response(self) -> JSONResponse:
        body = {"jsonrpc": "2.0", "id": None, "error": {"code": self.code, "message": self.message}}
        return JSONResponse(body, status_code=self.status, headers=self.headers or None)


def check_origin(origin: str | None, allowed: Sequence[str]) -> Refusal | None:
    return None if origin_allowed(origin, allowed) else Refusal(403, "origin not allowed")


def key_refusal() -> Refusal:
    return Refusal(401, "authentication required: Authorization: Bearer <key>", {"www-authenticate": "Bearer"})


def has_key(authorization: str | None, api_key: str | None) -> bool:
    return api_key is not None and secrets_equal(bearer_of(authorization), api_key)
