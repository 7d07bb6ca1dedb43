"""Time from the agent's first streamed update to the first byte of it on the wire (the client's socket).

The server notes `time.monotonic()` when the offline client yields each answer's first update (see
`StampingClient`); this client notes `time.monotonic()` when the bytes carrying that update arrive.
Both clocks are the machine's CLOCK_MONOTONIC, so the two can be subtracted. Requests go one at a
time, so the n-th stamp on each side belongs to the same answer.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import tempfile
import time

from _wrk import raw_request, server_process

REQUESTS = 400
WARMUP = 50


def _first_delta_times(port: int, request: bytes, marker: bytes, count: int) -> list[float]:
    """Send `request` `count` times on one connection; when each answer's `marker` arrived."""
    arrivals: list[float] = []
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(count):
            connection.sendall(request)
            buffer = b""
            seen: float | None = None
            while not buffer.endswith(b"0\r\n\r\n"):
                chunk = connection.recv(65536)
                if not chunk:
                    raise ConnectionError("the server closed the connection")
                buffer += chunk
                if seen is None and marker in buffer:
                    seen = time.monotonic()
            if seen is None:
                raise RuntimeError(f"no {marker!r} in the answer: {buffer[:300]!r}")
            arrivals.append(seen)
    return arrivals


def measure(server: str, path: str, body: dict[str, object], marker: bytes) -> list[float]:
    """Milliseconds from first update to its first byte, for `REQUESTS` answers after a warm-up."""
    with tempfile.TemporaryDirectory() as folder:
        stamps_file = os.path.join(folder, "stamps")
        with server_process(server, env={"BENCH_FIRST_UPDATE_FILE": stamps_file}) as port:
            arrivals = _first_delta_times(port, raw_request(path, json.dumps(body).encode()), marker, REQUESTS)
        with open(stamps_file) as file:
            stamps = [float(line) for line in file.read().split()]
    if len(stamps) != len(arrivals):
        raise RuntimeError(f"{len(stamps)} server stamps for {len(arrivals)} answers")
    return [(seen - stamp) * 1000 for seen, stamp in zip(arrivals[WARMUP:], stamps[WARMUP:], strict=True)]


def _quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def report() -> str:
    body = {"model": "m", "input": "hello there", "stream": True}
    rows = [
        ("bare route, an SSE event per update", measure("bare", "/v1/responses", body, b"event: delta")),
        ("responses channel, full event sequence", measure("responses", "/v1/responses", body, b"output_text.delta")),
    ]
    lines = [f"first update -> first byte on the wire ({REQUESTS - WARMUP} answers, one at a time)"]
    lines.append(f"{'server':40} {'p50 ms':>7} {'p99 ms':>7}")
    for name, values in rows:
        lines.append(f"{name:40} {_quantile(values, 50):>7.3f} {_quantile(values, 99):>7.3f}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
