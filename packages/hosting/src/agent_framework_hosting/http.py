"""Small request helpers shared by channels: capped bodies, JSON parsing, secret checks."""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ._errors import HostingError

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
T = TypeVar("T")
MAX_JSON_DEPTH = 100


class BadRequest(HostingError):
    """The client sent something the channel cannot accept; maps to a 4xx answer."""

    def __init__(
        self, message: str, *, status_code: int = 400, code: str = "invalid_request", param: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.public_message = message
        self.status_code = status_code
        self.code = code
        self.param = param


async def read_body(request: Request, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> bytes:
    """The raw body, refusing (413) anything over `max_bytes` without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BadRequest(f"body exceeds {max_bytes} bytes", status_code=413, code="body_too_large")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise BadRequest(f"body exceeds {max_bytes} bytes", status_code=413, code="body_too_large")
    return bytes(body)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Made once: `json.loads` with an option builds a new decoder on every call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
# Numbers orjson may read differently: 19 digits or more (an integer past 64 bits becomes a float), and `-0`
# (a float -0.0 in builds without its default parser).
_UNSURE_NUMBER = re.compile(rb"[0-9]{19}|-0(?![.eE0-9])")


def parse_json(body: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a request body; refuse (400) invalid JSON (NaN and infinities too), nesting deeper than `max_depth`,
    and unpaired surrogates."""
    payload = _fast_parse(body)
    if payload is _UNREAD:
        try:
            payload = _DECODER.decode(body if isinstance(body, str) else _decoded(body))
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("body is not valid JSON", code="invalid_json") from None
        except RecursionError:
            raise BadRequest(f"body nests deeper than {max_depth} levels", code="invalid_json") from None
    if not _plainly_sound(body, max_depth):
        check_json_tree(payload, max_depth=max_depth)
    return payload


_UNREAD: Any = object()


def _fast_parse(body: bytes | str) -> Any:
    """A UTF-8 body parsed by orjson (a tenth of the standard decoder's cost), else `_UNREAD`.

    Whatever orjson refuses (a byte order mark, UTF-16, a lone surrogate, NaN, 1e400) goes to the standard
    decoder, so a body is accepted or refused exactly as before, with the same result.
    """
    if isinstance(body, str) or _UNSURE_NUMBER.search(body) is not None:
        return _UNREAD
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return _UNREAD


def _decoded(body: bytes) -> str:
    """A JSON body as text, in the encoding JSON's own rules detect (a byte order mark dropped)."""
    return body.decode(json.detect_encoding(body), "surrogatepass")


def _plainly_sound(body: bytes | str, max_depth: int) -> bool:
    """True when the raw text alone proves the parsed tree sound, so the walk can be skipped (the common case).

    ASCII without a ``\\u`` escape cannot hold a lone surrogate, and fewer than `max_depth` brackets in
    all cannot nest `max_depth` deep.
    """
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    # a one-byte search first: most bodies hold no backslash at all, and it is several times faster
    escaped = b"\\" in raw and b"\\u" in raw
    return raw.isascii() and not escaped and raw.count(b"[") + raw.count(b"{") < max_depth


def check_json_tree(payload: Any, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise `BadRequest` when parsed JSON nests too deep or holds a string that is not valid Unicode."""
    pending: list[tuple[Any, int]] = [(payload, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            _check_text(value)
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth >= max_depth:
            raise BadRequest(f"body nests deeper than {max_depth} levels", code="invalid_json")
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(key)
                pending.append((item, depth + 1))
        else:
            pending.extend((item, depth + 1) for item in value)


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(
            "body holds a string that is not valid Unicode (a lone surrogate)", code="invalid_json"
        ) from None


async def read_json_object(request: Request, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> dict[str, Any]:
    return parse_json_object(await read_body(request, max_bytes))


def parse_json_object(body: bytes) -> dict[str, Any]:
    """`parse_json`, refusing (400) anything but an object."""
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise BadRequest("body must be a JSON object", code="invalid_json")
    return payload


def body_text(body: bytes) -> str | None:
    """A request body as text, decoded as `parse_json` decodes it, to keep instead of its parsed tree.

    A channel that acknowledges first keeps thousands of waiting deliveries in a backlog: one string
    each, instead of a tree of dicts the garbage collector walks again and again, and parsed again
    only when the turn runs.
    """
    try:
        return _decoded(body)
    except UnicodeDecodeError:
        return None


def keepable(body: bytes, parsed: T) -> str | T:
    """What an acknowledging channel keeps of a delivery: its body's text (`body_text`), else the parsed payload."""
    text = body_text(body)
    return parsed if text is None else text


def loaded(kept: Any) -> Any:
    """A payload kept by `body_text`, parsed again; anything else (an object kept before, or instead) as it is."""
    return json.loads(kept) if isinstance(kept, str) else kept


class AfterResponse(BackgroundTask):
    """A synchronous `step` run once the response is sent: Starlette's `BackgroundTask` without its check,
    on every response, of whether the function is async (a few percent of a light acknowledgement)."""

    def __init__(self, step: Callable[[], object]) -> None:
        self.step = step

    async def __call__(self) -> None:
        self.step()


def encoded(template: Response, *, background: BackgroundTask | None = None) -> Response:
    """A copy of `template`, a fixed answer built once: a webhook's acknowledgement, sent thousands of times a
    second, skips building the same headers again. The copy has its own header list (a middleware may add)."""
    response = Response.__new__(Response)
    response.status_code = template.status_code
    response.media_type = template.media_type
    response.body = template.body
    response.background = background
    response.raw_headers = list(template.raw_headers)
    return response


_OK = Response(b'{"ok":true}', media_type="application/json")


def json_ok() -> Response:
    """``{"ok":true}`` (200), a webhook's acknowledgement: the bytes `JSONResponse` would send, encoded once."""
    return encoded(_OK)


def json_error(status_code: int, message: str, code: str, **headers: str) -> JSONResponse:
    """Foundry's error shape: ``{"error": {"code", "message"}}``."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status_code, headers=headers or None)


def secrets_equal(given: str | None, expected: str) -> bool:
    """Compare a presented secret in constant time."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
