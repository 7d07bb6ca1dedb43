"""A Responses host in its own process, sharing state through Redis with its siblings.

Run as a script, it is the process the multi-process tests start::

    python responses_redis_host.py --port 8001 --state redis://127.0.0.1:6379/0?prefix=t: --chunk-delay 0.1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from agent_framework_hosting.testing import free_port, wait_for_port

HERE = os.path.abspath(__file__)


class HostProcess:
    """This script as a subprocess in its own process group, on a free port."""

    def __init__(self, state: str, *, chunk_delay: float = 0.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="afh-responses-", suffix=".log", delete=False)
        command = [sys.executable, HERE, "--port", str(self.port), "--state", state, "--chunk-delay", str(chunk_delay)]
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 45.0) -> None:
        try:
            wait_for_port(self.port, timeout=timeout)
        except TimeoutError:
            raise RuntimeError(f"host process did not start:\n{self.output()}") from None

    def output(self) -> str:
        with open(self.log.name, encoding="utf-8", errors="replace") as handle:
            return handle.read()

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
        self.log.close()
        os.unlink(self.log.name)


@contextmanager
def host_processes(state: str, count: int, **options: float) -> Iterator[list[HostProcess]]:
    """`count` hosts sharing `state`, started in parallel; all stopped on exit."""
    started: list[HostProcess] = []
    try:
        for _ in range(count):
            started.append(HostProcess(state, **options))
        for process in started:
            process.wait_ready()
        yield started
    finally:
        for process in started:
            process.stop()


def _serve(port: int, state: str, chunk_delay: float) -> None:
    from agent_framework import Agent
    from agent_framework_hosting import AgentFrameworkHost
    from agent_framework_hosting.testing import OfflineChatClient
    from agent_framework_hosting_responses import ResponsesChannel
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.graceful_timeout = 1.0
    agent = Agent(client=OfflineChatClient(chunk_delay=chunk_delay), name="echo")
    host = AgentFrameworkHost(agent, channels=[ResponsesChannel()], state_dir=state)
    stop = asyncio.Event()

    async def main() -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await serve(host.app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    asyncio.run(main())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--chunk-delay", type=float, default=0.0)
    args = parser.parse_args()
    _serve(args.port, args.state, args.chunk_delay)
