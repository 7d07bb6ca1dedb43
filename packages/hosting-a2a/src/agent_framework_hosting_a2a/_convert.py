"""Pure conversions between A2A messages and tasks and Agent Framework messages."""

from __future__ import annotations

import json
import uuid

from a2a.server.agent_execution.active_task import TERMINAL_TASK_STATES
from a2a.types import (
    Artifact,
    InvalidParamsError,
    Message,
    Part,
    Role,
    Task,
    TaskArtifactUpdateEvent,
    TaskState,
    TaskStatus,
    TaskStatusUpdateEvent,
)
from agent_framework import Content
from agent_framework import Message as AgentMessage
from google.protobuf.json_format import MessageToDict
from google.protobuf.timestamp_pb2 import Timestamp

ANSWER_ARTIFACT = "answer"
MAX_PARTS = 64


def isolation_key(context_id: str) -> str:
    """One A2A context is one conversation of the host."""
    return f"a2a:{context_id}"


def new_id() -> str:
    return uuid.uuid4().hex


def is_terminal(state: int) -> bool:
    return state in TERMINAL_TASK_STATES


def _content(part: Part, index: int) -> Content:
    kind = part.WhichOneof("content")
    if kind == "text":
        return Content.from_text(part.text)
    if kind == "data":
        return Content.from_text(json.dumps(MessageToDict(part.data), ensure_ascii=False))
    if kind == "url":
        return Content.from_uri(part.url, media_type=part.media_type or None, name=part.filename or None)
    if kind == "raw":
        return Content.from_data(part.raw, part.media_type or "application/octet-stream", name=part.filename or None)
    raise InvalidParamsError(message=f"message.parts[{index}] has no content (text, data, url or raw)")


def agent_input(message: Message) -> AgentMessage:
    """The user's A2A message as one Agent Framework message; refuses what the agent cannot read."""
    if message.role != Role.ROLE_USER:
        raise InvalidParamsError(message="message.role must be ROLE_USER")
    if not message.parts:
        raise InvalidParamsError(message="message.parts must not be empty")
    if len(message.parts) > MAX_PARTS:
        raise InvalidParamsError(message=f"message.parts holds more than {MAX_PARTS} parts")
    contents = [_content(part, index) for index, part in enumerate(message.parts)]
    if not any(content.type != "text" or content.text for content in contents):
        raise InvalidParamsError(message="message.parts hold no text")
    return AgentMessage(role="user", contents=contents)


def now() -> Timestamp:
    stamp = Timestamp()
    stamp.GetCurrentTime()
    return stamp


def status(state: TaskState, message: Message | None = None) -> TaskStatus:
    result = TaskStatus(state=state, timestamp=now())
    if message is not None:
        result.message.CopyFrom(message)
    return result


def agent_message(text: str, *, task_id: str, context_id: str) -> Message:
    return Message(
        message_id=new_id(), role=Role.ROLE_AGENT, parts=[Part(text=text)], task_id=task_id, context_id=context_id
    )


def new_task(message: Message, *, context_id: str) -> Task:
    """A submitted task for `message`, which is recorded (with its ids) as the task's history."""
    task_id = new_id()
    user = Message()
    user.CopyFrom(message)
    user.task_id = task_id
    user.context_id = context_id
    return Task(id=task_id, context_id=context_id, status=status(TaskState.TASK_STATE_SUBMITTED), history=[user])


def answer_artifact(artifact_id: str, text: str) -> Artifact:
    return Artifact(artifact_id=artifact_id, name=ANSWER_ARTIFACT, parts=[Part(text=text)])


def artifact_update(task: Task, artifact: Artifact, *, append: bool, last_chunk: bool) -> TaskArtifactUpdateEvent:
    return TaskArtifactUpdateEvent(
        task_id=task.id, context_id=task.context_id, artifact=artifact, append=append, last_chunk=last_chunk
    )


def status_update(task: Task) -> TaskStatusUpdateEvent:
    return TaskStatusUpdateEvent(task_id=task.id, context_id=task.context_id, status=task.status)


def copy_task(task: Task) -> Task:
    result = Task()
    result.CopyFrom(task)
    return result


def complete(task: Task, text: str, artifact_id: str) -> None:
    """Record the agent's answer: an artifact, the history, and the completed status carrying the answer."""
    answer = agent_message(text, task_id=task.id, context_id=task.context_id)
    del task.artifacts[:]
    task.artifacts.append(answer_artifact(artifact_id, text))
    task.history.append(answer)
    task.status.CopyFrom(status(TaskState.TASK_STATE_COMPLETED, answer))


def end(task: Task, state: TaskState, text: str | None = None) -> None:
    """Move `task` to a terminal `state`, with an explanatory agent message when `text` is given."""
    message = agent_message(text, task_id=task.id, context_id=task.context_id) if text else None
    task.status.CopyFrom(status(state, message))
