"""The offline chat client: deterministic replies computed from the conversation, no network.

`agent_framework_hosting.testing.OfflineChatClient` for tests, and the base of the demo model.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from agent_framework import (
    BaseChatClient,
    ChatResponse,
    ChatResponseUpdate,
    Content,
    FunctionInvocationLayer,
    Message,
)

Reply = Callable[[Sequence[Message]], str]
FAIL_MARKER = "[fail]"


def echo_reply(messages: Sequence[Message]) -> str:
    """``echo <n>: <last user text>``, where n counts the user messages the model saw."""
    users = [m for m in messages if m.role == "user"]
    last = users[-1].text if users else ""
    return f"echo {len(users)}: {last}"


def words(text: str) -> list[str]:
    """Split text into chunks that concatenate back to exactly `text`."""
    parts = text.split(" ")
    return [part + " " for part in parts[:-1]] + [parts[-1]] if parts else [text]


class OfflineChatClient(FunctionInvocationLayer[Any], BaseChatClient[Any]):
    """A chat client that needs no network: replies are computed from the messages.

    `reply` computes the answer (default `echo_reply`); `chunk_delay` slows each
    streamed chunk, `response_delay` each non-streamed answer; a user message
    containing ``[fail]`` makes the call raise, mid-stream when streaming. `calls` records the messages of every call.
    A subclass may override `plan` to choose each output itself (text or a function call).
    """

    def __init__(
        self, *, reply: Reply = echo_reply, chunk_delay: float = 0.0, response_delay: float = 0.0, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.reply = reply
        self.chunk_delay = chunk_delay
        self.response_delay = response_delay
        self.calls: list[list[Message]] = []

    def plan(self, messages: Sequence[Message], options: Any) -> Content | None:
        """The next output, or None to answer `reply(messages)` (recorded in `calls`, failing on ``[fail]``)."""
        return None

    def _answer(self, messages: Sequence[Message]) -> str:
        self.calls.append(list(messages))
        return self.reply(messages)

    @staticmethod
    def _fails(messages: Sequence[Message]) -> bool:
        users = [m for m in messages if m.role == "user"]
        return bool(users) and FAIL_MARKER in users[-1].text

    @staticmethod
    def _usage(messages: Sequence[Message], text: str) -> dict[str, int]:
        prompt = sum(len(m.text.split()) for m in messages)
        completion = len(text.split())
        return {"input_token_count": prompt, "output_token_count": completion, "total_token_count": prompt + completion}

    def _inner_get_response(self, *, messages: Sequence[Message], stream: bool, options: Any, **kwargs: Any) -> Any:
        step = self.plan(messages, options)
        if stream:
            return self._build_response_stream(self._stream(messages) if step is None else self._stream(messages, step))

        async def respond() -> ChatResponse:
            if step is None and self._fails(messages):
                raise RuntimeError("offline model failure requested")
            output = Content.from_text(self._answer(messages)) if step is None else step
            if self.response_delay:
                await asyncio.sleep(self.response_delay)
            return ChatResponse(
                messages=[Message(role="assistant", contents=[output])],
                usage_details=self._usage(messages, output.text or ""),  # type: ignore[arg-type]
                finish_reason="tool_calls" if output.type == "function_call" else "stop",
            )

        return respond()

    async def _stream(
        self, messages: Sequence[Message], step: Content | None = None
    ) -> AsyncIterator[ChatResponseUpdate]:
        if step is not None and step.type == "function_call":
            yield ChatResponseUpdate(role="assistant", contents=[step], finish_reason="tool_calls")
            return
        text = self._answer(messages) if step is None else step.text or ""
        chunks = words(text)
        for index, chunk in enumerate(chunks):
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
            if step is None and index == len(chunks) // 2 and self._fails(messages):
                raise RuntimeError("offline model failure requested")
            yield ChatResponseUpdate(role="assistant", contents=[Content.from_text(chunk)])
        yield ChatResponseUpdate(
            role="assistant",
            contents=[Content.from_usage(self._usage(messages, text))],  # type: ignore[arg-type]
            finish_reason="stop",
        )
