"""The servers the benchmarks load, each run as its own process under uvicorn.

    python benchmarks/_servers.py NAME --port 8000 [--state-dir DIR] [--workers N]

`bare` is the baseline: plain Starlette routes calling the same offline agent as the host does
(`/static` answers without the agent, to check that the load generator is not the limit).
The other names are the host with one channel.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
for package in (
    "hosting",
    "hosting-responses",
    "hosting-invocations",
    "hosting-telegram",
    "hosting-a2a",
    "hosting-mcp",
    "hosting-ag-ui",
    "hosting-slack",
):
    sys.path.insert(0, os.path.join(HERE, "..", "packages", package, "src"))

import orjson  # noqa: E402
from agent_framework import Agent, AgentSession, ChatResponseUpdate, Message  # noqa: E402
from agent_framework_hosting._serve import freeze_startup_heap  # noqa: E402
from agent_framework_hosting.testing import OfflineChatClient  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, Response, StreamingResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

STAMPS_ENV = "BENCH_FIRST_UPDATE_FILE"
STATIC = {"object": "response", "status": "completed", "output_text": "static"}


class StampingClient(OfflineChatClient):
    """The offline client, noting `time.monotonic()` as each streamed answer's first update leaves it.

    The stamp is written to the file only once the answer is complete, off the measured path.
    """

    async def _stream(self, messages: Sequence[Message]) -> AsyncIterator[ChatResponseUpdate]:
        stamp: float | None = None
        async for update in super()._stream(messages):
            if stamp is None:
                stamp = time.monotonic()
            yield update
        with open(os.environ[STAMPS_ENV], "a") as file:  # noqa: ASYNC230 - after the answer, off the measured path
            file.write(f"{stamp!r}\n")


class StalledClient(OfflineChatClient):
    """A model that never answers: turns started after an acknowledgement wait, costing no CPU."""

    def _inner_get_response(self, *, messages: Sequence[Message], stream: bool, options: Any, **kwargs: Any) -> Any:
        import asyncio

        return asyncio.Event().wait()


def make_agent() -> Agent:
    """The offline echo agent; it keeps no record of its calls, so a long run does not grow."""
    client = StampingClient() if os.environ.get(STAMPS_ENV) else OfflineChatClient()
    client.calls = collections.deque(maxlen=1)  # type: ignore[assignment]
    return Agent(client=client, name="bench")


def bare_app(state_dir: str | None) -> Starlette:
    agent = make_agent()
    sessions: dict[str, AgentSession] = {}

    async def static(request: Request) -> Response:
        await request.body()
        return JSONResponse(STATIC)

    async def responses(request: Request) -> Response:
        body = await request.json()
        if body.get("stream"):
            stream = agent.run(body["input"], stream=True)

            async def events() -> AsyncIterator[str]:
                async for update in stream:
                    yield f"event: delta\ndata: {json.dumps({'delta': update.text})}\n\n"
                final = await stream.get_final_response()
                yield f"event: completed\ndata: {json.dumps({'text': final.text})}\n\n"

            return StreamingResponse(events(), media_type="text/event-stream")
        response = await agent.run(body["input"])
        return JSONResponse({"id": "r", "object": "response", "output_text": response.text})

    async def whole(request: Request) -> Response:
        """As `responses` without streaming, but answering the whole Response object the API defines: the protocol's
        own work (ids, every field, usage, encoded with orjson as the channel does) without the host."""
        body = await request.json()
        response = await agent.run(body["input"])
        now = int(time.time())
        counts = response.usage_details or {}
        usage = {
            "input_tokens": counts.get("input_token_count") or 0,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": counts.get("output_token_count") or 0,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": counts.get("total_token_count") or 0,
        }
        part = {"type": "output_text", "text": response.text, "annotations": [], "logprobs": []}
        message = {"id": f"msg_{os.urandom(16).hex()}", "type": "message", "role": "assistant", "status": "completed"}
        answer = {
            "id": f"resp_{os.urandom(16).hex()}",
            "object": "response",
            "created_at": now,
            "status": "completed",
            "background": False,
            "completed_at": now,
            "conversation": None,
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "max_output_tokens": None,
            "metadata": {},
            "model": body.get("model"),
            "output": [{**message, "content": [part]}],
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "reasoning": None,
            "safety_identifier": None,
            "store": bool(body.get("store", True)),
            "temperature": None,
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": None,
            "truncation": "disabled",
            "usage": usage,
            "user": None,
        }
        return Response(orjson.dumps(answer), media_type="application/json")

    kept: collections.OrderedDict[str, AgentSession] = collections.OrderedDict()

    async def stored(request: Request) -> Response:
        """As `responses`, but each answer runs in a new session that is kept (1,000 at most, LRU)."""
        body = await request.json()
        session = agent.create_session()
        kept[session.session_id] = session
        if len(kept) > 1000:
            kept.popitem(last=False)
        response = await agent.run(body["input"], session=session)
        return JSONResponse({"id": session.session_id, "object": "response", "output_text": response.text})

    async def invocations(request: Request) -> Response:
        body = await request.json()
        key = body.get("session_id")
        response = await agent.run(body["message"], session=sessions.setdefault(key, agent.create_session()))
        return JSONResponse({"response": response.text, "session_id": key})

    async def keyed(request: Request) -> Response:
        body = await request.json()
        key = body.get("key")
        kwargs: dict[str, Any] = {}
        if key:
            kwargs["session"] = sessions.setdefault(key, agent.create_session(session_id=key))
        if body.get("stream"):
            stream = agent.run(body["text"], stream=True, **kwargs)

            async def chunks() -> AsyncIterator[str]:
                async for update in stream:
                    yield f"data: {json.dumps({'delta': update.text})}\n\n"
                await stream.get_final_response()

            return StreamingResponse(chunks(), media_type="text/event-stream")
        response = await agent.run(body["text"], **kwargs)
        return JSONResponse({"text": response.text})

    async def a2a(request: Request) -> Response:
        """A2A `SendMessage`, answered with a completed task (no task record, no background run)."""
        body = await request.json()
        message = body["params"]["message"]
        context = message["contextId"]
        text = " ".join(part.get("text", "") for part in message["parts"])
        response = await agent.run(text, session=sessions.setdefault(f"a2a:{context}", agent.create_session()))
        answer = {"messageId": "a", "role": "ROLE_AGENT", "parts": [{"text": response.text}], "contextId": context}
        task = {"id": "t", "contextId": context, "status": {"state": "TASK_STATE_COMPLETED", "message": answer}}
        return JSONResponse({"jsonrpc": "2.0", "id": body.get("id"), "result": {"task": task}})

    async def mcp(request: Request) -> Response:
        """An MCP `tools/call` of the `ask` tool, as a stateless request, answered in JSON."""
        body = await request.json()
        arguments = body["params"]["arguments"]
        key = f"mcp:{arguments['conversation']}"
        response = await agent.run(arguments["message"], session=sessions.setdefault(key, agent.create_session()))
        result = {"content": [{"type": "text", "text": response.text}], "isError": False}
        return JSONResponse({"jsonrpc": "2.0", "id": body.get("id"), "result": result})

    async def ag_ui(request: Request) -> Response:
        """An AG-UI run: the last message in, RUN_STARTED, the text message events, RUN_FINISHED out."""
        body = await request.json()
        thread = body["threadId"]
        session = sessions.setdefault(f"ag-ui:{thread}", agent.create_session())
        stream = agent.run(body["messages"][-1]["content"], stream=True, session=session)

        async def events() -> AsyncIterator[str]:
            yield f"data: {json.dumps({'type': 'RUN_STARTED', 'threadId': thread, 'runId': body['runId']})}\n\n"
            yield f"data: {json.dumps({'type': 'TEXT_MESSAGE_START', 'messageId': 'm', 'role': 'assistant'})}\n\n"
            async for update in stream:
                event = {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m", "delta": update.text}
                yield f"data: {json.dumps(event)}\n\n"
            await stream.get_final_response()
            yield f"data: {json.dumps({'type': 'TEXT_MESSAGE_END', 'messageId': 'm'})}\n\n"
            yield f"data: {json.dumps({'type': 'RUN_FINISHED', 'threadId': thread, 'runId': body['runId']})}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(
        routes=[
            Route("/static", static, methods=["POST"]),
            Route("/v1/responses", responses, methods=["POST"]),
            Route("/stored/v1/responses", stored, methods=["POST"]),
            Route("/whole/v1/responses", whole, methods=["POST"]),
            Route("/json", keyed, methods=["POST"]),
            Route("/invocations", invocations, methods=["POST"]),
            Route("/a2a", a2a, methods=["POST"]),
            Route("/mcp", mcp, methods=["POST"]),
            Route("/ag-ui", ag_ui, methods=["POST"]),
        ]
    )


TELEGRAM_TOKEN = "123456:bench-token"
TELEGRAM_SECRET = "bench-secret"


def telegram_api_app(state_dir: str | None) -> Starlette:
    """A fake Telegram Bot API answering every method as Telegram would when it succeeds."""
    sent = 0

    async def method(request: Request) -> Response:
        nonlocal sent
        await request.body()
        name = request.path_params["method"]
        if name == "getMe":
            result: Any = {"id": 123456, "is_bot": True, "first_name": "bench", "username": "bench_bot"}
        elif name in ("sendMessage", "editMessageText"):
            sent += 1
            result = {"message_id": sent, "date": 0, "chat": {"id": 1, "type": "private"}, "text": "ok"}
        else:
            result = True
        return JSONResponse({"ok": True, "result": result})

    return Starlette(routes=[Route("/bot{token}/{method}", method, methods=["POST"])])


def _bot_api() -> str:
    return os.environ["BENCH_TELEGRAM_API"]


def bare_telegram_app(state_dir: str | None) -> Starlette:
    """The webhook baseline: check the secret, parse, answer 200; updates wait in their chat's queue.

    As in the channel, a chat's first update starts a turn (of the stalled agent) and later ones queue.
    """
    import asyncio

    agent = Agent(client=StalledClient(), name="bench")
    queues: dict[int, list[dict[str, Any]]] = {}
    tasks: set[asyncio.Task[Any]] = set()

    async def answer(chat: int) -> None:
        while queues[chat]:
            await agent.run(queues[chat].pop(0)["message"]["text"])
        del queues[chat]

    async def webhook(request: Request) -> Response:
        if request.headers.get("x-telegram-bot-api-secret-token") != TELEGRAM_SECRET:
            return JSONResponse({"ok": False}, status_code=401)
        update = await request.json()
        chat = update["message"]["chat"]["id"]
        if chat in queues:
            queues[chat].append(update)
        else:
            queues[chat] = [update]
            task = asyncio.get_running_loop().create_task(answer(chat))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/telegram/webhook", webhook, methods=["POST"])])


def telegram_app(state_dir: str | None) -> Any:
    from agent_framework_hosting import AgentFrameworkHost
    from agent_framework_hosting_telegram import TelegramChannel

    channel = TelegramChannel(
        TELEGRAM_TOKEN,
        api_base=_bot_api(),
        webhook_url="https://bench.example/telegram/webhook",
        secret_token=TELEGRAM_SECRET,
        register_native_commands=False,
        send_typing_action=False,
        stream=False,
    )
    agent = Agent(client=StalledClient(), name="bench")
    return AgentFrameworkHost(agent, channels=[channel], state_dir=state_dir).app


SLACK_TOKEN = "xoxb-bench-token"
SLACK_SECRET = "bench-signing-secret"


def slack_api_app(state_dir: str | None) -> Starlette:
    """A fake Slack Web API answering every method as Slack would when it succeeds."""

    async def method(request: Request) -> Response:
        await request.body()
        if request.path_params["method"] == "auth.test":
            return JSONResponse({"ok": True, "user_id": "UBENCH", "team_id": "TBENCH", "bot_id": "BBENCH"})
        return JSONResponse({"ok": True, "channel": "D1", "ts": "1.000001"})

    return Starlette(routes=[Route("/api/{method}", method, methods=["POST"])])


def bare_slack_app(state_dir: str | None) -> Starlette:
    """The Events API baseline: verify the signature, parse, skip a seen event id, answer 200, queue a turn.

    As in the channel, a conversation's first event starts a turn (of the stalled agent) and later ones queue.
    """
    import asyncio
    import hashlib
    import hmac

    agent = Agent(client=StalledClient(), name="bench")
    queues: dict[str, list[dict[str, Any]]] = {}
    seen: collections.OrderedDict[str, None] = collections.OrderedDict()
    tasks: set[asyncio.Task[Any]] = set()

    async def answer(key: str) -> None:
        while queues[key]:
            await agent.run(queues[key].pop(0)["event"]["text"])
        del queues[key]

    async def events(request: Request) -> Response:
        body = await request.body()
        stamp = request.headers.get("x-slack-request-timestamp", "")
        base = b"v0:" + stamp.encode() + b":" + body
        expected = "v0=" + hmac.new(SLACK_SECRET.encode(), base, hashlib.sha256).hexdigest()
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > 300:
            return JSONResponse({"error": "stale"}, status_code=401)
        if not hmac.compare_digest(expected, request.headers.get("x-slack-signature", "")):
            return JSONResponse({"error": "signature"}, status_code=401)
        payload = json.loads(body)
        if payload["event_id"] in seen:
            return JSONResponse({"ok": True, "duplicate": True})
        seen[payload["event_id"]] = None
        while len(seen) > 100_000:
            seen.popitem(last=False)
        key = payload["event"]["user"]
        if key in queues:
            queues[key].append(payload)
        else:
            queues[key] = [payload]
            task = asyncio.get_running_loop().create_task(answer(key))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"])])


def slack_app(state_dir: str | None) -> Any:
    from agent_framework_hosting import AgentFrameworkHost
    from agent_framework_hosting_slack import SlackChannel

    channel = SlackChannel(SLACK_TOKEN, signing_secret=SLACK_SECRET, api_base=os.environ["BENCH_SLACK_API"] + "/api",
                           stream=False)  # fmt: skip
    agent = Agent(client=StalledClient(), name="bench")
    return AgentFrameworkHost(agent, channels=[channel], state_dir=state_dir).app


DISCORD_APP_ID = "100000000000000001"
DISCORD_SEED = bytes(range(32))


def discord_public_key() -> str:
    from nacl.signing import SigningKey

    return SigningKey(DISCORD_SEED).verify_key.encode().hex()


def bare_discord_app(state_dir: str | None) -> Starlette:
    """The interactions baseline: verify the Ed25519 signature, parse, defer (type 5), start a turn.

    As in the channel, one user's interactions take turns: the first starts a turn of the stalled
    agent and later ones wait behind it.
    """
    import asyncio

    from nacl.signing import VerifyKey

    key = VerifyKey(bytes.fromhex(discord_public_key()))
    agent = Agent(client=StalledClient(), name="bench")
    locks: dict[str, asyncio.Lock] = {}
    tasks: set[asyncio.Task[Any]] = set()

    async def answer(user: str, prompt: str) -> None:
        async with locks.setdefault(user, asyncio.Lock()):
            await agent.run(prompt)

    async def interactions(request: Request) -> Response:
        body = await request.body()
        stamp = request.headers["x-signature-timestamp"]
        key.verify(stamp.encode() + body, bytes.fromhex(request.headers["x-signature-ed25519"]))
        interaction = json.loads(body)
        if interaction["type"] == 1:
            return JSONResponse({"type": 1})
        user = interaction["member"]["user"]["id"]
        task = asyncio.get_running_loop().create_task(answer(user, interaction["data"]["options"][0]["value"]))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return JSONResponse({"type": 5})

    return Starlette(routes=[Route("/discord/interactions", interactions, methods=["POST"])])


def discord_app(state_dir: str | None) -> Any:
    from agent_framework_hosting import AgentFrameworkHost
    from agent_framework_hosting_discord import DiscordChannel

    channel = DiscordChannel(
        application_id=DISCORD_APP_ID,
        public_key=discord_public_key(),
        register_commands=False,
        api_base_url="http://127.0.0.1:9/api/v10",
    )
    agent = Agent(client=StalledClient(), name="bench")
    return AgentFrameworkHost(agent, channels=[channel], state_dir=state_dir, turn_wait=None).app


BOT_APP_ID = "00000000-0000-0000-0000-00000000b0a7"
BOT_ISSUER = "https://api.botframework.com"
BOT_KEY_ID = "bench-key"


def _bot_key() -> Any:
    """The RSA key the benchmark signs Bot Framework tokens with (PEM file named by BENCH_BOT_KEY)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    with open(os.environ["BENCH_BOT_KEY"], "rb") as file:
        return load_pem_private_key(file.read(), password=None)


