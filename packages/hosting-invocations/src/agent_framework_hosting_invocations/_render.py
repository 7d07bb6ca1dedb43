"""Pure rendering of invocation answers: JSON bodies, SSE frames, error mapping."""

from __future__ import annotations

import json
from typing import Any

from agent_framework_hosting import HostingError
from agent_framework_hosting.http import BadRequest

from ._parse import INVOCATION_ID_HEADER, SESSION_ID_HEADER

SSE_DONE = b"data: [DONE]\n\n"
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def answer_body(text: str, session_id: str | None) -> dict[str, Any]:
    return {"response": text, "session_id": session_id}


def answer_headers(invocation_id: str, session_id: str | None) -> dict[str, str]:
    headers = {INVOCATION_ID_HEADER: invocation_id}
    if session_id is not None:
        headers[SESSION_ID_HEADER] = session_id
    return headers


def sse_data(payload: Any) -> bytes:
    """One SSE event carrying `payload` as one line of ASCII JSON (no client can split it)."""
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def sse_delta(text: str) -> bytes:
    return sse_data({"delta": text})


def sse_error(code: str, message: str) -> bytes:
    payload = json.dumps({"error": {"code": code, "message": message}}, separators=(",", ":"))
    return b"event: error\ndata: " + payload.encode() + b"\n\n"


def failure(error: BaseException, *, invocation_id: str) -> tuple[int, str, str]:
    """(status, code, message) for an error; never the error's own text unless the client caused it."""
    if isinstance(error, BadRequest):
        return error.status_code, error.code, error.message
    if isinstance(error, HostingError):
        return error.status_code, error.code, error.public_message
    return 500, "server_error", f"the agent failed to answer; the server log has details for invocation {invocation_id}"
