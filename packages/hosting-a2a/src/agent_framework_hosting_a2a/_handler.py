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
from typing import Any

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
    StreamResponse,
    SubscribeToTaskRequest,
    Task,
    TaskNotCancelableError,
    TaskNotFoundError,
    TaskPushNotificationConfig,
    TaskState,
    TaskStatusUpdateEvent,
    UnsupportedOperationError,
)
from a2a.utils.task import apply_history_length, validate_history_length
from agent_framework import Message as AgentMessage
from agent_framework_hosting import (
    ChannelContext,
    ChannelRequest,
    ChannelSession,
    DeliveryFailed,
    DeliveryTicket,
    HostedRunResult,
    HostedStream,
    HostingError,
    SessionBusyError,
)
from google.protobuf.json_format import MessageToDict

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
from ._input import (
    Pending,
    TurnInput,
    answer_text,
    approval_reply,
    approval_requests,
    question,
    waits_for_workflow,
    workflow_question,
    workflow_requests,
)
from ._listing import page, validate
from ._push import PushConfigs, PushOptions, PushSender, destination, refusal
from ._runs import Event, LiveTask, LiveTasks
from ._store import TaskStore

logger = logging.getLogger("agent_framework.hosting.a2a")

CANCEL_CHECK_INTERVAL = 0.25
POLL_INTERVAL = 0.25
FOLLOW_SECONDS = 600.0
CANCEL_WAIT = 10.0
FAILED_TEXT = "The agent failed to answer; the server log has details."
STOPPED_TEXT = "The server stopped before the task finished; send the message again."
INTERRUPTED_TEXT = "The task was interrupted too often (its server stopped); send the message again."
INTERRUPTED = frozenset({TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED})
RESUMABLE = frozenset({TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING})
BUSY_TEXT = "The conversation is busy with another task; send the message again later."


