"""A fake Slack: the Web API and Socket Mode's websocket as one real HTTP server on 127.0.0.1.

It records every call, enforces Slack's limits (auth, text lengths, stream state),
and can be scripted to answer 429 (with ``Retry-After``), 5xx or ``ok: false``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from agent_framework_hosting.testing import running_server
from agent_framework_hosting_slack import signature_for
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

BOT_TOKEN = "xoxb-1111-2222-TESTbotTOKENvalue"
APP_TOKEN = "xapp-1-A111-3333-TESTappTOKENvalue"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T0TEAM"
BOT_USER = "U0BOT"
BOT_ID = "B0BOT"
APP_ID = "A0APP"
TEXT_LIMIT = 40_000
MARKDOWN_LIMIT = 12_000
_ts = itertools.count(1)


def next_ts() -> str:
    return f"{1_700_000_000 + next(_ts)}.{next(_ts) % 1_000_000:06d}"


@dataclass
class Call:
    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float


@dataclass
class Scripted:
    method: str
    answers: list[tuple[int, Any, dict[str, str]]]


@dataclass
class Posted:
    """A message as the fake shows it: its text, and for a native stream whether it was stopped."""

    channel: str
    ts: str
    thread_ts: str | None
    text: str
    streamed: bool = False
    stopped: bool = False
    edits: int = 0


@dataclass
class FakeSlack:
    url: str = ""
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], Posted] = field(default_factory=dict)
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    responses: list[dict[str, Any]] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)
    sockets: int = 0
    delays: dict[str, float] = field(default_factory=dict)
    _scripts: list[Scripted] = field(default_factory=list)
    _outgoing: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    # scripting and inspection (test thread)

    def script(self, method: str, *answers: tuple[int, Any] | tuple[int, Any, dict[str, str]]) -> None:
        """The next calls of `method` get these (status, json[, headers]) answers, then normal ones."""
        self._scripts.append(Scripted(method, [(a[0], a[1], a[2] if len(a) > 2 else {}) for a in answers]))

    def delay(self, method: str, seconds: float) -> None:
        self.delays[method] = seconds

    def of(self, method: str) -> list[Call]:
        with self._changed:
            return [call for call in self.calls if call.method == method]

    def wait_for(self, predicate: Callable[[FakeSlack], Any], timeout: float = 15.0, what: str = "calls") -> Any:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                value = predicate(self)
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(c.method, c.body) for c in self.calls]
                    raise AssertionError(f"the fake Slack never saw {what}; it saw {seen!r}")
                self._changed.wait(min(left, 0.05))

    def expect(self, channel: str, thread_ts: str | None, texts: list[str], timeout: float = 20.0) -> None:
        """Wait until the finished messages in a thread (or a DM's top level) are exactly `texts`."""
        try:
            self.wait_for(lambda fake: fake.texts(channel, thread_ts) == texts, timeout=timeout, what=repr(texts))
        except AssertionError:
            seen = self.texts(channel, thread_ts)
            raise AssertionError(f"expected {texts!r} in {channel}/{thread_ts}, saw {seen!r}") from None

    def thread(self, channel: str, thread_ts: str | None) -> list[Posted]:
        """The bot's messages in a thread (or at a channel's top level for None), oldest first."""
        with self._changed:
            return [m for m in self.messages.values() if m.channel == channel and m.thread_ts == thread_ts]

    def texts(self, channel: str, thread_ts: str | None) -> list[str]:
        """The finished messages' texts (a native stream counts once it was stopped)."""
        return [m.text for m in self.thread(channel, thread_ts) if not m.streamed or m.stopped]

    def add_file(self, name: str, data: bytes, mimetype: str) -> dict[str, Any]:
        """Host a private file; returns its ``files[]`` entry as Slack puts it in a message event."""
        self.files[name] = (data, mimetype)
        url = f"{self.url}/files-pri/{TEAM}-F{name}/{name}"
        return {
            "id": f"F{abs(hash(name)) % 10**8}",
            "name": name,
            "mimetype": mimetype,
            "filetype": mimetype.split("/")[-1],
            "size": len(data),
            "url_private": url,
            "url_private_download": url + "?download=1",
        }

    def push_envelope(self, envelope: dict[str, Any]) -> None:
        """Send an envelope to the connected Socket Mode client."""
        self._outgoing.put(envelope)

    # the server (its own thread and loop)

    def _record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def _scripted(self, method: str) -> tuple[int, Any, dict[str, str]] | None:
        with self._changed:
            for scripted in self._scripts:
                if scripted.method == method and scripted.answers:
                    return scripted.answers.pop(0)
        return None

    async def api(self, request: Request) -> Response:
        method = request.path_params["method"]
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            body = json.loads(raw) if raw else {}
        else:
            body = {key: values[0] for key, values in parse_qs(raw.decode(), keep_blank_values=True).items()}
        self._record(Call(method, body, {k.lower(): v for k, v in request.headers.items()}, time.monotonic()))
        if method in self.delays:
            await asyncio.sleep(self.delays[method])
        scripted = self._scripted(method)
        if scripted is not None:
            status, answer, headers = scripted
            return JSONResponse(answer, status_code=status, headers=headers)
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if request.headers.get("authorization") != f"Bearer {expected}":
            return JSONResponse({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return JSONResponse({"ok": False, "error": "unknown_method"})
        return JSONResponse(handler(body))

    def _auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.com/",
            "team": "Fake",
            "user": "bot",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
        }

    def _apps_connections_open(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.url.replace("http://", "ws://") + "/link/?ticket=fake-ticket"}

    def _store(self, posted: Posted) -> None:
        with self._changed:
            self.messages[(posted.channel, posted.ts)] = posted
            self._changed.notify_all()

    def _chat_postMessage(self, body: dict[str, Any]) -> dict[str, Any]:
        text = body.get("text") or body.get("markdown_text") or ""
        if not isinstance(body.get("channel"), str) or not text:
            return {"ok": False, "error": "no_text" if body.get("channel") else "channel_not_found"}
        if len(text) > (MARKDOWN_LIMIT if "markdown_text" in body else TEXT_LIMIT):
            return {"ok": False, "error": "msg_too_long"}
        ts = next_ts()
        self._store(Posted(body["channel"], ts, body.get("thread_ts"), text))
        return {
            "ok": True,
            "channel": body["channel"],
            "ts": ts,
            "message": {"type": "message", "text": text, "user": BOT_USER, "bot_id": BOT_ID, "ts": ts},
        }

    def _chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        key = (body.get("channel"), body.get("ts"))
        text = body.get("text") or body.get("markdown_text") or ""
        with self._changed:
            posted = self.messages.get(key)  # type: ignore[arg-type]
            if posted is None:
                return {"ok": False, "error": "message_not_found"}
            if len(text) > TEXT_LIMIT:
                return {"ok": False, "error": "msg_too_long"}
            posted.text, posted.edits = text, posted.edits + 1
            self._changed.notify_all()
        return {"ok": True, "channel": key[0], "ts": key[1], "text": text}

    def _chat_postEphemeral(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": next_ts()}

    def _chat_startStream(self, body: dict[str, Any]) -> dict[str, Any]:
        channel, thread_ts = body.get("channel"), body.get("thread_ts")
        if not isinstance(channel, str) or not isinstance(thread_ts, str):
            return {"ok": False, "error": "invalid_arguments"}
        if channel[:1] != "D" and not (body.get("recipient_user_id") and body.get("recipient_team_id")):
            return {"ok": False, "error": "missing_recipient_user_id"}
        text = body.get("markdown_text") or ""
        if len(text) > MARKDOWN_LIMIT:
            return {"ok": False, "error": "msg_too_long"}
        ts = next_ts()
        self._store(Posted(channel, ts, thread_ts, text, streamed=True))
        return {"ok": True, "channel": channel, "ts": ts}

    def _stream(self, body: dict[str, Any], *, stop: bool) -> dict[str, Any]:
        text = body.get("markdown_text") or ""
        if len(text) > MARKDOWN_LIMIT:
            return {"ok": False, "error": "msg_too_long"}
        with self._changed:
            posted = self.messages.get((body.get("channel"), body.get("ts")))  # type: ignore[arg-type]
            if posted is None or not posted.streamed:
                return {"ok": False, "error": "message_not_found"}
            if posted.stopped:
                return {"ok": False, "error": "message_not_in_streaming_state"}
            if not text and not stop:
                return {"ok": False, "error": "no_text"}
            posted.text += text
            posted.stopped = stop
            posted.edits += 1
            self._changed.notify_all()
        return {"ok": True, "channel": posted.channel, "ts": posted.ts}

    def _chat_appendStream(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._stream(body, stop=False)

    def _chat_stopStream(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._stream(body, stop=True)

    def _assistant_threads_setStatus(self, body: dict[str, Any]) -> dict[str, Any]:
        ok = isinstance(body.get("channel_id"), str) and isinstance(body.get("thread_ts"), str) and "status" in body
        return {"ok": True} if ok else {"ok": False, "error": "invalid_arguments"}

    def _assistant_threads_setTitle(self, body: dict[str, Any]) -> dict[str, Any]:
        ok = isinstance(body.get("title"), str) and isinstance(body.get("thread_ts"), str)
        return {"ok": True} if ok else {"ok": False, "error": "invalid_arguments"}

    def _assistant_threads_setSuggestedPrompts(self, body: dict[str, Any]) -> dict[str, Any]:
        prompts = body.get("prompts")
        ok = (
            isinstance(prompts, list)
            and 0 < len(prompts) <= 4
            and all("title" in p and "message" in p for p in prompts)
        )
        return {"ok": True} if ok else {"ok": False, "error": "invalid_arguments"}

    async def file(self, request: Request) -> Response:
        name = request.path_params["name"]
        self._record(Call("file", {"name": name}, {k.lower(): v for k, v in request.headers.items()}, time.monotonic()))
        if request.headers.get("authorization") != f"Bearer {BOT_TOKEN}" or name not in self.files:
            return Response("<html>sign in</html>", media_type="text/html")
        data, mimetype = self.files[name]
        return Response(data, media_type=mimetype)

    async def response_url(self, request: Request) -> Response:
        payload = await request.json()
        with self._changed:
            self.responses.append(payload)
            self._changed.notify_all()
        return Response("ok")

    async def link(self, websocket: WebSocket) -> None:
        await websocket.accept()
        with self._changed:
            self.sockets += 1
            self._changed.notify_all()
        await websocket.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "fake"},
                "connection_info": {"app_id": APP_ID},
            }
        )

        async def pump() -> None:
            while True:
                try:
                    envelope = self._outgoing.get_nowait()
                except queue.Empty:
                    await asyncio.sleep(0.01)
                    continue
                await websocket.send_json(envelope)

        sender = asyncio.get_running_loop().create_task(pump())
        try:
            while True:
                message = await websocket.receive_text()
                with self._changed:
                    self.acks.append(json.loads(message))
                    self._changed.notify_all()
        except WebSocketDisconnect:
            pass
        finally:
            sender.cancel()

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/{method}", self.api, methods=["POST", "GET"]),
                Route("/files-pri/{team}/{name}", self.file, methods=["GET"]),
                Route("/respond/{id}", self.response_url, methods=["POST"]),
                WebSocketRoute("/link/", self.link),
            ]
        )


