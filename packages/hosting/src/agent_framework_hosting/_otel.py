"""OTLP export of traces and metrics, configured by the standard `OTEL_*` variables (the `[otlp]` extra)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from ._errors import ConfigurationError

ENDPOINT_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
)
DEFAULT_SERVICE_NAME = "agent-framework-host"


def _exporters(protocol: str) -> tuple[Any, Any]:
    """The span and metric exporter classes for `protocol` (`grpc`, else HTTP with protobuf)."""
    transport = "grpc" if protocol == "grpc" else "http"
    try:
        traces = importlib.import_module(f"opentelemetry.exporter.otlp.proto.{transport}.trace_exporter")
        metrics = importlib.import_module(f"opentelemetry.exporter.otlp.proto.{transport}.metric_exporter")
    except ImportError:
        raise ConfigurationError(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OTLP exporter is not installed: "
            "pip install 'agent-framework-hosting[otlp]'"
        ) from None
    return traces.OTLPSpanExporter, metrics.OTLPMetricExporter


def configure_otlp(environ: Mapping[str, str]) -> str | None:
    """Install OTLP trace and metric exporters when an `OTEL_EXPORTER_OTLP_*ENDPOINT` is set.

    The exporters read the other `OTEL_*` variables themselves (headers, timeouts, `OTEL_SERVICE_NAME`,
    `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_METRIC_EXPORT_INTERVAL`). Returns a description for the banner, or None.
    """
    if not any(environ.get(name) for name in ENDPOINT_VARIABLES):
        return None
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    protocol = (environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf").strip().lower()
    span_exporter, metric_exporter = _exporters(protocol)
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes = {} if environ.get("OTEL_SERVICE_NAME") else {"service.name": DEFAULT_SERVICE_NAME}
    resource = Resource.create(attributes)
    exported: list[str] = []
    if environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() != "none":
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter()))
        trace.set_tracer_provider(tracer_provider)
        exported.append("traces")
    if environ.get("OTEL_METRICS_EXPORTER", "otlp").strip().lower() != "none":
        reader = PeriodicExportingMetricReader(metric_exporter())
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))
        exported.append("metrics")
    endpoint = next(environ[name] for name in ENDPOINT_VARIABLES if environ.get(name))
    return f"{' and '.join(exported) or 'nothing'} over OTLP ({protocol}) to {endpoint}"
