"""One server span and one log line per turn."""

from __future__ import annotations

import logging
import time
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from ._types import ChannelRequest

logger = logging.getLogger("agent_framework.hosting")
_tracer = trace.get_tracer("agent_framework_hosting")


class TurnTrace:
    """The span and timing of one turn; `attach()` makes the span current for a step."""

    def __init__(self, request: ChannelRequest, *, stream: bool) -> None:
        self.request = request
        self.stream = stream
        self.started = time.perf_counter()
        self.span = _tracer.start_span(
            f"{request.channel} {request.operation}",
            kind=trace.SpanKind.SERVER,
            attributes={
                "hosting.channel": request.channel,
                "hosting.operation": request.operation,
                "hosting.stream": stream,
                "hosting.session": request.isolation_key is not None,
            },
        )
        self._context = trace.set_span_in_context(self.span)
        self._ended = False

    def attach(self) -> Any:
        return otel_context.attach(self._context)

    @staticmethod
    def detach(token: Any) -> None:
        otel_context.detach(token)

    def end(self, error: BaseException | None = None) -> None:
        if self._ended:
            return
        self._ended = True
        status = "ok" if error is None else type(error).__name__
        if error is not None:
            self.span.record_exception(error)
            self.span.set_status(trace.Status(trace.StatusCode.ERROR, type(error).__name__))
        self.span.end()
        duration_ms = (time.perf_counter() - self.started) * 1000
        logger.info(
            "turn channel=%s operation=%s stream=%s status=%s duration_ms=%.1f",
            self.request.channel,
            self.request.operation,
            self.stream,
            status,
            duration_ms,
            extra={
                "channel": self.request.channel,
                "operation": self.request.operation,
                "stream": self.stream,
                "status": status,
                "duration_ms": duration_ms,
            },
        )
