"""A fake Telegram Bot API (a real HTTP server on 127.0.0.1) and helpers to run a bot against it."""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from agent_framework import Agent
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting.testing import OfflineChatClient, running_server
from agent_framework_hosting_telegram import TelegramChannel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN = "123456:TEST-secret-token_value"
BOT_ID = "123456"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

_ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "tg-spoiler",
    "blockquote",
}
_HTML_TOKEN = re.compile(
    r'<(/?)([A-Za-z-]+)((?:\s+[A-Za-z-]+="[^"<>]*")*)\s*>'
    r"|&(lt|gt|amp|quot|#[0-9]+|#x[0-9A-Fa-f]+);"
    r"|([<>&])"
    r"|([^<>&]+)"
)
_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def telegram_parse_html(text: str) -> str:
    """Parse text the way Telegram's HTML mode does (strictly); return the visible text or raise ValueError."""
    visible: list[str] = []
    stack: list[str] = []
    position = 0
    for match in _HTML_TOKEN.finditer(text):
        if match.start() != position:
            raise ValueError(f"unparsable input at {position}")
        position = match.end()
        closing, tag, attributes, entity, stray, plain = match.groups()
        if plain is not None:
            visible.append(plain)
        elif stray is not None:
            raise ValueError(f"unescaped {stray!r}")
        elif entity is not None:
            visible.append(
                _ENTITIES.get(entity) or chr(int(entity[2:], 16) if entity[1:2] in "xX" else int(entity[1:]))
            )
        else:
            name = tag.lower()
            if name not in _ALLOWED_TAGS:
                raise ValueError(f"unsupported tag <{name}>")
            if closing:
                if attributes or not stack or stack[-1] != name:
                    raise ValueError(f"unexpected </{name}>")
                stack.pop()
                continue
            if stack and stack[-1] == "code" or (stack and stack[-1] == "pre" and name != "code"):
                raise ValueError(f"<{name}> inside a code entity")
            attrs = dict(re.findall(r'([A-Za-z-]+)="([^"]*)"', attributes or ""))
            if name == "a" and set(attrs) != {"href"}:
                raise ValueError("<a> needs exactly href")
            if name == "code" and (
                set(attrs) - {"class"} or not attrs.get("class", "language-x").startswith("language-")
            ):
                raise ValueError("bad <code> attributes")
            if name not in ("a", "code") and attrs:
                raise ValueError(f"<{name}> takes no attributes")
            stack.append(name)
    if position != len(text):
        raise ValueError("trailing input")
    if stack:
        raise ValueError(f"unclosed <{stack[-1]}>")
    return "".join(visible)


_DRAFT_FIELDS = {"chat_id", "message_thread_id", "draft_id", "text", "parse_mode", "entities"}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Call:
    method: str
    payload: dict[str, Any]
    at: float


@dataclass
class Failure:
    status: int
    body: dict[str, Any]


