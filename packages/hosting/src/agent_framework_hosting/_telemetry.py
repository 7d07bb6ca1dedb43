"""One server span, one log line and the turn metrics per turn."""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace

from ._metrics import host_metrics
from ._types import ChannelRequest

logger = logging.getLogger("agent_framework.hosting")
_tracer = trace.get_tracer("agent_framework_hosting")
# The attribute that names what a turn answers, per channel (the first one present is logged).
TURN_ID_ATTRIBUTES = ("response_id", "activity_id", "invocation_id", "interaction_id", "update_id", "run_id", "id")


def _spans_are_no_ops() -> bool:
    """Whether the host's spans go nowhere: no tracer provider is set (the proxy tracer still delegates to a no-op).

    Reads the proxy's current tracer (private, so another API version falls back to making spans): cheaper
    than `trace.get_tracer_provider()`, which reads the environment each call.
    """
    return isinstance(getattr(_tracer, "_tracer", _tracer), trace.NoOpTracer)


def session_reference(isolation_key: str | None) -> str:
    """A short stable hash of the session key: correlates a conversation's lines without logging a chat id."""
    if isolation_key is None:
        return "-"
    return hashlib.sha256(isolation_key.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def turn_id(request: ChannelRequest) -> str:
    for name in TURN_ID_ATTRIBUTES:
        value = request.attributes.get(name)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            return str(value)
    return "-"


class TurnTrace:
    """The span, timing and metrics of one turn; `attach()` makes the span current for a step."""

    def __init__(self, request: ChannelRequest, *, stream: bool) -> None:
        self.request = request
        self.stream = stream
        self.started = time.perf_counter()
        # Without a tracer provider every span is a no-op: skip making one, its context and attaching it.
        self.span: trace.Span | None = None
        if not _spans_are_no_ops():
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
        self._first_update = False

    def attach(self) -> Any:
        return None if self.span is None else otel_context.attach(self._context)

    @staticmethod
    def detach(token: Any) -> None:
        if token is not None:
            otel_context.detach(token)

    def first_update(self) -> None:
        """Record the time to the first streamed update (once)."""
        if self._first_update:
            return
        self._first_update = True
        elapsed = time.perf_counter() - self.started
        host_metrics().first_update.record(elapsed, {"channel": self.request.channel})
        if self.span is not None:
            self.span.add_event("first update")

    def end(self, error: BaseException | None = None) -> None:
        if self._ended:
            return
        self._ended = True
        status = "ok" if error is None else type(error).__name__
        if self.span is not None:
            if error is not None:
                self.span.record_exception(error)
                self.span.set_status(trace.Status(trace.StatusCode.ERROR, type(error).__name__))
            self.span.end()
        duration = time.perf_counter() - self.started
        labels = {"channel": self.request.channel, "status": "ok" if error is None else "error"}
        metrics = host_metrics()
        metrics.turns.add(1, labels)
        metrics.turn_duration.record(duration, labels)
        if not logger.isEnabledFor(logging.INFO):
            return  # nobody reads the line: skip hashing the key and building it
        session, answered = session_reference(self.request.isolation_key), turn_id(self.request)
        logger.info(
            "turn channel=%s session=%s id=%s operation=%s stream=%s status=%s duration_ms=%.1f",
            self.request.channel,
            session,
            answered,
            self.request.operation,
            self.stream,
            status,
            duration * 1000,
            extra={
                "channel": self.request.channel,
                "session": session,
                "turn_id": answered,
                "operation": self.request.operation,
                "stream": self.stream,
                "status": status,
                "duration_ms": duration * 1000,
            },
        )