@contextmanager
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    with running_server(fake.app()) as url:
        fake.url = url
        yield fake


# what Slack sends


class Signer:
    """Signs bodies with slack_sdk's own `SignatureVerifier` (the oracle), as Slack signs requests."""

    def __init__(self, secret: str = SIGNING_SECRET) -> None:
        self.secret = secret
        self.oracle = SignatureVerifier(secret)

    def headers(self, body: bytes, timestamp: str | None = None, **extra: str) -> dict[str, str]:
        stamp = timestamp if timestamp is not None else str(int(time.time()))
        try:
            signature = self.oracle.generate_signature(timestamp=stamp, body=body)
        except UnicodeDecodeError:  # Slack's bodies are UTF-8; the oracle cannot sign anything else
            signature = signature_for(self.secret, stamp, body)
        assert signature is not None
        return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature, **extra}


_event_ids = itertools.count(1)


def event_id() -> str:
    return f"Ev{next(_event_ids):08d}"


def envelope(event: dict[str, Any], *, eid: str | None = None, team: str = TEAM) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": team,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": eid or event_id(),
        "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": team, "user_id": BOT_USER, "is_bot": True}],
        "event_context": "4-fake",
    }


def message(
    text: str,
    *,
    channel: str = "C0GENERAL",
    user: str = "U0ADA",
    ts: str | None = None,
    thread_ts: str | None = None,
    channel_type: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts or next_ts(),
        "event_ts": ts or next_ts(),
        "channel_type": channel_type or ("im" if channel.startswith("D") else "channel"),
        "team": TEAM,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    event.update(extra)
    return event


def mention(text: str, **kwargs: Any) -> dict[str, Any]:
    event = message(f"<@{BOT_USER}> {text}", **kwargs)
    event["type"] = "app_mention"
    event.pop("channel_type", None)
    return event


def encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
