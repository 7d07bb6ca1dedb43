"""Helpers for the A2A tests: a2a-sdk clients for a served channel, and messages to send."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from a2a.client import Client, ClientConfig, ClientFactory
from a2a.types import GetTaskRequest, Message, Part, Role, SendMessageRequest, StreamResponse, Task


@asynccontextmanager
async def connect(url: str, *, streaming: bool = True, token: str | None = None) -> AsyncIterator[Client]:
    """An a2a-sdk client that found the agent through its card at `url`."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=30, headers=headers) as http:
        yield await ClientFactory(ClientConfig(streaming=streaming, httpx_client=http)).create_from_url(url)


def user_message(text: str, *, context_id: str = "", message_id: str = "") -> Message:
    return Message(
        message_id=message_id or uuid.uuid4().hex,
        role=Role.ROLE_USER,
        parts=[Part(text=text)],
        context_id=context_id,
    )


def send_request(text: str, *, context_id: str = "", return_immediately: bool = False) -> SendMessageRequest:
    request = SendMessageRequest(message=user_message(text, context_id=context_id))
    request.configuration.return_immediately = return_immediately
    return request


async def collect(stream: AsyncIterator[StreamResponse]) -> list[StreamResponse]:
    return [event async for event in stream]


async def wait_for_state(client: Client, task_id: str, states: set[int], timeout: float = 20.0) -> Task:
    """Poll `GetTask` until the task is in one of `states`; fails after `timeout` seconds."""
    for _ in range(int(timeout / 0.05)):
        task = await client.get_task(GetTaskRequest(id=task_id))
        if task.status.state in states:
            return task
        await asyncio.sleep(0.05)
    raise AssertionError(f"task {task_id} never reached {states}")