def _bot_base() -> str:
    return os.environ["BENCH_BOT_FRAMEWORK"]


def bot_framework_app(state_dir: str | None) -> Starlette:
    """A fake Bot Framework: OpenID metadata and the JWKS holding the benchmark's key; a token service."""
    import jwt

    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(_bot_key().public_key()))
    jwk.update({"kid": BOT_KEY_ID, "use": "sig", "alg": "RS256"})
    base = f"http://127.0.0.1:{os.environ['BENCH_PORT']}"

    async def metadata(request: Request) -> Response:
        return JSONResponse({"issuer": BOT_ISSUER, "jwks_uri": base + "/keys"})

    async def keys(request: Request) -> Response:
        return JSONResponse({"keys": [jwk]})

    async def token(request: Request) -> Response:
        return JSONResponse({"token_type": "Bearer", "expires_in": 3600, "access_token": "outbound"})

    routes = [Route("/openid", metadata), Route("/keys", keys), Route("/token", token, methods=["POST"])]
    return Starlette(routes=routes)


def bare_activity_app(state_dir: str | None) -> Starlette:
    """The Activity baseline: validate the bearer JWT (cached key), parse, answer 201, start a turn.

    Like the channel, it remembers a verified token until its `exp` (the connector reuses one for an
    hour), so both sides verify each token once and check its `serviceurl` on every request.
    """
    import asyncio

    import jwt

    public_key = _bot_key().public_key()
    agent = Agent(client=StalledClient(), name="bench")
    locks: dict[str, asyncio.Lock] = {}
    tasks: set[asyncio.Task[Any]] = set()
    verified: dict[str, dict[str, Any]] = {}

    def validate(token: str) -> dict[str, Any]:
        claims = verified.get(token)
        if claims is None or claims["exp"] <= time.time():
            claims = jwt.decode(token, public_key, algorithms=["RS256"], audience=BOT_APP_ID, issuer=BOT_ISSUER)
            if len(verified) >= 1024:
                del verified[next(iter(verified))]
            verified[token] = claims
        return claims

    async def answer(conversation: str, text: str) -> None:
        async with locks.setdefault(conversation, asyncio.Lock()):
            await agent.run(text)

    async def messages(request: Request) -> Response:
        token = request.headers["authorization"].removeprefix("Bearer ")
        claims = validate(token)
        activity = await request.json()
        if claims.get("serviceurl") != activity["serviceUrl"]:
            return JSONResponse({"error": "serviceUrl"}, status_code=401)
        conversation = activity["conversation"]["id"]
        task = asyncio.get_running_loop().create_task(answer(conversation, activity["text"]))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return Response(status_code=201)

    return Starlette(routes=[Route("/activity/messages", messages, methods=["POST"])])


