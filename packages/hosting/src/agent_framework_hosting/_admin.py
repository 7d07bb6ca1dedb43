"""`POST /admin/deliver`: proactive delivery from outside the process, off unless an admin token is set.

Body: ``{"to": KEY | [KEY, ...], "text": "...", "run": false, "idempotency_key": null}``.
``run: true`` runs an agent-initiated turn with `text` as the prompt and delivers its
answer (one destination). The answer lists one result per destination.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._errors import HostingError
from .http import BadRequest, bearer_token, json_error, read_json_object, secrets_equal

if TYPE_CHECKING:
    from ._host import AgentFrameworkHost

ADMIN_DELIVER_PATH = "/admin/deliver"
MAX_DESTINATIONS = 1000


def _destinations(body: dict[str, Any]) -> list[str]:
    to = body.get("to")
    keys = [to] if isinstance(to, str) else to
    if not isinstance(keys, list) or not keys or not all(isinstance(key, str) and key for key in keys):
        raise BadRequest("'to' must be an isolation key or a non-empty list of them", code="invalid_destination")
    if len(keys) > MAX_DESTINATIONS:
        raise BadRequest(f"at most {MAX_DESTINATIONS} destinations per request", code="invalid_destination")
    return keys


def admin_routes(host: AgentFrameworkHost, token: str) -> list[Route]:
    async def deliver(request: Request) -> Response:
        if not secrets_equal(bearer_token(request), token):
            return json_error(401, "a valid admin bearer token is required", "unauthorized")
        try:
            body = await read_json_object(request)
            keys = _destinations(body)
            text, run, idempotency_key = body.get("text"), body.get("run", False), body.get("idempotency_key")
            if not isinstance(text, str) or not text.strip():
                raise BadRequest("'text' must be a non-empty string", code="invalid_text")
            if not isinstance(run, bool) or (idempotency_key is not None and not isinstance(idempotency_key, str)):
                raise BadRequest("'run' must be a boolean and 'idempotency_key' a string", code="invalid_request")
            if run and len(keys) != 1:
                raise BadRequest("'run' delivers to exactly one destination", code="invalid_destination")
        except BadRequest as error:
            return json_error(error.status_code, error.message, error.code)
        if run:
            try:
                result = await host.run_and_deliver(keys[0], text, idempotency_key=idempotency_key)
            except HostingError as error:
                return json_error(error.status_code, str(error) or error.public_message, error.code)
            return JSONResponse({"results": [{"key": keys[0], "delivered": True, "text": result.text}]})
        results = await host.proactive.deliver_many(keys, text, idempotency_key=idempotency_key)
        status = 200 if all(result.delivered for result in results) else 207
        return JSONResponse({"results": [result.to_dict() for result in results]}, status_code=status)

    return [Route(ADMIN_DELIVER_PATH, deliver, methods=["POST"])]