class HostRequestHandler(RequestHandler):
    """Implements the A2A methods; tasks live in `store`, runs in the host's background tasks."""

    def __init__(
        self,
        context: ChannelContext,
        store: TaskStore,
        *,
        channel: str,
        wait_seconds: float,
        push: PushOptions | None = None,
    ) -> None:
        self.context = context
        self.store = store
        self.channel = channel
        self.wait_seconds = wait_seconds
        self.runs = LiveTasks()
        self.push_options = push
        self.push = PushConfigs(store.state, ttl=store.ttl) if push is not None else None
        self.sender = PushSender(push) if push is not None else None

    # -- messages ---------------------------------------------------------------------------------------------

    @validate_request_params
    async def on_message_send(self, params: SendMessageRequest, context: ServerCallContext) -> Task | Message:
        # A caller that waits gets the whole answer at once: run the turn unstreamed, which costs less. One that
        # returns immediately will likely subscribe, so its task streams.
        task = await self._start(params, stream=params.configuration.return_immediately)
        run = self.runs.get(task.id)
        if run is not None and not params.configuration.return_immediately:
            with anyio.move_on_after(self.wait_seconds):
                await run.finished.wait()
        latest = run.result if run is not None and run.result is not None else await self.store.get(task.id)
        return apply_history_length(latest or task, params.configuration)

    @validate_request_params
    async def on_message_send_stream(
        self, params: SendMessageRequest, context: ServerCallContext
    ) -> AsyncGenerator[Event, None]:
        task = await self._start(params, stream=True)
        run = self.runs.get(task.id)
        if run is None:
            yield task
            return
        async for event in run.follow():
            yield event

    async def _start(self, params: SendMessageRequest, *, stream: bool) -> Task:
        """Validate the message, record a submitted task, and start its run (streamed for streaming callers)."""
        validate_history_length(params.configuration)
        message = params.message
        if message.task_id:
            return await self._continue(message, params, stream=stream)
        user_input = agent_input(message)
        config = params.configuration.task_push_notification_config
        wants_push = params.configuration.HasField("task_push_notification_config")
        if wants_push:
            await self._check_push(config)
        task = new_task(message, context_id=message.context_id or new_id())
        # Recorded in the turn ledger first: if this process dies, another one (or the next start) resumes the task.
        ticket = await self.context.accept(task.id, {"task_id": task.id})
        if ticket is None:  # pragma: no cover - task ids are fresh, so the ledger never sees a repeat
            raise UnsupportedOperationError(message=f"Task {task.id} is already running")
        await self.store.create(task)
        if wants_push and self.push is not None:
            await self.push.put(_config_for(config, task.id))
        self._launch(task, user_input, params, ticket, stream=stream)
        return task

    async def _continue(self, message: Message, params: SendMessageRequest, *, stream: bool) -> Task:
        """A follow-up to a task waiting for input (an approval): the answer continues that task."""
        task, pending = await self.store.waiting(message.task_id)
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
        if task.status.state != TaskState.TASK_STATE_INPUT_REQUIRED:
            raise UnsupportedOperationError(message=f"Task {task.id} is still working and takes no further input")
        user_input: TurnInput = (
            answer_text(message) if waits_for_workflow(pending) else approval_reply(message, pending)
        )
        answer = Message()
        answer.CopyFrom(message)
        answer.context_id = task.context_id
        turn = f"{task.id}:{len(task.history)}"
        saved = {"text": user_input} if isinstance(user_input, str) else user_input.to_dict()
        ticket = await self.context.accept(turn, {"task_id": task.id, "input": saved})
        task.history.append(answer)
        task.status.CopyFrom(status(TaskState.TASK_STATE_WORKING))
        if ticket is None or not await self.store.move(task, from_state=TaskState.TASK_STATE_INPUT_REQUIRED):
            if ticket is not None:
                await self.context.handle(ticket, _nothing)
            raise UnsupportedOperationError(message=f"Task {task.id} was continued or cancelled meanwhile")
        self._launch(task, user_input, params, ticket, stream=stream)
        return task

    def _launch(
        self, task: Task, user_input: TurnInput, params: SendMessageRequest, ticket: DeliveryTicket, *, stream: bool
    ) -> None:
        run = self.runs.start(task.id)
        run.append(copy_task(task))

        async def work() -> None:
            try:
                await self.context.handle(ticket, lambda: self._run(task, user_input, params, run, stream=stream))
            finally:
                self.runs.end(run)  # also when cancelled before the run began (its own end did not happen)

        run.handle = self.context.spawn(work(), name=f"a2a task {task.id}")

    # -- tasks a dead process left unfinished (the ledger calls these) -----------------------------------------

    async def resume(self, payload: object) -> None:
        """Run again a task whose process died (or stopped) mid-run: the same question, without streaming,
        so the host answers from the saved turn when the crashed run had already saved it."""
        task = await self.store.get(str(payload.get("task_id", ""))) if isinstance(payload, dict) else None
        if task is None or not task.history or task.status.state not in RESUMABLE:
            return
        logger.warning("a2a: resuming task %s, left unfinished by a stopped process", task.id)
        question = task.history[-1]
        saved = payload.get("input") if isinstance(payload, dict) else None
        user_input: TurnInput = agent_input(question)
        if isinstance(saved, dict):
            user_input = saved["text"] if isinstance(saved.get("text"), str) else AgentMessage.from_dict(saved)
        run = self.runs.start(task.id)
        run.append(copy_task(task))
        run.handle = asyncio.current_task()
        await self._run(task, user_input, SendMessageRequest(message=question), run, stream=False)

    async def interrupted(self, payload: object) -> None:
        """A task that keeps killing its process (or was cut off too often) ends `failed`."""
        task = await self.store.get(str(payload.get("task_id", ""))) if isinstance(payload, dict) else None
        if task is None or is_terminal(task.status.state):
            return
        before = task.status.state
        end(task, TaskState.TASK_STATE_FAILED, INTERRUPTED_TEXT)
        if await self.store.move(task, from_state=before):
            await self._notify(task.id, status_update(task))

    # -- the run ---------------------------------------------------------------------------------------------

    async def _run(
        self, task: Task, user_input: TurnInput, params: SendMessageRequest, run: LiveTask, *, stream: bool
    ) -> None:
        request = ChannelRequest(
            channel=self.channel,
            operation="message",
            input=user_input,
            session=ChannelSession(isolation_key(task.context_id)),
            attributes={"task_id": task.id, "context_id": task.context_id},
            stream=stream,
        )
        artifact_id = new_id()
        updates = None
        pending: Pending = {}
        try:
            if stream:
                updates = await self.context.run_stream(request, protocol_request=params)
            before = task.status.state
            task.status.CopyFrom(status(TaskState.TASK_STATE_WORKING))
            if not await self.store.move(task, from_state=before):
                run.cancel_requested = True
                raise asyncio.CancelledError
            run.append(status_update(task))
            if params.configuration.HasField("task_push_notification_config"):
                await self._notify(task.id, status_update(task))
            if updates is not None:
                await self._relay(task, updates, run, artifact_id)
                result = updates.result
            else:
                result = await self._run_watched(task, request, params, run)
            text = result.text if result is not None else ""
            outcome = result.result if result is not None else None
            requests = approval_requests(outcome)
            asked = [] if requests else workflow_requests(outcome)
            if requests or asked:
                if requests:
                    ask = question(text, requests, task_id=task.id, context_id=task.context_id)
                    pending = {request.id: request.to_dict() for request in requests if request.id}
                else:
                    ask = workflow_question(text, asked, task_id=task.id, context_id=task.context_id)
                    pending = {request_id: {"workflow_request": True} for request_id in asked}
                task.history.append(ask)
                task.status.CopyFrom(status(TaskState.TASK_STATE_INPUT_REQUIRED, ask))
            else:
                complete(task, text, artifact_id)
                run.append(artifact_update(task, answer_artifact(artifact_id, text), append=False, last_chunk=True))
        except asyncio.CancelledError:
            if not run.cancel_requested:
                # The host is stopping. The cut-short turn may be saved with part of its answer, so running it
                # again would answer from that part: the task fails with a request to resend instead.
                end(task, TaskState.TASK_STATE_FAILED, STOPPED_TEXT)
                raise
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
                    if updates is not None:
                        await updates.aclose()
                    await self._finish(task, pending)
                    run.result = task
                    run.append(status_update(task))
                finally:
                    self.runs.end(run)
                await self._notify(task.id, status_update(task))

    async def _run_watched(
        self, task: Task, request: ChannelRequest, params: SendMessageRequest, run: LiveTask
    ) -> HostedRunResult[Any]:
        """An unstreamed turn (cheaper than a stream), stopped when another process cancels the task meanwhile.

        The store is checked every `CANCEL_CHECK_INTERVAL` by a timer, so a turn shorter than that costs no check.
        """
        loop = asyncio.get_running_loop()
        runner = asyncio.current_task()
        running = True
        timer: asyncio.TimerHandle | None = None

        async def check() -> None:
            nonlocal timer
            cancelled = await self._cancelled_elsewhere(task.id)
            if not running or runner is None:
                return
            if cancelled:
                run.cancel_requested = True
                runner.cancel()
            else:
                timer = loop.call_later(CANCEL_CHECK_INTERVAL, start_check)

        def start_check() -> None:
            self.context.spawn(check(), name=f"a2a cancel check {task.id}")

        timer = loop.call_later(CANCEL_CHECK_INTERVAL, start_check)
        try:
            return await self.context.run(request, protocol_request=params)
        finally:
            # no await between the run's end and here: a check finishing later sees `running` False
            running = False
            timer.cancel()

    async def _relay(self, task: Task, updates: HostedStream, run: LiveTask, artifact_id: str) -> None:
        """Pass the answer's chunks to the task's followers; stop when another process cancelled the task."""
        streamed = False
        checked = asyncio.get_running_loop().time()
        async for update in updates:
            text = update.text
            if text:
                run.append(artifact_update(task, answer_artifact(artifact_id, text), append=streamed, last_chunk=False))
                streamed = True
            if asyncio.get_running_loop().time() - checked >= CANCEL_CHECK_INTERVAL:
                checked = asyncio.get_running_loop().time()
                if await self._cancelled_elsewhere(task.id):
                    run.cancel_requested = True
                    raise asyncio.CancelledError

    async def _finish(self, task: Task, pending: Pending) -> None:
        """Save the task's end, unless another process cancelled it meanwhile (a cancel is final)."""
        for before in (TaskState.TASK_STATE_WORKING, TaskState.TASK_STATE_SUBMITTED):
            if await self.store.move(task, from_state=before, pending=pending):
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
            run.cancel_requested = True
            run.handle.cancel()
            with anyio.move_on_after(CANCEL_WAIT):
                await run.finished.wait()
            latest = await self.store.get(task.id)
            if latest is None or is_terminal(latest.status.state):
                return latest or task
            task = latest
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
        await self._notify(task.id, status_update(task))
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
        while last not in INTERRUPTED and not is_terminal(last) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(POLL_INTERVAL)
            current = await self.store.get(task.id)
            if current is None:
                return
            if current.status.state != last:
                last = current.status.state
                if is_terminal(last) or last in INTERRUPTED:
                    for artifact in current.artifacts:
                        yield artifact_update(current, artifact, append=False, last_chunk=True)
                yield status_update(current)

    @validate_request_params
    async def on_list_tasks(self, params: ListTasksRequest, context: ServerCallContext) -> ListTasksResponse:
        cursor = validate(params)
        ids = await self.store.ids(params.context_id or None)
        return page(await self.store.many(ids), params, cursor)

    # -- push notifications ----------------------------------------------------------------------------------

    def _push_store(self) -> PushConfigs:
        if self.push is None:
            raise PushNotificationNotSupportedError
        return self.push

    async def _check_push(self, config: TaskPushNotificationConfig) -> None:
        if self.push_options is None:
            raise PushNotificationNotSupportedError
        reason = await refusal(config.url, self.push_options)
        if reason is not None:
            raise InvalidParamsError(message=f"push notification URL refused: {reason}")

    async def _known_task(self, task_id: str) -> None:
        if await self.store.get(task_id) is None:
            raise TaskNotFoundError

    async def _notify(self, task_id: str, event: TaskStatusUpdateEvent) -> None:
        """POST `event` to every push config of the task; a failed delivery goes to the durable outbox."""
        if self.push is None or self.sender is None:
            return
        try:
            configs = await self.push.all(task_id)
        except HostingError:
            logger.warning("a2a: could not read the push configs of task %s", task_id)
            return
        if not configs:
            return
        payload = MessageToDict(StreamResponse(status_update=event))
        for config in configs:
            where = destination(config)
            try:
                with anyio.fail_after(self.sender.options.timeout * 2 + 1):
                    await self.sender.resend(where, payload)
            except (DeliveryFailed, TimeoutError) as error:
                key = f"a2a-push:{task_id}:{config.id}:{TaskState.Name(event.status.state)}"
                await self.context.keep(where, payload, key=key, error=error)

    async def resend(self, destination: object, payload: object) -> None:
        """The outbox retrying a notification."""
        if self.sender is None:
            raise DeliveryFailed("push notifications are off", permanent=True)
        await self.sender.resend(destination, payload)

    async def on_create_task_push_notification_config(
        self, params: TaskPushNotificationConfig, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        push = self._push_store()
        await self._known_task(params.task_id)
        await self._check_push(params)
        config = _config_for(params, params.task_id)
        await push.put(config)
        return config

    async def on_get_task_push_notification_config(
        self, params: GetTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> TaskPushNotificationConfig:
        push = self._push_store()
        await self._known_task(params.task_id)
        for config in await push.all(params.task_id):
            if config.id == params.id:
                return config
        raise TaskNotFoundError(message=f"Task {params.task_id} has no push notification config {params.id}")

    async def on_list_task_push_notification_configs(
        self, params: ListTaskPushNotificationConfigsRequest, context: ServerCallContext
    ) -> ListTaskPushNotificationConfigsResponse:
        push = self._push_store()
        await self._known_task(params.task_id)
        configs = await push.all(params.task_id)
        start = int(params.page_token) if params.page_token.isdigit() else 0
        if params.page_token and not params.page_token.isdigit():
            raise InvalidParamsError(message="page_token is not a token this server issued")
        size = params.page_size if params.page_size > 0 else len(configs) or 1
        response = ListTaskPushNotificationConfigsResponse(configs=configs[start : start + size])
        if start + size < len(configs):
            response.next_page_token = str(start + size)
        return response

    async def on_delete_task_push_notification_config(
        self, params: DeleteTaskPushNotificationConfigRequest, context: ServerCallContext
    ) -> None:
        push = self._push_store()
        await self._known_task(params.task_id)
        await push.delete(params.task_id, params.id)

    # -- what this server does not offer ---------------------------------------------------------------------

    async def on_get_extended_agent_card(
        self, params: GetExtendedAgentCardRequest, context: ServerCallContext
    ) -> AgentCard:
        raise ExtendedAgentCardNotConfiguredError


async def _nothing() -> None:
    """The work of a ledger ticket that turned out not to be needed."""


def _config_for(config: TaskPushNotificationConfig, task_id: str) -> TaskPushNotificationConfig:
    """A copy of `config` for `task_id`, with an id (a new one when the client gave none)."""
    result = TaskPushNotificationConfig()
    result.CopyFrom(config)
    result.task_id = task_id
    if not result.id:
        result.id = new_id()
    return result
