"""Foundry's isolation headers, trusted only inside a Foundry-hosted container."""

from __future__ import annotations

import os
from contextvars import ContextVar, Token
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

ISOLATION_HEADER_USER = "x-agent-user-isolation-key"
ISOLATION_HEADER_CHAT = "x-agent-chat-isolation-key"
FOUNDRY_ENVIRONMENT_VARIABLE = "FOUNDRY_HOSTING_ENVIRONMENT"


@dataclass(frozen=True)
class IsolationKeys:
    user_key: str | None = None
    chat_key: str | None = None

    @property
    def is_empty(self) -> bool:
        return self.user_key is None and self.chat_key is None


_current: ContextVar[IsolationKeys | None] = ContextVar("agent_framework_hosting_isolation_keys", default=None)


def get_current_isolation_keys() -> IsolationKeys | None:
    return _current.get()


def set_current_isolation_keys(keys: IsolationKeys | None) -> Token[IsolationKeys | None]:
    return _current.set(keys)


def reset_current_isolation_keys(token: Token[IsolationKeys | None]) -> None:
    _current.reset(token)


def foundry_hosted() -> bool:
    return bool(os.environ.get(FOUNDRY_ENVIRONMENT_VARIABLE))


class FoundryIsolationMiddleware:
    """Lifts the isolation headers into `get_current_isolation_keys()` for each request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found: dict[str, str] = {}
        for raw_name, raw_value in scope.get("headers", ()):
            name = raw_name.decode("latin-1").lower()
            if name in (ISOLATION_HEADER_USER, ISOLATION_HEADER_CHAT) and raw_value:
                found[name] = raw_value.decode("latin-1")
        if not found:
            await self.app(scope, receive, send)
            return
        token = _current.set(IsolationKeys(found.get(ISOLATION_HEADER_USER), found.get(ISOLATION_HEADER_CHAT)))
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)
