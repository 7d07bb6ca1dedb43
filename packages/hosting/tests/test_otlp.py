"""`OTEL_EXPORTER_OTLP_ENDPOINT` makes the command export traces and metrics to a (fake, loopback) collector."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from agent_framework_hosting._errors import ConfigurationError
from agent_framework_hosting._otel import configure_otlp
from agent_framework_hosting.testing import free_port, running_server, wait_until
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


class Collector:
    """An OTLP/HTTP collector on loopback that keeps the span and metric names it receives."""

    def __init__(self) -> None:
        self.spans: list[str] = []
        self.metrics: list[str] = []
        self.services: set[str] = set()
        self._lock = threading.Lock()

    async def traces(self, request: Request) -> Response:
        export = ExportTraceServiceRequest.FromString(await request.body())
        with self._lock:
            for resource in export.resource_spans:
                self.services |= {a.value.string_value for a in resource.resource.attributes if a.key == "service.name"}
                self.spans += [span.name for scope in resource.scope_spans for span in scope.spans]
        return Response(b"", media_type="application/x-protobuf")

    async def metric_data(self, request: Request) -> Response:
        export = ExportMetricsServiceRequest.FromString(await request.body())
        with self._lock:
            for resource in export.resource_metrics:
                self.metrics += [metric.name for scope in resource.scope_metrics for metric in scope.metrics]
        return Response(b"", media_type="application/x-protobuf")

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/traces", self.traces, methods=["POST"]),
                Route("/v1/metrics", self.metric_data, methods=["POST"]),
            ]
        )


@pytest.mark.slow
def test_a_turn_reaches_the_collector_as_a_span_and_metrics(tmp_path: Path) -> None:
    collector = Collector()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TELEGRAM_", "DISCORD_", "OTEL_"))}
    port = free_port()
    with running_server(collector.app) as collector_url:
        environ = {
            **clean,
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector_url,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_METRIC_EXPORT_INTERVAL": "500",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
        command = [sys.executable, "-m", "agent_framework_hosting", "serve", "--port", str(port)]
        log = (tmp_path / "server.log").open("w+")
        process = subprocess.Popen(
            [*command, "--channel", "responses"], env=environ, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until(lambda: _answers(url), timeout=45, message="the server")
            assert httpx.post(f"{url}/responses", json={"input": "hi"}, timeout=30).status_code == 200
            wait_until(lambda: "responses message.create" in collector.spans, timeout=20, message="the turn's span")
            wait_until(lambda: "hosting.turns" in collector.metrics, timeout=20, message="the turn metrics")
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            log.close()
    assert collector.services == {"agent-framework-host"}
    assert "hosting.turn.duration" in collector.metrics
    assert "traces and metrics over OTLP (http/protobuf)" in (tmp_path / "server.log").read_text()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/liveness", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_nothing_is_configured_without_an_endpoint() -> None:
    assert configure_otlp({"OTEL_SERVICE_NAME": "x"}) is None


def test_a_missing_exporter_is_one_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'agent-framework-hosting\[otlp\]'"):
        configure_otlp({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
