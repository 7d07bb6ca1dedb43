"""The host's OpenTelemetry metrics; instruments come from the global meter provider unless one is given."""

from __future__ import annotations

from typing import Any

from opentelemetry import metrics

METER_NAME = "agent_framework_hosting"


class HostMetrics:
    """Every instrument the host records, made from one meter."""

    def __init__(self, provider: Any = None) -> None:
        meter = (provider or metrics.get_meter_provider()).get_meter(METER_NAME)
        self.turns = meter.create_counter("hosting.turns", unit="{turn}", description="Turns by channel and status")
        self.turn_duration = meter.create_histogram(
            "hosting.turn.duration", unit="s", description="Time from a turn's start to its end"
        )
        self.first_update = meter.create_histogram(
            "hosting.stream.time_to_first_update",
            unit="s",
            description="Time from a streamed turn's start to its first update",
        )
        self.queue_wait = meter.create_histogram(
            "hosting.queue.wait", unit="s", description="Time a turn waited for the previous turn of its conversation"
        )
        self.outbound_retries = meter.create_counter(
            "hosting.outbound.retries", unit="{retry}", description="Platform API calls retried"
        )
        self.dead_letters = meter.create_counter(
            "hosting.dead_letters", unit="{message}", description="Messages given up on and set aside"
        )


_metrics = HostMetrics()


def host_metrics() -> HostMetrics:
    return _metrics


def use_meter_provider(provider: Any = None) -> HostMetrics:
    """Record into `provider` from now on (None: the global provider again); returns the new instruments."""
    global _metrics
    _metrics = HostMetrics(provider)
    return _metrics


def record_outbound_retry(target: str, reason: str) -> None:
    """Count one retried platform API call (`target` names the platform, `reason` a status code or error type)."""
    _metrics.outbound_retries.add(1, {"target": target, "reason": reason})


def record_dead_letter(channel: str, reason: str = "undeliverable") -> None:
    """Count one message the host gave up on and set aside (for the dead-letter store)."""
    _metrics.dead_letters.add(1, {"channel": channel, "reason": reason})
