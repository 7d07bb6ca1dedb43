"""A misconfigured `serve`: one line on stderr and exit code 1 before anything says "serving" (the real command)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TARGET = """
from agent_framework import Agent
from agent_framework_hosting.testing import OfflineChatClient

agent = Agent(client=OfflineChatClient(), name="echo")
"""


def run(cwd: Path, *argv: str, environ: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
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


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "my_targets.py").write_text(TARGET)
    return tmp_path


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "serving" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("agent-framework-host: error: ")
    return lines[0]


@pytest.mark.parametrize("state_dir", ["/etc/passwd", "/proc/nope", "{tmp}/a-file/inside"])
def test_a_state_dir_that_cannot_be_written_is_refused(project: Path, state_dir: str) -> None:
    (project / "a-file").write_text("not a folder")
    state_dir = state_dir.format(tmp=project)
    line = one_error_line(run(project, "serve", "my_targets:agent", "--state-dir", state_dir, "--port", "1"))
    assert "cannot be written" in line and state_dir in line


@pytest.mark.parametrize("state_dir", ["http://localhost:6379", "postgres-typo://x/y", "HTTPS://example/state"])
def test_an_unknown_url_scheme_is_refused_not_made_a_folder(project: Path, state_dir: str) -> None:
    line = one_error_line(run(project, "serve", "my_targets:agent", "--state-dir", state_dir, "--port", "1"))
    assert "unknown state location scheme" in line
    assert sorted(p.name for p in project.iterdir() if p.name != "__pycache__") == ["my_targets.py"]
