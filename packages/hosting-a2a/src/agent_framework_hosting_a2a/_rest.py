"""The HTTP+JSON (REST) binding of A2A v1.0: a2a-sdk's REST routes over the same request handler.

``POST {path}/message:send``, ``/message:stream``, ``GET {path}/tasks/{id}``, ``POST {path}/tasks/{id}:cancel``,
``{path}/tasks/{id}:subscribe``, ``GET {path}/tasks``, ``{path}/tasks/{id}/pushNotificationConfigs[/{configId}]``.
Each call passes the channel's guard first (bearer key, body size), with errors in the binding's own shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from a2a.server.request_handlers.request_handler import RequestHandler
from a2a.server.routes.rest_routes import create_rest_routes
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

Endpoint = Callable[[Request], Awaitable[Response]]
Guard = Callable[[Request, Endpoint], Awaitable[Response]]
STATUS = {401: "UNAUTHENTICATED", 413: "INVALID_ARGUMENT", 400: "INVALID_ARGUMENT"}


def rest_error(status_code: int, message: str, **headers: str) -> JSONResponse:
    """An error in the HTTP+JSON binding's shape (``{"error": {"code", "status", "message"}}``)."""
    body = {"error": {"code": status_code, "status": STATUS.get(status_code, "INVALID_ARGUMENT"), "message": message}}
    return JSONResponse(body, status_code=status_code, headers=headers or None)


def _guarded(endpoint: Endpoint, guard: Guard) -> Endpoint:
    async def call(request: Request) -> Response:
        return await guard(request, endpoint)

    return call


def rest_routes(handler: RequestHandler, guard: Guard) -> list[BaseRoute]:
    """The v1.0 REST routes (tenant-less: the host serves one agent), each behind `guard`."""
    return [
        Route(route.path, _guarded(route.endpoint, guard), methods=sorted(route.methods or ()))
        for route in create_rest_routes(handler)
        if isinstance(route, Route)
    ]
