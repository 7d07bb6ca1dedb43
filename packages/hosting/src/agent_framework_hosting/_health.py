"""`/liveness` (the process answers) and `/readiness` (what it depends on is reachable)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

DEFAULT_PROBE_TIMEOUT = 2.0


async def liveness(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Health:
    """What is down right now: components reported by channels, and the state store when it does not answer."""

    def __init__(self, state: Any, *, timeout: float = DEFAULT_PROBE_TIMEOUT) -> None:
        self._state = state
        self.timeout = timeout
        self._problems: dict[str, str] = {}

    def report(self, component: str, problem: str | None) -> None:
        """Mark `component` (e.g. ``"channel:telegram"``) down for `problem`, or up again with None."""
        if problem is None:
            self._problems.pop(component, None)
        else:
            self._problems[component] = problem

    async def down(self) -> dict[str, str]:
        found = dict(self._problems)
        ping = getattr(self._state, "ping", None)
        if callable(ping):
            try:
                await asyncio.wait_for(ping(), self.timeout)
            except asyncio.TimeoutError:
                found["state"] = f"the state store did not answer within {self.timeout:g} s"
            except Exception as error:
                found["state"] = _one_line(error)
        return found

    async def readiness(self, request: Request) -> Response:
        down = await self.down()
        if not down:
            return PlainTextResponse("ok")
        return JSONResponse({"status": "unavailable", "down": down}, status_code=503)
