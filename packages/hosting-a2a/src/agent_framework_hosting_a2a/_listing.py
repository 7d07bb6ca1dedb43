"""`ListTasks`: filter, order and page stored tasks as the A2A v1.0 specification describes (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from a2a.types import InvalidParamsError, ListTasksRequest, ListTasksResponse, Task
from a2a.utils.constants import DEFAULT_LIST_TASKS_PAGE_SIZE
from a2a.utils.task import (
    ListTasksCursor,
    apply_history_length,
    decode_list_tasks_cursor,
    encode_list_tasks_cursor,
    validate_history_length,
    validate_page_size,
)

SortKey = tuple[bool, int, str]


def sort_key(task: Task) -> SortKey:
    """Most recently updated first: ``(has a status timestamp, timestamp, id)``, compared descending."""
    stamped = task.status.HasField("timestamp")
    return stamped, task.status.timestamp.ToNanoseconds() if stamped else 0, task.id


def validate(params: ListTasksRequest) -> ListTasksCursor | None:
    """Refuse bad paging (page size outside 1..100, a page token not from us); the cursor to start after."""
    validate_history_length(params)
    if params.HasField("page_size"):
        validate_page_size(params.page_size)
    if not params.page_token:
        return None
    cursor = decode_list_tasks_cursor(params.page_token)
    if cursor is None:
        raise InvalidParamsError(message="page_token is not a token this server issued")
    return cursor


def _wanted(task: Task, params: ListTasksRequest) -> bool:
    if params.context_id and task.context_id != params.context_id:
        return False
    if params.status and task.status.state != params.status:
        return False
    if params.HasField("status_timestamp_after"):
        after = params.status_timestamp_after.ToNanoseconds()
        return task.status.HasField("timestamp") and bool(task.status.timestamp.ToNanoseconds() >= after)
    return True


def page(tasks: Sequence[Task], params: ListTasksRequest, cursor: ListTasksCursor | None) -> ListTasksResponse:
    """One page of `tasks` matching `params`, newest first, with the token of the next page."""
    matching = sorted((task for task in tasks if _wanted(task, params)), key=sort_key, reverse=True)
    start = 0
    if cursor is not None:
        after = cursor.sort_key()
        start = next((index for index, task in enumerate(matching) if sort_key(task) < after), len(matching))
    size = params.page_size or DEFAULT_LIST_TASKS_PAGE_SIZE
    chosen = matching[start : start + size]
    response = ListTasksResponse(page_size=size, total_size=len(matching))
    if start + size < len(matching):
        last = sort_key(chosen[-1])
        response.next_page_token = encode_list_tasks_cursor(
            ListTasksCursor(timestamp_ns=last[1] if last[0] else None, task_id=last[2])
        )
    for task in chosen:
        shown = apply_history_length(task, params)
        response.tasks.append(shown)
        if not params.include_artifacts:
            response.tasks[-1].ClearField("artifacts")
    return response
