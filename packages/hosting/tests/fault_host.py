"""A host process that dies (``os._exit``, like SIGKILL: no cleanup) at one chosen step of a turn.

Run as a script by the fault-injection tests::

    python fault_host.py --port 8001 --state DIR --fault run

Its channel is a minimal ack-first webhook, as Telegram, Discord and Activity are:
``POST /hook {"update_id", "text", "key", "reply_url"}`` is recorded in the turn
ledger, acknowledged, and answered in the background by posting
``{"update_id", "text"}`` to `reply_url`. Steps: ``claim`` (the ledger entry is
written, the platform not yet acknowledged), ``ledger`` (the acknowledged entry's
handler has begun, the entry still says accepted), ``run`` (the agent is
thinking), ``save`` (the session is saved), ``send`` (the answer has reached the
platform).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import httpx
from agent_framework import Agent
from agent_framework_hosting import (
    INTERRUPTED_NOTICE,
    AgentFrameworkHost,
    ChannelContext,
    ChannelContribution,
    ChannelRequest,
    ChannelSession,
    DeliveryOptions,
    FileStateStore,
    HostingError,
    replying,
)
from agent_framework_hosting.http import BadRequest, read_json_object
from agent_framework_hosting.testing import OfflineChatClient, serve_until_terminated
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

HERE = os.path.abspath(__file__)
STEPS = ("claim", "ledger", "run", "save", "send")


def die_at(step: str, fault: str) -> None:
    if step == fault:
        print(f"dying at {step}", flush=True)
        os._exit(137)


class FaultyStore(FileStateStore):
    """A state folder that kills the process right after the write the fault names."""

    def __init__(self, root: str, fault: str) -> None:
        super().__init__(root)
        self.fault = fault

    async def add(self, namespace: str, key: str, value: Any, *, ttl: float | None = None) -> bool:
        stored = await super().add(namespace, key, value, ttl=ttl)
        if namespace == "ledger" and stored:
            die_at("claim", self.fault)
        return stored

    async def add_and_get(
        self, namespace: str, key: str, value: Any, *, read: tuple[str, str], ttl: float | None = None
    ) -> tuple[bool, Any | None]:
        stored, found = await super().add_and_get(namespace, key, value, read=read, ttl=ttl)
        if namespace == "ledger" and stored:
            die_at("claim", self.fault)
        return stored, found

    async def set(self, namespace: str, key: str, value: Any, *, ttl: float | None = None) -> None:
        await super().set(namespace, key, value, ttl=ttl)
        if namespace == "sessions":
            die_at("save", self.fault)


class DyingClient(OfflineChatClient):
    def __init__(self, fault: str) -> None:
        super().__init__()
        self.fault = fault

    def _inner_get_response(self, **kwargs: Any) -> Any:
        die_at("run", self.fault)
        return super()._inner_get_response(**kwargs)


class LedgerHook:
    """The ack-first webhook channel of this harness."""

    name = "hook"
    path = "/hook"

    def __init__(self, fault: str) -> None:
        self.fault = fault
        self.context: ChannelContext | None = None

    def contribute(self, context: ChannelContext) -> ChannelContribution:
        self.context = context
        context.resumable(self)
        return ChannelContribution(routes=[Route("/", self.post, methods=["POST"])])

    async def post(self, request: Request) -> Response:
        assert self.context is not None
        try:
            body = await read_json_object(request)
            if not all(isinstance(body.get(name), str) for name in ("update_id", "text", "key", "reply_url")):
                raise BadRequest("update_id, text, key and reply_url must be strings")
            ticket = await self.context.accept(body["update_id"], body)
        except HostingError as error:
            return JSONResponse({"error": str(error)}, status_code=error.status_code)
        if ticket is None:
            return JSONResponse({"duplicate": True})
        self.context.spawn(self.context.handle(ticket, lambda: self.resume(body)))
        return JSONResponse({"duplicate": False})

    async def resume(self, payload: Any) -> None:
        assert self.context is not None
        die_at("ledger", self.fault)
        request = ChannelRequest(self.name, "message", payload["text"], session=ChannelSession(payload["key"]))
        result = await self.context.run(request)
        await replying()
        await self._send(payload, result.text)
        die_at("send", self.fault)

    async def interrupted(self, payload: Any) -> None:
        await self._send(payload, INTERRUPTED_NOTICE)

    @staticmethod
    async def _send(payload: Any, text: str) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            await client.post(payload["reply_url"], json={"update_id": payload["update_id"], "text": text})


def build(state: str, fault: str) -> AgentFrameworkHost:
    return AgentFrameworkHost(
        Agent(client=DyingClient(fault), name="echo"),
        channels=[LedgerHook(fault)],
        state_dir=FaultyStore(state, fault),
        delivery=DeliveryOptions(lease=2.0),
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--fault", default="none", choices=(*STEPS, "none"))
    args = parser.parse_args()
    sys.exit(serve_until_terminated(build(args.state, args.fault).app, args.port))
