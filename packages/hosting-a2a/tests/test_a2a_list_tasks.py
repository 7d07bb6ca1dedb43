"""`ListTasks` with the a2a-sdk client: newest first, filters, pages, history and artifacts as asked."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest
from a2a.types import ListTasksRequest, TaskState
from a2a.utils.errors import InvalidParamsError

sys.path.insert(0, os.path.dirname(__file__))
from a2a_helpers import collect, connect, send_request  # noqa: E402

COMPLETED = TaskState.TASK_STATE_COMPLETED


async def send_all(client: Any, items: list[tuple[str, str]]) -> list[str]:
    ids = []
    for text, context in items:
        [event] = await collect(client.send_message(send_request(text, context_id=context)))
        ids.append(event.task.id)
    return ids


async def test_list_tasks_pages_newest_first_and_filters_by_context(serve: Any) -> None:
    served = serve()
    async with connect(served.url + "/a2a", streaming=False) as client:
        ids = await send_all(client, [("a", "left"), ("b", "right"), ("c", "left"), ("d", "left"), ("e", "right")])
        everything = await client.list_tasks(ListTasksRequest())
        assert [task.id for task in everything.tasks] == ids[::-1]
        assert everything.total_size == 5 and not everything.next_page_token

        left = [ids[3], ids[2], ids[0]]
        first = await client.list_tasks(ListTasksRequest(context_id="left", page_size=2))
        assert [task.id for task in first.tasks] == left[:2]
        assert first.total_size == 3 and first.page_size == 2 and first.next_page_token
        second = await client.list_tasks(
            ListTasksRequest(context_id="left", page_size=2, page_token=first.next_page_token)
        )
        assert [task.id for task in second.tasks] == left[2:]
        assert not second.next_page_token
        assert {task.context_id for task in first.tasks} | {second.tasks[0].context_id} == {"left"}


async def test_list_tasks_trims_history_and_leaves_artifacts_out_unless_asked(serve: Any) -> None:
    served = serve()
    async with connect(served.url + "/a2a", streaming=False) as client:
        await send_all(client, [("hello", "h")])
        plain = (await client.list_tasks(ListTasksRequest(context_id="h"))).tasks[0]
        assert not plain.artifacts and len(plain.history) == 2
        full = await client.list_tasks(ListTasksRequest(context_id="h", include_artifacts=True, history_length=1))
        [task] = full.tasks
        assert task.artifacts[0].parts[0].text == "echo 1: hello"
        assert [m.parts[0].text for m in task.history] == ["echo 1: hello"]


async def test_list_tasks_filters_by_state_and_update_time(serve: Any) -> None:
    served = serve()
    async with connect(served.url + "/a2a", streaming=False) as client:
        [old] = await send_all(client, [("old", "s")])
        stamp = (await client.list_tasks(ListTasksRequest())).tasks[0].status.timestamp
        [new] = await send_all(client, [("new", "s")])
        working = await client.list_tasks(ListTasksRequest(status=TaskState.TASK_STATE_WORKING))
        assert not working.tasks and working.total_size == 0
        done = await client.list_tasks(ListTasksRequest(status=COMPLETED))
        assert {task.id for task in done.tasks} == {old, new}
        request = ListTasksRequest()
        request.status_timestamp_after.FromNanoseconds(stamp.ToNanoseconds() + 1)
        assert [task.id for task in (await client.list_tasks(request)).tasks] == [new]
        assert not (await client.list_tasks(ListTasksRequest(context_id="no such context"))).tasks


@pytest.mark.parametrize(
    "request_",
    [
        ListTasksRequest(page_size=0),
        ListTasksRequest(page_size=101),
        ListTasksRequest(page_token="not-ours"),
        ListTasksRequest(history_length=-1),
    ],  # fmt: skip
    ids=["page size 0", "page size 101", "foreign token", "negative history"],
)
async def test_list_tasks_refuses_bad_paging_as_invalid_params(serve: Any, request_: ListTasksRequest) -> None:
    served = serve()
    async with connect(served.url + "/a2a", streaming=False) as client:
        with pytest.raises(InvalidParamsError):
            await client.list_tasks(request_)