def activity_app(state_dir: str | None) -> Any:
    from agent_framework_hosting import AgentFrameworkHost
    from agent_framework_hosting_activity_protocol import ActivityProtocolChannel

    channel = ActivityProtocolChannel(
        app_id=BOT_APP_ID,
        app_password="bench-password",
        openid_metadata_url=_bot_base() + "/openid",
        entra_openid_metadata_url=_bot_base() + "/openid",
        token_endpoint=_bot_base() + "/token",
        service_url_allowed_hosts=("127.0.0.1",),
    )
    agent = Agent(client=StalledClient(), name="bench")
    return AgentFrameworkHost(agent, channels=[channel], state_dir=state_dir, turn_wait=None).app


def invocations_app(state_dir: str | None) -> Any:
    from agent_framework_hosting import AgentFrameworkHost
    from agent_framework_hosting_invocations import InvocationsChannel

    return AgentFrameworkHost(make_agent(), channels=[InvocationsChannel()], state_dir=state_dir).app


def responses_app(state_dir: str | None) -> Any:
    from agent_framework_hosting import AgentFrameworkHost
    from agent_framework_hosting_responses import ResponsesChannel

    return AgentFrameworkHost(make_agent(), channels=[ResponsesChannel()], state_dir=state_dir).app


def a2a_app(state_dir: str | None) -> Any:
    from agent_framework_hosting import AgentFrameworkHost
    from agent_framework_hosting_a2a import A2AChannel

    return AgentFrameworkHost(make_agent(), channels=[A2AChannel()], state_dir=state_dir).app


