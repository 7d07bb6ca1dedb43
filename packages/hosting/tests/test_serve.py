"""`host.serve()`: Hypercorn in one process, or several forked workers sharing the socket."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import httpx
from agent_framework_hosting.testing import free_port, wait_for_port

SCRIPT = textwrap.dedent(
    """
    import gc, os, sys
    from agent_framework import Agent
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from agent_framework_hosting import AgentFrameworkHost, ChannelContribution
    from agent_framework_hosting.testing import JsonChannel, OfflineChatClient

    class Pid:
        name = "pid"
        path = "/pid"
        def contribute(self, context):
            async def pid(request):
                return PlainTextResponse(str(os.getpid()))
            async def frozen(request):
                return PlainTextResponse(str(gc.get_freeze_count()))
            return ChannelContribution(routes=[Route("/", pid), Route("/frozen", frozen)])

    host = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[JsonChannel(), Pid()])
    host.serve(port=int(sys.argv[1]), workers=int(sys.argv[2]))
    """
)


def _serve(workers: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", SCRIPT, str(port), str(workers)], start_new_session=True)
    wait_for_port(port, timeout=30)
    return process, port


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=20)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def test_serve_runs_the_app_until_terminated() -> None:
    process, port = _serve(1)
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/readiness", timeout=10).text == "ok"
        answer = httpx.post(f"http://127.0.0.1:{port}/json", json={"text": "hi", "key": "k"}, timeout=10).json()
        assert answer == {"text": "echo 1: hi"}
    finally:
        _stop(process)


def test_serve_hides_the_startup_heap_from_the_garbage_collector() -> None:
    process, port = _serve(1)
    try:
        # imports, the agent and the app: far more objects than any request leaves behind
        assert int(httpx.get(f"http://127.0.0.1:{port}/pid/frozen", timeout=10).text) > 10_000
    finally:
        _stop(process)


def test_serve_with_two_workers_answers_from_two_processes() -> None:
    process, port = _serve(2)
    try:
        pids = set()
        for _ in range(60):
            with httpx.Client(timeout=10) as client:
                pids.add(client.get(f"http://127.0.0.1:{port}/pid").text)
            if len(pids) == 2:
                break
        assert len(pids) == 2 and str(process.pid) not in pids
    finally:
        _stop(process)
    for pid in pids:
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            continue
        raise AssertionError(f"worker {pid} outlived the server")