@dataclass
class FakeBotApi:
    """Records every call; answers like Telegram; can be told to fail the next calls of a method."""

    token: str = TOKEN
    calls: list[Call] = field(default_factory=list)
    url: str = ""
    username: str = "echo_bot"

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, deque[Failure]] = {}
        self._pending: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.offsets: list[int | None] = []
        self.drafts: dict[tuple[int, int], list[str]] = {}  # (chat, draft_id) -> visible text of each update
        self.refuse_drafts: int | None = None  # an HTTP status: answer every sendMessageDraft with it
        self._ids = itertools.count(1000)
        self.app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._method, methods=["POST"]),
                Route("/file/bot{token}/{file_path:path}", self._file, methods=["GET"]),
            ]
        )

    # test controls

    def fail(self, method: str, kind: str, *, times: int = 1, retry_after: int = 1) -> None:
        bodies = {
            "429": Failure(
                429,
                {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {retry_after}",
                    "parameters": {"retry_after": retry_after},
                },
            ),
            "entities": Failure(
                400,
                {
                    "ok": False,
                    "error_code": 400,
                    "description": "Bad Request: can't parse entities: Unsupported start tag",
                },
            ),
            "5xx": Failure(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}),
            "unauthorized": Failure(401, {"ok": False, "error_code": 401, "description": "Unauthorized"}),
            "blocked": Failure(
                403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
            ),
            "not_modified": Failure(
                400, {"ok": False, "error_code": 400, "description": "Bad Request: message is not modified"}
            ),
        }
        with self._lock:
            self._failures.setdefault(method, deque()).extend([bodies[kind]] * times)

    def push_update(self, update: dict[str, Any]) -> None:
        with self._lock:
            self._pending.append(update)

    def pending_ids(self) -> list[int]:
        with self._lock:
            return [u["update_id"] for u in self._pending]

    def of(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [call.payload for call in self.calls if call.method == method]

    def timed(self, method: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def sent_texts(self, chat_id: int | None = None) -> list[str]:
        """Visible text of every delivered sendMessage, in order."""
        with self._lock:
            return [
                message["visible"]
                for (chat, _), message in sorted(self.messages.items(), key=lambda item: item[1]["seq"])
                if chat_id is None or chat == chat_id
            ]

    def current(self, chat_id: int) -> list[dict[str, Any]]:
        """The chat's bot messages as they look now (after edits), in order."""
        with self._lock:
            return [
                m for (chat, _), m in sorted(self.messages.items(), key=lambda item: item[1]["seq"]) if chat == chat_id
            ]

    # the Bot API

    async def _method(self, request: Request) -> Response:
        token, method = request.path_params["token"], request.path_params["method"]
        if token != self.token:
            return JSONResponse({"ok": False, "error_code": 401, "description": "Unauthorized"}, status_code=401)
        try:
            payload = await request.json()
        except ValueError:
            payload = {}
        with self._lock:
            self.calls.append(Call(method, payload, time.monotonic()))
            queue = self._failures.get(method)
            failure = queue.popleft() if queue else None
        if failure is not None:
            return JSONResponse(failure.body, status_code=failure.status)
        if method == "getUpdates":
            return await self._get_updates(payload, request)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return JSONResponse({"ok": True, "result": True})
        return await handler(payload)

    def _error(self, description: str, code: int = 400) -> JSONResponse:
        return JSONResponse({"ok": False, "error_code": code, "description": description}, status_code=code)

    def _visible(self, payload: dict[str, Any]) -> str:
        text = payload.get("text")
        if not isinstance(text, str):
            raise ValueError("Bad Request: message text is empty")
        if payload.get("parse_mode") == "HTML":
            try:
                text = telegram_parse_html(text)
            except ValueError as error:
                raise ValueError(f"Bad Request: can't parse entities: {error}") from None
        if not text.strip():
            raise ValueError("Bad Request: message text is empty")
        if utf16_len(text) > 4096:
            raise ValueError("Bad Request: message is too long")
        return text

    async def _api_getMe(self, payload: dict[str, Any]) -> Response:
        return JSONResponse(
            {"ok": True, "result": {"id": int(BOT_ID), "is_bot": True, "first_name": "Echo", "username": self.username}}
        )

    async def _api_sendMessage(self, payload: dict[str, Any]) -> Response:
        try:
            visible = self._visible(payload)
        except ValueError as error:
            return self._error(str(error))
        chat_id = payload["chat_id"]
        message_id = next(self._ids)
        with self._lock:
            self.messages[(chat_id, message_id)] = {
                "text": payload["text"], "parse_mode": payload.get("parse_mode"), "visible": visible, "seq": message_id,
            }  # fmt: skip
        return JSONResponse(
            {
                "ok": True,
                "result": {
                    "message_id": message_id,
                    "date": 0,
                    "chat": {"id": chat_id, "type": "private"},
                    "text": visible,
                },
            }
        )

    async def _api_editMessageText(self, payload: dict[str, Any]) -> Response:
        key = (payload.get("chat_id"), payload.get("message_id"))
        with self._lock:
            existing = self.messages.get(key)  # type: ignore[arg-type]
        if existing is None:
            return self._error("Bad Request: message to edit not found")
        try:
            visible = self._visible(payload)
        except ValueError as error:
            return self._error(str(error))
        if existing["text"] == payload["text"] and existing["parse_mode"] == payload.get("parse_mode"):
            return self._error("Bad Request: message is not modified: specified new message content is the same")
        with self._lock:
            existing.update(text=payload["text"], parse_mode=payload.get("parse_mode"), visible=visible)
        return JSONResponse(
            {"ok": True, "result": {"message_id": key[1], "date": 0, "chat": {"id": key[0], "type": "private"}}}
        )

    async def _api_sendMessageDraft(self, payload: dict[str, Any]) -> Response:
        if self.refuse_drafts is not None:
            description = {404: "Not Found", 403: "Forbidden: bot was blocked by the user"}.get(
                self.refuse_drafts, "Bad Request: method not available"
            )
            return self._error(description, self.refuse_drafts)
        unknown = set(payload) - _DRAFT_FIELDS
        if unknown:
            return self._error(f"Bad Request: unexpected parameters {sorted(unknown)}")
        chat_id, draft_id = payload.get("chat_id"), payload.get("draft_id")
        if not _is_int(chat_id) or chat_id <= 0:  # type: ignore[operator]
            return self._error("Bad Request: drafts can be sent only to private chats")
        if not _is_int(draft_id) or draft_id == 0:
            return self._error("Bad Request: draft_id must be a non-zero integer")
        if "parse_mode" in payload and payload["parse_mode"] not in ("HTML", "MarkdownV2", "Markdown"):
            return self._error("Bad Request: unsupported parse_mode")
        thread = payload.get("message_thread_id")
        if thread is not None and not _is_int(thread):
            return self._error("Bad Request: message_thread_id must be an integer")
        try:
            visible = self._visible(payload)
        except ValueError as error:
            return self._error(str(error))
        with self._lock:
            self.drafts.setdefault((chat_id, draft_id), []).append(visible)  # type: ignore[arg-type]
        return JSONResponse({"ok": True, "result": True})

    async def _api_deleteMessage(self, payload: dict[str, Any]) -> Response:
        with self._lock:
            self.messages.pop((payload.get("chat_id"), payload.get("message_id")), None)  # type: ignore[arg-type]
        return JSONResponse({"ok": True, "result": True})

    async def _get_updates(self, payload: dict[str, Any], request: Request) -> Response:
        offset = payload.get("offset")
        timeout = float(payload.get("timeout") or 0)
        with self._lock:
            self.offsets.append(offset)
            if offset is not None:
                self._pending = [u for u in self._pending if u["update_id"] >= offset]
        deadline = time.monotonic() + min(timeout, 5.0)
        while True:
            with self._lock:
                ready = [u for u in self._pending if offset is None or u["update_id"] >= offset][
                    : payload.get("limit", 100)
                ]
            if ready or time.monotonic() >= deadline or await request.is_disconnected():
                return JSONResponse({"ok": True, "result": ready})
            await asyncio.sleep(0.02)

    async def _api_getFile(self, payload: dict[str, Any]) -> Response:
        file_id = payload.get("file_id")
        if file_id not in self.files:
            return self._error("Bad Request: invalid file_id")
        return JSONResponse(
            {
                "ok": True,
                "result": {"file_id": file_id, "file_unique_id": "u" + file_id, "file_path": f"photos/{file_id}.jpg"},
            }
        )

    async def _file(self, request: Request) -> Response:
        if request.path_params["token"] != self.token:
            return Response(status_code=401)
        file_id = request.path_params["file_path"].removeprefix("photos/").removesuffix(".jpg")
        data = self.files.get(file_id)
        return Response(data, media_type="image/jpeg") if data is not None else Response(status_code=404)


def message_update(
    update_id: int,
    text: str | None = "hello",
    *,
    chat_id: int = 42,
    user_id: int = 7,
    chat_type: str = "private",
    **extra: Any,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": update_id + 500,
        "date": 1_700_000_000,
        "chat": {"id": chat_id, "type": chat_type},
        "from": {"id": user_id, "is_bot": False, "first_name": "Ada", "username": "ada"},
        **extra,
    }
    if text is not None:
        message["text"] = text
    return {"update_id": update_id, "message": message}


@dataclass
class Bot:
    url: str
    channel: TelegramChannel
    host: AgentFrameworkHost
    client: OfflineChatClient
    fake: FakeBotApi

    @property
    def webhook(self) -> str:
        return self.url + self.channel.path

    def headers(self, secret: str | None = None) -> dict[str, str]:
        return {SECRET_HEADER: secret if secret is not None else self.channel.webhook_secret}


@contextmanager
def serve_bot(
    fake: FakeBotApi,
    *,
    client: OfflineChatClient | None = None,
    host_kwargs: dict[str, Any] | None = None,
    **channel_kwargs: Any,
) -> Iterator[Bot]:
    client = client or OfflineChatClient()
    channel_kwargs.setdefault("api_base", fake.url)
    channel_kwargs.setdefault("stream", False)
    channel_kwargs.setdefault("polling_timeout", 1)
    channel = TelegramChannel(TOKEN, **channel_kwargs)
    host = AgentFrameworkHost(Agent(client=client, name="echo"), channels=[channel], **(host_kwargs or {}))
    with running_server(host.app) as url:
        yield Bot(url, channel, host, client, fake)