def mcp_app(state_dir: str | None) -> Any:
    from agent_framework_hosting import AgentFrameworkHost
    from agent_framework_hosting_mcp import MCPChannel

    return AgentFrameworkHost(make_agent(), channels=[MCPChannel()], state_dir=state_dir).app


def ag_ui_app(state_dir: str | None) -> Any:
    from agent_framework_hosting import AgentFrameworkHost
    from agent_framework_hosting_ag_ui import AGUIChannel

    return AgentFrameworkHost(make_agent(), channels=[AGUIChannel()], state_dir=state_dir).app


def host_app(state_dir: str | None) -> Any:
    from agent_framework_hosting import AgentFrameworkHost
    from agent_framework_hosting.testing import JsonChannel

    return AgentFrameworkHost(make_agent(), channels=[JsonChannel()], state_dir=state_dir).app


def _hook_app(state_dir: str | None, *, ledger: bool) -> Any:
    """An ack-first style webhook that answers after the whole turn, so `wrk` counts complete turns.

    With `ledger`, each update goes through the turn ledger (accept, running, replying, done) as
    Telegram, Discord and Activity updates do; without, it runs the same turn directly.
    """
    from agent_framework_hosting import AgentFrameworkHost, ChannelContribution, ChannelRequest, ChannelSession
    from agent_framework_hosting import replying as mark_replying

    class Hook:
        name = "hook"
        path = "/hook"

        def contribute(self, context: Any) -> Any:
            async def turn(body: dict[str, Any]) -> None:
                request = ChannelRequest("hook", "message", body["text"], session=ChannelSession(str(body["chat"])))
                await context.run(request)
                await mark_replying()

            async def post(request: Request) -> Response:
                body = await request.json()
                if ledger:
                    ticket = await context.accept(str(body["update_id"]), body)
                    if ticket is not None:
                        await context.handle(ticket, lambda: turn(body))
                else:
                    await turn(body)
                return JSONResponse({"ok": True})

            if ledger:
                context.resumable(self)
            return ChannelContribution(routes=[Route("/", post, methods=["POST"])])

        async def resume(self, payload: Any) -> None:
            return None

        async def interrupted(self, payload: Any) -> None:
            return None

    return AgentFrameworkHost(make_agent(), channels=[Hook()], state_dir=state_dir).app


