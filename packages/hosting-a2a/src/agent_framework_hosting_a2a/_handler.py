"""`HostRequestHandler`: the A2A methods over the host's sessions and state.

a2a-sdk's JSON-RPC dispatcher parses requests (v1.0 and v0.3 names), maps errors
and frames SSE; this handler decides what happens. Every message starts a task
that runs in the host's background (its context's turns run one at a time);
`SendMessage` waits for it up to `wait_seconds`, streams follow its event log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator

import anyio
from a2a.server.context import ServerCallContext
from a2a.server.request_handlers.request_handler import RequestHandler, validate_request_params
from a2a.types import (
    AgentCard,
    CancelTaskRequest,
    DeleteTaskPushNotificationConfigRequest,
    ExtendedAgentCardNotConfiguredError,
    GetExtendedAgentCardRequest,
    GetTaskPushNotificationConfigRequest,
    GetTaskRequest,
    InvalidParamsError,
    ListTaskPushNotificationConfigsRequest,
    ListTaskPushNotificationConfigsResponse,
    ListTasksRequest,
    ListTasksResponse,
    Message,
    PushNotificationNotSupportedError,
    SendMessageRequest,
    SubscribeToTaskRequest,
    Task,
    TaskNotCancelableError,
    TaskNotFoundError,
    TaskPushNotificationConfig,
    TaskState,
    UnsupportedOperationError,
)
from a2a.utils.task import apply_history_length, validate_history_length
from agent_framework import Message as AgentMessage
from agent_framework_hosting import (
    ChannelContext,
    ChannelRequest,
    ChannelSession,
    SessionBusyError,
)

from ._convert import (
    agent_input,
    answer_artifact,
    artifact_update,
    complete,
    copy_task,
    end,
    is_terminal,
    isolation_key,
    new_id,
    new_task,
    status,
    status_update,
)
from ._listing import page, validate
from ._runs import Event, LiveTask, LiveTasks
from ._store import TaskStore

logger = logging.getLogger("agent_framework.hosting.a2a")

CANCEL_CHECK_INTERVAL = 0.25
POLL_INTERVAL = 0.25
FOLLOW_SECONDS = 600.0
CANCEL_WAIT = 10.0
FAILED_TEXT = "The agent failed to answer; the server log has details."
BUSY_TEXT = "The conversation is busy with another task; send the message again later."


class HostRequestHandler(RequestHandler):
    """Implements the A2A methods; tasks live in `store`, runs in the host's background tasks."""

    def __init__(self, context: ChannelContext, store: TaskStore, *, channel: str, wait_seconds: float) -> None:
        self.context = context
        self.store = store
        self.channel = channel
        self.wait_seconds = wait_seconds
        self.runs = LiveTasks()

    # -- messages ---------------------------------------------------------------------------------------------

    @validate_request_params
    async def on_message_send(self, params: SendMessageRequest, context: ServerCallContext) -> Task | Message:
        task = await self._start(params)
        run = self.runs.get(task.id)
        if run is not None and not params.configuration.return_immediately:
            with anyio.move_on_after(self.wait_seconds):
                await run.finished.wait()
        latest = await self.store.get(task.id) or task
        return apply_history_length(latest, params.configuration)

    @validate_request_params
    async def on_message_send_stream(
        self, params: SendMessageRequest, context: ServerCallContext
    ) -> AsyncGenerator[Event, None]:
        task = await self._start(params)
        run = self.runs.get(task.id)
        if run is None:
            yield task
            return
        async for event in run.follow():
            yield event

    async def _start(self, params: SendMessageRequest) -> Task:
        """Validate the message, record a submitted task, and start its run."""
        validate_history_length(params.configuration)
        message = params.message
        if message.task_id:
            await self._refuse_continuation(message)
        user_input = agent_input(message)
        task = new_task(message, context_id=message.context_id or new_id())
        await self.store.create(task)
        run = self.runs.start(task.id)
        run.append(copy_task(task))
        run.handle = self.context.spawn(self._run(task, user_input, params, run), name=f"a2a task {task.id}")
        return task

    async def _refuse_continuation(self, message: Message) -> None:
        """Tasks here end in one turn; a conversation continues through its contextId."""
        task = await self.store.get(message.task_id)
        if task is None:
            raise TaskNotFoundError(message=f"Task {message.task_id} not found")
        if message.context_id and message.context_id != task.context_id:
            raise InvalidParamsError(
                message=f"Context {message.context_id} does not match context {task.context_id} of the task"
            )
        if is_terminal(task.status.state):
            raise UnsupportedOperationError(
                message=f"Task {task.id} is in terminal state: {TaskState.Name(task.status.state)}; "
                "send a new message with the same contextId to continue the conversation"
            )
        raise UnsupportedOperationError(message=f"Task {task.id} is still working and takes no further input")

    # -- the run ---------------------------------------------------------------------------------------------

    async def _run(self, task: Task, user_input: AgentMessage, params: SendMessageRequest, run: LiveTask) -> None:
        request = ChannelRequest(
            channel=self.channel,
            operation="message",
            input=user_input,
            session=ChannelSession(isolation_key(task.context_id)),
            attributes={"task_id": task.id, "context_id": task.context_id},
            stream=True,
        )
        artifact_id = new_id()
        streamed = False
        stream = None
        try:
            stream = await self.context.run_stream(request, protocol_request=params)
            task.status.CopyFrom(status(TaskState.TASK_STATE_WORKING))
            if not await self.store.move(task, from_state=TaskState.TASK_STATE_SUBMITTED):
                raise asyncio.CancelledError
            run.append(status_update(task))
            checked = asyncio.get_running_loop().time()
            async for update in stream:
                text = update.text
                if text:
                    run.append(
                        artifact_update(task, answer_artifact(artifact_id, text), append=streamed, last_chunk=False)
                    )
                    streamed = True
                if asyncio.get_running_loop().time() - checked >= CANCEL_CHECK_INTERVAL:
                    checked = asyncio.get_running_loop().time()
                    if await self._cancelled_elsewhere(task.id):
                        raise asyncio.CancelledError
            result = stream.result
            text = result.text if result is not None else ""
            complete(task, text, artifact_id)
            run.append(artifact_update(task, answer_artifact(artifact_id, text), append=False, last_chunk=True))
        except asyncio.CancelledError:
            end(task, TaskState.TASK_STATE_CANCELED)
        except SessionBusyError:
            logger.warning("a2a: task %s: context %s stayed busy", task.id, task.context_id)
            end(task, TaskState.TASK_STATE_FAILED, BUSY_TEXT)
        except Exception:
            logger.exception("a2a: the agent failed on task %s", task.id)
            end(task, TaskState.TASK_STATE_FAILED, FAILED_TEXT)
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    if stream is not None:
                        await stream.aclose()
                    await self._finish(task)
                    run.append(status_update(task))
                finally:
                    self.runs.end(run)

    async def _finish(self, task: Task) -> None:
        """Save the task's end, unless another process cancelled it meanwhile (a cancel is final)."""
        for before in (TaskState.TASK_STATE_WORKING, TaskState.TASK_STATE_SUBMITTED):
            if await self.store.move(task, from_state=before):
                return
        stored = await self.store.get(task.id)
        if stored is not None:
            task.status.CopyFrom(stored.status)

    async def _cancelled_elsewhere(self, task_id: str) -> bool:
        stored = await self.store.get(task_id)
        return stored is not None and stored.status.state == TaskState.TASK_STATE_CANCELED

    # -- tasks -----------------------------------------------------------------------------------------------

    @validate_request_params
    async def on_get_task(self, params: GetTaskRequest, context: ServerCallContext) -> Task | None:
        validate_history_length(params)
        task = await self.store.get(params.id)
        if task is None:
            raise TaskNotFoundError
        return apply_history_length(task, params)

    @validate_request_params
    async def on_cancel_task(self, params: CancelTaskRequest, context: ServerCallContext) -> Task | None:
        task = await self.store.get(params.id)
        if task is None:
            raise TaskNotFoundError
        if is_terminal(task.status.state):
            raise TaskNotCancelableError(
                message=f"Task {task.id} is in terminal state: {TaskState.Name(task.status.state)}"
            )
        run = self.runs.get(task.id)
        if run is not None and run.handle is not None:
            run.handle.cancel()
            with anyio.move_on_after(CANCEL_WAIT):
                await run.finished.wait()
            return await self.store.get(task.id) or task
        # Running in another process (which sees this at its next check), or in none.
        before = task.status.state
        end(task, TaskState.TASK_STATE_CANCELED)
        if not await self.store.move(task, from_state=before):
            latest = await self.store.get(task.id)
            if latest is None:
                raise TaskNotFoundError
            if latest.status.state != TaskState.TASK_STATE_CANCELED:
                raise TaskNotCancelableError(message=f"Task {task.id} ended before it could be cancelled")
            return latest
        return task

    @validate_request_params
    async def on_subscribe_to_task(
        self, params: SubscribeToTaskRequest, context: ServerCallContext
    ) -> AsyncGenerator[Event, None]:
        task = await self.store.get(params.id)
        if task is None:
            raise TaskNotFoundError
        if is_terminal(task.status.state):
            raise UnsupportedOperationError(
                message=f"Task {task.id} is in terminal state: {TaskState.Name(task.status.state)}"
            )
        run = self.runs.get(task.id)
        if run is not None:
            async for event in run.follow():
                yield event
            return
        async for event in self._poll(task):
            yield event

    async def _poll(self, task: Task) -> AsyncGenerator[Event, None]:
        """Follow a task another process runs, through the store: its snapshot, then each change of status.

        Gives up after `FOLLOW_SECONDS` (a process that died mid-task leaves it working); the client can poll.
        """
        yield task
        last = task.status.state
        deadline = asyncio.get_running_loop().time() + FOLLOW_SECONDS
        while not is_terminal(last) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(POLL_INTERVAL)
            current = await self.store.get(task.id)
            if current is None:
                return
            if current.status.state != last:
                last = current.status.state
                if is_terminal(last):
                    for artifact in current.artifacts:
                        yield artifact_update(current, artifact, append=False, last_chunk=True)
                yield status_update(current)

    @validate_request_params
    async def on_list_tasks(self, params: ListTasksRequest, context: ServerCallContext) -> ListTasksResponse:
        cursor = validate(params)
        ids = await self.store.ids(params.context_id or None)
        return page(await self.store.many(ids), params, cursor)

    # -- what this server does not offer ---------------------------------------------------------------------

    async def on_create_task_push_notification_config(
        self, params: TaskPushNotificationConfig, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        raise PushNotificationNotSupportedError

    async def on_get_task_push_notification_config(
        self, params: GetTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        raise PushNotificationNotSupportedError

    async def on_list_task_push_notification_configs(
        self, params: ListTaskPushNotificationConfigsRequest, context: ServerCallContext
    ) -> ListTaskPushNotificationConfigsResponse:
        raise PushNotificationNotSupportedError

    async def on_delete_task_push_notification_config(
        self, params: DeleteTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> None:
        raise PushNotificationNotSupportedError

    async def on_get_extended_agent_card(
        self, params: GetExtendedAgentCardRequest, context: ServerCallContext
    ) -> AgentCard:
        raise ExtendedAgentCardNotConfiguredError
