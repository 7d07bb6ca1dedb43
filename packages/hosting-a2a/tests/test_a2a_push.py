"""Push notifications: configs managed with the a2a-sdk client, task updates POSTed to a real loopback receiver
with the configured token and authentication, failed deliveries retried through the host's outbox, SSRF refusals."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from a2a.types import (
    DeleteTaskPushNotificationConfigRequest,
    GetTaskPushNotificationConfigRequest,
    ListTaskPushNotificationConfigsRequest,
    TaskPushNotificationConfig,
    TaskState,
)
from a2a.utils.errors import InvalidParamsError, PushNotificationNotSupportedError, TaskNotFoundError
from agent_framework_hosting import DeliveryOptions
from agent_framework_hosting.testing import RedisServer, redis_server_binary, running_server, server_processes
from agent_framework_hosting_a2a import PushOptions
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

sys.path.insert(0, os.path.dirname(__file__))
from a2a_crash_host import crash_host_command  # noqa: E402
from a2a_helpers import collect, connect, send_request  # noqa: E402

LOOPBACK = PushOptions(allow_private_addresses=True)
FAST_OUTBOX = {"delivery": DeliveryOptions(outbox_backoff=0.2, outbox_interval=0.2)}


@dataclass
class Receiver:
    """A webhook on 127.0.0.1 that records each POST; the first `failures` answer 503."""

    url: str = ""
    failures: int = 0
    posts: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def hook(self, request: Request) -> Response:
        body = await request.json()
        with self.lock:
            self.attempts += 1
            if self.attempts <= self.failures:
                return Response(status_code=503)
            self.posts.append((dict(request.headers), body))
        return Response(status_code=204)

    def states(self) -> list[str]:
        return [body["statusUpdate"]["status"]["state"] for _, body in self.posts]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    with running_server(Starlette(routes=[Route("/hook", hook.hook, methods=["POST"])])) as base:
        hook.url = base + "/hook"
        yield hook


async def wait_for_posts(receiver: Receiver, count: int, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if len(receiver.posts) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(receiver.posts)} of {count} notifications arrived: {receiver.states()}")


def config(url: str, *, id: str = "", token: str = "tok") -> TaskPushNotificationConfig:
    result = TaskPushNotificationConfig(id=id, url=url, token=token)
    result.authentication.scheme = "Bearer"
    result.authentication.credentials = "hook-secret"
    return result


async def test_a_task_sent_with_a_push_config_posts_its_updates_with_token_and_authentication(
    serve: Any, receiver: Receiver
) -> None:
    served = serve(push=LOOPBACK)
    async with connect(served.url + "/a2a", streaming=False) as client:
        request = send_request("hello", context_id="p")
        request.configuration.task_push_notification_config.CopyFrom(config(receiver.url))
        [event] = await collect(client.send_message(request))
        assert event.task.status.state == TaskState.TASK_STATE_COMPLETED
        await wait_for_posts(receiver, 2)
    assert receiver.states() == ["TASK_STATE_WORKING", "TASK_STATE_COMPLETED"]
    headers, body = receiver.posts[-1]
    assert headers["x-a2a-notification-token"] == "tok"
    assert headers["authorization"] == "Bearer hook-secret"
    assert body["statusUpdate"]["taskId"] == event.task.id
    assert body["statusUpdate"]["status"]["message"]["parts"][0]["text"] == "echo 1: hello"


async def test_configs_are_created_read_listed_and_deleted_with_the_sdk_client(serve: Any, receiver: Receiver) -> None:
    served = serve(push=LOOPBACK, chunk_delay=0.05)
    async with connect(served.url + "/a2a", streaming=False) as client:
        long = " ".join(f"w{n}" for n in range(20))
        [event] = await collect(client.send_message(send_request(long, context_id="c", return_immediately=True)))
        task_id = event.task.id
        created = config(receiver.url, id="first")
        created.task_id = task_id
        made = await client.create_task_push_notification_config(created)
        assert made.id == "first" and made.url == receiver.url
        second = config(receiver.url, token="other")
        second.task_id = task_id
        assigned = await client.create_task_push_notification_config(second)
        assert assigned.id and assigned.id != "first", "the server names a config the client left unnamed"
        got = await client.get_task_push_notification_config(
            GetTaskPushNotificationConfigRequest(task_id=task_id, id="first")
        )
        assert got.token == "tok"
        listed = await client.list_task_push_notification_configs(
            ListTaskPushNotificationConfigsRequest(task_id=task_id)
        )
        assert sorted(c.id for c in listed.configs) == sorted(["first", assigned.id])
        await client.delete_task_push_notification_config(
            DeleteTaskPushNotificationConfigRequest(task_id=task_id, id=assigned.id)
        )
        with pytest.raises(TaskNotFoundError):
            await client.get_task_push_notification_config(
                GetTaskPushNotificationConfigRequest(task_id=task_id, id=assigned.id)
            )
        await wait_for_posts(receiver, 1)
    assert receiver.states() == ["TASK_STATE_COMPLETED"], "the remaining config hears of the end, once"
    assert receiver.posts[0][0]["x-a2a-notification-token"] == "tok"


async def test_a_failed_delivery_is_kept_in_the_outbox_and_retried(serve: Any, receiver: Receiver) -> None:
    receiver.failures = 3  # the direct attempt (sent twice) and the outbox's first retry fail
    served = serve(push=LOOPBACK, host_options=FAST_OUTBOX)
    async with connect(served.url + "/a2a", streaming=False) as client:
        [event] = await collect(client.send_message(send_request("hello", context_id="r")))
        made = config(receiver.url)
        made.task_id = event.task.id
        await client.create_task_push_notification_config(made)
        request = send_request("again", context_id="r")
        request.configuration.task_push_notification_config.CopyFrom(config(receiver.url))
        [event] = await collect(client.send_message(request))
        await wait_for_posts(receiver, 2, timeout=15)
    assert receiver.attempts >= 5
    assert sorted(receiver.states()) == ["TASK_STATE_COMPLETED", "TASK_STATE_WORKING"]


@pytest.mark.parametrize(
    ("options", "url"),
    [
        (PushOptions(), "http://127.0.0.1:9/hook"),
        (PushOptions(), "http://169.254.169.254/latest/meta-data"),
        (PushOptions(allow_private_addresses=True), "file:///etc/passwd"),
        (PushOptions(allow_private_addresses=True), "ftp://127.0.0.1/x"),
        (PushOptions(allow_private_addresses=True, allowed_hosts=("hooks.example",)), "http://127.0.0.1:9/hook"),
    ],
    ids=["loopback", "metadata service", "file", "ftp", "not allow-listed"],
)
async def test_urls_outside_the_policy_are_refused_and_nothing_is_stored(serve: Any, options: Any, url: str) -> None:
    served = serve(push=options)
    async with connect(served.url + "/a2a", streaming=False) as client:
        [event] = await collect(client.send_message(send_request("hello", context_id="x")))
        refused = config(url)
        refused.task_id = event.task.id
        with pytest.raises(InvalidParamsError, match="refused"):
            await client.create_task_push_notification_config(refused)
        request = send_request("with config", context_id="x")
        request.configuration.task_push_notification_config.CopyFrom(config(url))
        with pytest.raises(InvalidParamsError, match="refused"):
            await collect(client.send_message(request))
        listed = await client.list_task_push_notification_configs(
            ListTaskPushNotificationConfigsRequest(task_id=event.task.id)
        )
        assert not listed.configs


async def test_push_can_be_turned_off(serve: Any) -> None:
    served = serve(push=None)
    async with httpx.AsyncClient() as http:
        card = (await http.get(served.url + "/.well-known/agent-card.json")).json()
    assert not card["capabilities"].get("pushNotifications")
    async with connect(served.url + "/a2a", streaming=False) as client:
        [event] = await collect(client.send_message(send_request("hello", context_id="o")))
        made = config("http://example.com/hook")
        made.task_id = event.task.id
        with pytest.raises(PushNotificationNotSupportedError):
            await client.create_task_push_notification_config(made)


async def test_configs_of_an_unknown_task_are_not_found(serve: Any) -> None:
    served = serve(push=LOOPBACK)
    async with connect(served.url + "/a2a", streaming=False) as client:
        with pytest.raises(TaskNotFoundError):
            await client.list_task_push_notification_configs(ListTaskPushNotificationConfigsRequest(task_id="nope"))


@pytest.mark.slow
async def test_a_config_made_on_one_process_is_notified_by_the_process_running_the_task(receiver: Receiver) -> None:
    with RedisServer(redis_server_binary()) as redis:
        state = f"{redis.url}?prefix=a2apush{uuid.uuid4().hex[:8]}:"
        command = [*crash_host_command(state, chunk_delay=0.05, lease=5.0), "--push-to-loopback"]
        with server_processes([command, command], name="a2a-push") as [runner, other]:
            long = " ".join(f"w{n}" for n in range(30))
            async with connect(runner.url + "/a2a", streaming=False) as a, connect(other.url + "/a2a") as b:
                [event] = await collect(a.send_message(send_request(long, context_id="x", return_immediately=True)))
                made = config(receiver.url)
                made.task_id = event.task.id
                await b.create_task_push_notification_config(made)
                await wait_for_posts(receiver, 1, timeout=20)
    assert receiver.states() == ["TASK_STATE_COMPLETED"]
    assert receiver.posts[0][1]["statusUpdate"]["status"]["message"]["parts"][0]["text"] == f"echo 1: {long}"
