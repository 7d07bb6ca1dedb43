"""Every code block in the repository README runs, or says why it cannot and is checked another way.

A block may be preceded by a directive, ``<!-- readme-test: MODE ... -->``:

- ``run`` (the default for python and bash): run it; ``127.0.0.1:8000`` is the demo agent served
  with every installed channel that needs no settings, started for these tests on a free port
  (``agent-framework-host serve`` serves the same agent). curl fails on HTTP errors.
- ``file`` (the default for a python block whose first line is ``# name.py``): written to the
  working folder the other blocks run in, and executed once on its own.
- ``serve [fake-openai[=URL]]``: the block starts a server; it is started on a free port, must
  answer ``/readiness`` and a turn on its Responses or Invocations endpoint, and is stopped.
  ``fake-openai`` points ``OPENAI_*`` at a fake OpenAI-compatible server on loopback
  (``=URL``: that URL in the block is replaced by the fake's).
- ``output COMMAND``: the block is exactly what COMMAND prints on startup.
- ``skip (REASON); check NAME``: not run, for REASON; the named check below runs instead.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from agent_framework_hosting.testing import free_port, running_server

from .fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\s*$")
DIRECTIVE = re.compile(r"^<!--\s*readme-test:\s*(.*?)\s*-->\s*$")
FILE_HEADER = re.compile(r"^#\s*([\w.-]+\.py)\s*$")
STRIPPED_ENV = ("OPENAI_", "TELEGRAM_", "DISCORD_", "BOT_", "RESPONSES_API_KEY", "A2A_", "MCP_", "AG_UI_", "FOUNDRY_")
DEMO_ADDRESSES = ("127.0.0.1:8000", "localhost:8000")
READY_TIMEOUT = 45.0
RUN_TIMEOUT = 90.0


@dataclass(frozen=True)
class Block:
    line: int
    lang: str
    text: str
    directive: str

    @property
    def where(self) -> str:
        return f"README.md block at line {self.line} (```{self.lang})"

    @property
    def file_name(self) -> str | None:
        match = FILE_HEADER.match(self.text.splitlines()[0]) if self.lang == "python" and self.text else None
        return match.group(1) if match else None

    @property
    def mode(self) -> str:
        if self.directive:
            return self.directive.split()[0]
        if self.file_name:
            return "file"
        return "run" if self.lang in ("python", "bash") else "missing"

    @property
    def argument(self) -> str:
        return self.directive.partition(" ")[2].strip()


def read_blocks() -> list[Block]:
    blocks: list[Block] = []
    lines = README.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        end = next((i for i in range(index + 1, len(lines)) if lines[i].strip() == "```"), None)
        assert end is not None, f"README.md line {index + 1}: the code block never closes"
        before = DIRECTIVE.match(lines[index - 1]) if index else None
        text = "\n".join(lines[index + 1 : end])
        blocks.append(Block(index + 1, opening.group(1) or "(none)", text, before.group(1) if before else ""))
        index = end + 1
    return blocks


BLOCKS = read_blocks()


def env(**extra: str) -> dict[str, str]:
    """The test's environment without any channel or model setting, with this interpreter's scripts first."""
    result = {k: v for k, v in os.environ.items() if not k.startswith(STRIPPED_ENV) and k != "PORT"}
    result["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{result.get('PATH', '')}"
    result["PYTHONUNBUFFERED"] = "1"
    result.update(extra)
    return result


class Server:
    """A command in its own process group, output in files; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, argv: list[str], *, environ: dict[str, str], cwd: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.stdout_path = cwd / f".server-{port}.out"
        self.stderr_path = cwd / f".server-{port}.err"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(argv, cwd=cwd, env=environ, stdout=out, stderr=err, start_new_session=True)

    def output(self) -> str:
        return self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(errors="replace")

    def wait_ready(self, where: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"{where}: the server exited with {self.process.returncode}:\n{self.output()[-3000:]}")
            try:
                if httpx.get(self.url + "/readiness", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        pytest.fail(f"{where}: the server was not ready within {READY_TIMEOUT} s:\n{self.output()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder blocks run in, holding every file block."""
    folder = tmp_path_factory.mktemp("readme")
    for block in BLOCKS:
        if block.mode == "file" and block.file_name:
            (folder / block.file_name).write_text(block.text + "\n", encoding="utf-8")
    curl_home = folder / ".curl"
    curl_home.mkdir()
    (curl_home / ".curlrc").write_text("--fail-with-body\n--silent\n--show-error\n--max-time 60\n")
    return folder


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[str]:
    with running_server(FakeOpenAI().app) as url:
        yield url + "/v1"


DEMO_HOST = """
import importlib, sys
from agent_framework_hosting import AgentFrameworkHost
from agent_framework_hosting._demo import demo_agent
from agent_framework_hosting.testing import serve_until_terminated

CHANNELS = [
    ("agent_framework_hosting_responses", "ResponsesChannel"),
    ("agent_framework_hosting_invocations", "InvocationsChannel"),
    ("agent_framework_hosting_webchat", "WebChatChannel"),
    ("agent_framework_hosting_a2a", "A2AChannel"),
    ("agent_framework_hosting_mcp", "MCPChannel"),
    ("agent_framework_hosting_ag_ui", "AGUIChannel"),
]
channels = [getattr(importlib.import_module(module), name)() for module, name in CHANNELS]
serve_until_terminated(AgentFrameworkHost(demo_agent({}).agent, channels=channels).app, int(sys.argv[1]))
"""


@pytest.fixture(scope="module")
def demo(workdir: Path) -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-c", DEMO_HOST, str(port)]
    server = Server(argv, environ=env(), cwd=workdir, port=port)
    try:
        server.wait_ready("the demo host for the README's client blocks")
        yield server.url
    finally:
        server.stop()


def at_demo(text: str, demo: str) -> str:
    for address in DEMO_ADDRESSES:
        text = text.replace(address, urlsplit(demo).netloc)
    return text


def run_block(block: Block, workdir: Path, demo: str, fake_openai: str) -> None:
    text = at_demo(block.text, demo)
    environ = env(CURL_HOME=str(workdir / ".curl"), OPENAI_API_KEY="test-key", OPENAI_BASE_URL=fake_openai)
    if block.lang == "python":
        script = workdir / f"_block_{block.line}.py"
        script.write_text(text + "\n", encoding="utf-8")
        argv = [sys.executable, str(script)]
    elif block.lang == "bash":
        argv = ["bash", "-e", "-o", "pipefail", "-c", text]
    else:
        pytest.fail(f"{block.where}: cannot run a {block.lang} block; give it a readme-test directive")
    try:
        done = subprocess.run(argv, cwd=workdir, env=environ, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{block.where}: still running after {RUN_TIMEOUT} s")
    if done.returncode != 0:
        pytest.fail(
            f"{block.where} failed with exit code {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        )


def probe(server: Server, block: Block, *, fake: bool) -> None:
    """One turn through the server's Responses or Invocations endpoint, if it has one."""
    question = "hello from the README test"
    answer = httpx.post(server.url + "/responses", json={"model": "m", "input": question}, timeout=60)
    if answer.status_code != 404:
        assert answer.status_code == 200, f"{block.where}: POST /responses answered {answer.status_code}: {answer.text}"
        texts = [p["text"] for item in answer.json()["output"] for p in item.get("content") or [] if "text" in p]
        text = "".join(texts)
    else:
        answer = httpx.post(server.url + "/invocations", json={"message": question}, timeout=60)
        if answer.status_code == 404:
            return
        assert answer.status_code == 200, (
            f"{block.where}: POST /invocations answered {answer.status_code}: {answer.text}"
        )
        text = answer.json()["response"]
    assert text, f"{block.where}: the server answered a turn with no text"
    if fake:
        assert text.startswith("fake "), f"{block.where}: the answer did not come from the configured model: {text!r}"


def serve_block(block: Block, workdir: Path, fake_openai: str) -> None:
    port = free_port()
    text = re.sub(r"(--port[ =]|port=)\d+", rf"\g<1>{port}", block.text)
    options = block.argument.split()
    extra = {"PORT": str(port)}
    fake = any(option.startswith("fake-openai") for option in options)
    for option in options:
        name, _, value = option.partition("=")
        if name != "fake-openai":
            pytest.fail(f"{block.where}: unknown serve option {option!r}")
        if value:
            assert value in text, f"{block.where}: fake-openai={value} does not occur in the block"
            text = text.replace(value, fake_openai)
        else:
            extra.update(OPENAI_API_KEY="test-key", OPENAI_BASE_URL=fake_openai)
    if block.lang == "python":
        script = workdir / f"_serve_{block.line}.py"
        script.write_text(text + "\n", encoding="utf-8")
        argv = [sys.executable, str(script)]
    else:
        commands = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        assert len(commands) == 1, f"{block.where}: a serve block holds exactly one command"
        argv = ["bash", "-c", commands[0]]
    server = Server(argv, environ=env(**extra), cwd=workdir, port=port)
    try:
        server.wait_ready(block.where)
        probe(server, block, fake=fake)
    finally:
        server.stop()


def output_block(block: Block, workdir: Path) -> None:
    port = free_port()
    command = shlex.split(block.argument) + ["--port", str(port)]
    server = Server(command, environ=env(), cwd=workdir, port=port)
    try:
        server.wait_ready(block.where)
        printed = server.stdout_path.read_text()
    finally:
        server.stop()
    printed = printed.replace(f":{port}", ":8000").strip()
    if printed != block.text.strip():
        diff = "\n".join(
            difflib.unified_diff(block.text.strip().splitlines(), printed.splitlines(), "README", "printed")
        )
        pytest.fail(f"{block.where} differs from what `{block.argument}` prints:\n{diff}")


# -- checks for blocks that cannot run here ---------------------------------------------------------


def check_shell_syntax(block: Block) -> None:
    scripts = re.findall(r"\./(scripts/[\w.-]+\.sh)", block.text)
    assert scripts, f"{block.where}: names no ./scripts/*.sh"
    for script in scripts:
        assert (ROOT / script).is_file(), f"{block.where}: {script} does not exist"
        checked = subprocess.run(["bash", "-n", str(ROOT / script)], capture_output=True, text=True)
        assert checked.returncode == 0, f"{block.where}: {script} is not valid bash: {checked.stderr}"


def _project_names() -> set[str]:
    names = set()
    for pyproject in ROOT.glob("packages/*/pyproject.toml"):
        found = re.search(r'^name\s*=\s*"([^"]+)"', pyproject.read_text(), re.MULTILINE)
        if found:
            names.add(found.group(1))
    return names


def check_pip_requirements(block: Block) -> None:
    """Every distribution named is a package of this repository (installed here) with the extras named."""
    projects = _project_names()
    lines = [line.split("#", 1)[0] for line in block.text.splitlines() if line.strip().startswith("pip install")]
    assert lines, f"{block.where}: no pip install line"
    for line in lines:
        for requirement in shlex.split(line)[2:]:
            if requirement.startswith("-"):
                continue
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[([^\]]*)\])?", requirement)
            assert match, f"{block.where}: cannot read requirement {requirement!r}"
            name, extras = match.group(1), [e.strip() for e in (match.group(2) or "").split(",") if e.strip()]
            assert name in projects, f"{block.where}: {name} is not a package of this repository"
            declared = importlib.metadata.metadata(name).get_all("Provides-Extra") or []
            missing = [extra for extra in extras if extra not in declared]
            assert not missing, f"{block.where}: {name} declares no extra {missing}"


def check_playground_endpoint(block: Block) -> None:
    from agent_framework_hosting_activity_protocol import ActivityProtocolChannel

    url = re.search(r"-e\s+(\S+)", block.text)
    assert url, f"{block.where}: no -e endpoint"
    assert urlsplit(url.group(1)).path == ActivityProtocolChannel().path, f"{block.where}: not the channel's path"
    serving = [b for b in BLOCKS if b.mode == "serve" and "BOT_ANONYMOUS=1" in b.text]
    port = urlsplit(url.group(1)).port
    assert any(f"--port {port}" in b.text for b in serving), f"{block.where}: no anonymous serve block on port {port}"


def check_python_compile(block: Block) -> None:
    scripts = re.findall(r"\b(benchmarks/[\w.-]+\.py)", block.text)
    assert scripts, f"{block.where}: names no benchmarks/*.py"
    for script in scripts:
        assert (ROOT / script).is_file(), f"{block.where}: {script} does not exist"
        source = (ROOT / script).read_text(encoding="utf-8")
        compile(source, script, "exec")


CHECKS: dict[str, Callable[[Block], None]] = {
    "shell-syntax": check_shell_syntax,
    "pip-requirements": check_pip_requirements,
    "playground-endpoint": check_playground_endpoint,
    "python-compile": check_python_compile,
}


def skip_block(block: Block) -> None:
    match = re.fullmatch(r"skip\s+\((.+)\);\s*check\s+([\w-]+)", block.directive)
    if match is None:
        pytest.fail(f"{block.where}: a skipped block needs 'skip (REASON); check NAME', got {block.directive!r}")
    check = CHECKS.get(match.group(2))
    if check is None:
        pytest.fail(f"{block.where}: unknown check {match.group(2)!r}; known: {sorted(CHECKS)}")
    check(block)


def file_block(block: Block, workdir: Path, fake_openai: str) -> None:
    environ = env(OPENAI_API_KEY="test-key", OPENAI_BASE_URL=fake_openai)
    code = f"import runpy; runpy.run_path({block.file_name!r})"
    done = subprocess.run([sys.executable, "-c", code], cwd=workdir, env=environ, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"{block.where} ({block.file_name}) does not run:\n{done.stderr[-3000:]}")


def test_the_readme_has_blocks_of_every_kind() -> None:
    modes = {block.mode for block in BLOCKS}
    assert {"run", "serve", "file", "output", "skip"} <= modes, modes
    assert "missing" not in modes, [b.where for b in BLOCKS if b.mode == "missing"]


@pytest.mark.parametrize("block", BLOCKS, ids=[f"line{b.line}-{b.lang}-{b.mode}" for b in BLOCKS])
def test_readme_block(block: Block, request: pytest.FixtureRequest) -> None:
    if block.mode == "skip":
        skip_block(block)
        return
    workdir: Path = request.getfixturevalue("workdir")
    if block.mode == "output":
        output_block(block, workdir)
        return
    fake_openai: str = request.getfixturevalue("fake_openai")
    if block.mode == "file":
        file_block(block, workdir, fake_openai)
    elif block.mode == "serve":
        serve_block(block, workdir, fake_openai)
    elif block.mode == "run":
        run_block(block, workdir, request.getfixturevalue("demo"), fake_openai)
    else:
        pytest.fail(f"{block.where}: unknown readme-test mode {block.mode!r} (or a {block.lang} block without one)")
