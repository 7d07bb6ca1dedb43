"""A TARGET that cannot be served: one line on stderr, a non-zero exit, no traceback (the real command)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("agent-framework-host")
TARGETS = """
from agent_framework import Agent
from agent_framework_hosting.testing import OfflineChatClient

agent = Agent(client=OfflineChatClient(), name="echo")
number = 42

def needs_args(model):
    return agent

def broken():
    raise RuntimeError("no model configured")
"""


def run(cwd: Path, *argv: str, script: bool = False) -> subprocess.CompletedProcess[str]:
    command = [str(SCRIPT)] if script else [sys.executable, "-m", "agent_framework_hosting"]
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TELEGRAM_", "DISCORD_", "BOT_"))}
    return subprocess.run(
        [*command, *argv], cwd=cwd, env=environ, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "my_targets.py").write_text(TARGETS)
    (tmp_path / "bad_syntax.py").write_text("agent = (\n")
    return tmp_path


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_such_module:agent", "cannot import 'no_such_module': no module named 'no_such_module'"),
        ("my_targets:missing", "module 'my_targets' has no attribute 'missing'"),
        ("my_targets:number", "my_targets:number is an int; expected an agent, a workflow"),
        ("my_targets:needs_args", "my_targets:needs_args needs arguments"),
        ("my_targets:broken", "calling my_targets:broken() failed: RuntimeError: no model configured"),
        ("bad_syntax:agent", "importing 'bad_syntax' failed: SyntaxError:"),
        ("my_targets", "TARGET must look like 'module:attribute', got 'my_targets'"),
    ],
)
def test_a_bad_target_exits_with_one_line(project: Path, target: str, message: str) -> None:
    result = run(project, "serve", target, "--port", "1")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("agent-framework-host: error: ")
    assert message in lines[0]


def test_the_console_script_reports_the_same_way(project: Path) -> None:
    result = run(project, "serve", "my_targets:number", script=True)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "agent-framework-host: error: my_targets:number is an int; expected an agent, a workflow, "
        "a zero-argument factory returning one, or an AgentFrameworkHost"
    )


def test_an_unknown_channel_name_is_a_usage_error(project: Path) -> None:
    result = run(project, "serve", "--channel", "sms")
    assert result.returncode == 2
    assert "invalid choice: 'sms'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_port_in_use_is_reported_before_serving(project: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(project, "serve", "my_targets:agent", "--port", str(port))
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"agent-framework-host: error: cannot listen on 127.0.0.1:{port}: ")
    assert line.endswith("Address already in use")
