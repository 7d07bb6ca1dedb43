"""The command line as an operator runs it: version and help, graceful drain on SIGTERM, a model that is down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from agent_framework_hosting import __version__
from agent_framework_hosting.testing import ServerProcess, free_port, wait_until

SLOW = """
from agent_framework import Agent
from agent_framework_hosting.testing import OfflineChatClient

WORDS = " ".join(f"w{i}" for i in range(12))
agent = Agent(client=OfflineChatClient(reply=lambda messages: WORDS, chunk_delay=0.5), name="slow")
"""


def cli(*argv: str, cwd: Path | None = None, environ: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TELEGRAM_", "DISCORD_", "BOT_"))}
    return subprocess.run(
        [sys.executable, "-m", "agent_framework_hosting", *argv],
        cwd=cwd,
        env={**clean, **(environ or {})},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_version_prints_the_package_version() -> None:
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"agent-framework-host {__version__}"


def test_no_arguments_prints_help() -> None:
    result = cli()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: agent-framework-host")
    assert "serve" in result.stdout and result.stderr == ""


@pytest.fixture
def slow_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "slow_target.py").write_text(SLOW)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    for name in [k for k in os.environ if k.startswith(("OPENAI_", "TELEGRAM_", "DISCORD_", "BOT_"))]:
        monkeypatch.delenv(name)
    return tmp_path


def stream_in_background(url: str) -> tuple[threading.Thread, list[str], threading.Event]:
    """POST a streamed turn; collect its SSE lines; set the event once the first delta arrived."""
    lines: list[str] = []
    first = threading.Event()

    def read() -> None:
        body = {"input": "go", "stream": True}
        try:
            with httpx.stream("POST", f"{url}/responses", json=body, timeout=30) as answer:
                for line in answer.iter_lines():
                    lines.append(line)
                    if "response.output_text.delta" in line:
                        first.set()
        except httpx.HTTPError as error:
            lines.append(f"!{type(error).__name__}")
        first.set()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread, lines, first


def serve_slow(*extra: str) -> ServerProcess:
    command = [sys.executable, "-m", "agent_framework_hosting", "serve", "slow_target:agent", "--port", "{port}"]
    server = ServerProcess([*command, "--channel", "responses", *extra], name="drain")
    server.wait_ready()
    return server


@pytest.mark.slow
def test_sigterm_lets_a_stream_in_flight_finish_and_refuses_new_connections(slow_target: Path) -> None:
    server = serve_slow()
    try:
        thread, lines, first = stream_in_background(server.url)
        assert first.wait(20), server.output()
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        wait_until(lambda: not _accepts(server.port), timeout=5, message="the listener to close")
        thread.join(30)
        assert any("response.completed" in line for line in lines), (lines[-5:], server.output())
        assert any("w11" in line for line in lines)
        assert server.process.wait(timeout=20) == 0
        assert time.monotonic() - started > 3, "the stream outlived Hypercorn's default 3 s grace"
    finally:
        server.stop()


@pytest.mark.slow
def test_the_grace_period_bounds_the_drain(slow_target: Path) -> None:
    server = serve_slow("--graceful-timeout", "1")
    try:
        thread, lines, first = stream_in_background(server.url)
        assert first.wait(20), server.output()
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=15)
        assert time.monotonic() - started < 8
        thread.join(10)
        assert not any("response.completed" in line for line in lines)
    finally:
        server.stop()


def _accepts(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_a_model_server_that_is_down_gives_one_warning_then_one_line_per_failed_turn(tmp_path: Path) -> None:
    closed = free_port()
    environ = {"OPENAI_BASE_URL": f"http://127.0.0.1:{closed}/v1", "OPENAI_API_KEY": "sk-test", "OPENAI_MODEL": "m"}
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TELEGRAM_", "DISCORD_", "BOT_"))}
    log = (tmp_path / "server.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "agent_framework_hosting", "serve", "--port", str(port), "--channel", "responses"],
        env={**clean, **environ},
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _accepts(port), timeout=45, message="the server to listen")
        before = (tmp_path / "server.log").read_text()
        warnings = [line for line in before.splitlines() if "cannot be reached" in line]
        assert len(warnings) == 1 and f"127.0.0.1:{closed}" in warnings[0], before
        for _ in range(2):
            answer = httpx.post(f"{url}/responses", json={"input": "hi"}, timeout=60)
            assert answer.status_code == 500
        time.sleep(0.5)
        during = (tmp_path / "server.log").read_text()[len(before) :]
        assert "Traceback" not in during, during
        failures = [line for line in during.splitlines() if line.startswith(("ERROR", "WARNING"))]
        assert len(failures) == 2, during
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.close()