APPS: dict[str, Callable[[str | None], Any]] = {
    "hook": lambda state_dir: _hook_app(state_dir, ledger=False),
    "hook-ledger": lambda state_dir: _hook_app(state_dir, ledger=True),
    "a2a": a2a_app,
    "ag-ui": ag_ui_app,
    "mcp": mcp_app,
    "activity": activity_app,
    "bare": bare_app,
    "bare-activity": bare_activity_app,
    "bot-framework": bot_framework_app,
    "bare-discord": bare_discord_app,
    "discord": discord_app,
    "bare-slack": bare_slack_app,
    "bare-telegram": bare_telegram_app,
    "host": host_app,
    "invocations": invocations_app,
    "responses": responses_app,
    "slack": slack_app,
    "slack-api": slack_api_app,
    "telegram": telegram_app,
    "telegram-api": telegram_api_app,
}


def app_from_env() -> Any:
    """The app `main` chose, built in a uvicorn worker process (`--workers` above one)."""
    app = APPS[os.environ["BENCH_APP"]](os.environ.get("BENCH_STATE_DIR") or None)
    freeze_startup_heap()
    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("name", choices=sorted(APPS))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", default=None)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes sharing the port")
    args = parser.parse_args()
    os.environ["BENCH_PORT"] = str(args.port)
    logging.getLogger("agent_framework").setLevel(logging.WARNING)
    options: dict[str, Any] = {"host": "127.0.0.1", "port": args.port, "log_level": "warning", "access_log": False}
    if args.workers > 1:
        os.environ.update(BENCH_APP=args.name, BENCH_STATE_DIR=args.state_dir or "")
        uvicorn.run("_servers:app_from_env", factory=True, workers=args.workers, app_dir=HERE, **options)
        return
    app = APPS[args.name](args.state_dir)
    freeze_startup_heap()  # every server alike, as `host.serve()` does
    uvicorn.run(app, **options)


if __name__ == "__main__":
    main()
