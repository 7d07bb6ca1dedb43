"""The open agent protocols (A2A, MCP, AG-UI) against bare routes calling the same agent, under `wrk`.

    python benchmarks/bench_protocols.py [--seconds 10] [--warmup 10] [--rounds 2] [--connections 32]

Each request is a new user message in one of 64 conversations (A2A contexts, MCP `conversation`
arguments, AG-UI threads). The bare routes parse the same body, keep a session per conversation and
run the same offline agent, but keep no records: no A2A task store or background run, no MCP
session manager, no AG-UI seen-message bookkeeping, no per-conversation locks.

- A2A: `SendMessage` (JSON-RPC, `A2A-Version: 1.0`), answered with the completed task.
- MCP: a stateless (2026-07-28) `tools/call` of `ask`, answered in JSON.
- AG-UI: a `RunAgentInput` with one new message, answered as an event stream.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _wrk import Bench, Target, Template  # noqa: E402

MODERN_MCP = "2026-07-28"


def a2a() -> Template:
    message = {"messageId": "m{n}", "role": "ROLE_USER", "parts": [{"text": "hello there"}], "contextId": "c{chat}"}
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}})
    return Template("/a2a", body, {"A2A-Version": "1.0"})


def mcp() -> Template:
    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN_MCP,
        "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    params = {"name": "ask", "arguments": {"message": "hello there", "conversation": "c{chat}"}, "_meta": meta}
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
    headers = {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": MODERN_MCP,
        "Mcp-Method": "tools/call",
        "Mcp-Name": "ask",
    }
    return Template("/mcp", body, headers)


def ag_ui() -> Template:
    run = {
        "threadId": "t{chat}",
        "runId": "r{n}",
        "messages": [{"id": "m{n}", "role": "user", "content": "hello there"}],
        "tools": [],
        "context": [],
        "state": None,
        "forwardedProps": {},
    }
    return Template("/ag-ui", json.dumps(run))


def main() -> None:
    bench = Bench(__doc__)
    for name, server, requests in (
        ("A2A SendMessage", "a2a", a2a),
        ("MCP tools/call", "mcp", mcp),
        ("AG-UI run", "ag-ui", ag_ui),
    ):
        bench.pair(name, Target("bare", "bare", requests()), Target(name, server, requests()))
    bench.report()


if __name__ == "__main__":
    main()
