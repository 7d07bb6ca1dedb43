"""Measure servers with `wrk`: the server pinned to one core, the load generator to the other.

A `Target` is a server process (`_servers.py NAME`) plus the requests to send it. `compare` warms
each target up, then measures the targets in alternation for `rounds` rounds and reports each one's
median, so a slow minute of the machine touches every server alike.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Union

HERE = os.path.dirname(os.path.abspath(__file__))
SERVERS = os.path.join(HERE, "_servers.py")
SERVER_CORE = "0"
LOAD_CORE = "1"

# Replays pre-built raw requests in a loop: one file, requests separated by a NUL line.
REPLAY_LUA = """
local requests = {}
local index = 0
function init(args)
  local file = assert(io.open(args[1], "rb"))
  local data = file:read("*a")
  file:close()
  for raw in string.gmatch(data, "(.-)%z\\n") do requests[#requests + 1] = raw end
end
function request()
  index = index % #requests + 1
  return requests[index]
end
"""

# Requests are rendered in Python before a run and only replayed by `wrk`: Lua templating (and signing) on the
# load core cost as much as a light route does on the server core, and made the generator the limit.
NGINX = "/usr/sbin/nginx"
# A native server answering every request with a constant: what `wrk` on its core can drive at most.
NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {folder}/body;
  proxy_temp_path {folder}/proxy;
  fastcgi_temp_path {folder}/fastcgi;
  uwsgi_temp_path {folder}/uwsgi;
  scgi_temp_path {folder}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{ default_type application/json; return 200 '{{}}'; }}
  }}
}}
"""
MAX_RATE = 12_000
"""The most requests per second a run is given new requests for (a run that sends more fails loudly)."""


def _apt_install(package: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package], check=True, env=env)


def ensure_tools() -> None:
    """Install what the benchmarks need when it is missing: `wrk` and nginx (apt), uvicorn (pip)."""
    if shutil.which("wrk") is None:
        _apt_install("wrk")
    if shutil.which("nginx") is None and not os.path.exists(NGINX):
        _apt_install("nginx-light")
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "uvicorn[standard]"], check=True)


def raw_request(path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    """One HTTP/1.1 POST as bytes, as `wrk` sends it."""
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in {"Content-Type": "application/json", **(headers or {})}.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Template:
    """A request whose body's "{n}" becomes a new number in every request ("{chat}": 1 to 64).

    `sign`, when given, adds headers computed from each rendered body (a webhook signature).
    """

    path: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    sign: Callable[[bytes], dict[str, str]] | None = None

    def render(self, count: int, first: int) -> list[bytes]:
        """`count` raw requests, numbered from `first` + 1 on."""
        raws = []
        for number in range(first + 1, first + count + 1):
            body = self.body.replace("{n}", str(number)).replace("{chat}", str(number % 64 + 1)).encode()
            headers = self.headers if self.sign is None else {**self.headers, **self.sign(body)}
            raws.append(raw_request(self.path, body, headers))
        return raws


# Raw requests replayed in a loop, or a template rendered into new raw requests for every run.
Requests = Union[Sequence[bytes], Template]  # noqa: UP007 - a runtime alias on 3.10


@dataclass
class Target:
    """A server to load: `server` names an app in `_servers.py`; `requests` are replayed in a loop."""

    label: str
    server: str
    requests: Requests
    server_args: Sequence[str] = ()
    env: dict[str, str] = field(default_factory=dict)
    runs: list[dict[str, float]] = field(default_factory=list)

    def median(self, name: str) -> float:
        return statistics.median(run[name] for run in self.runs)


# What servers print that these benchmarks cause on purpose, by the start of the line: not errors.
EXPECTED_OUTPUT = {
    "socket.send() raised exception.": "wrk closed a connection as a run ended (mid-stream for SSE)",
    "memory state is full": "every request starts a new conversation, so the memory LRU forgets old ones",
}
LOG_DIR = os.environ.get("BENCH_LOG_DIR") or os.path.join(tempfile.gettempdir(), "bench-logs")


def _expected(line: str) -> str | None:
    return next((why for start, why in EXPECTED_OUTPUT.items() if line.strip().startswith(start)), None)


def summarise_log(path: str, name: str) -> str | None:
    """A server's stderr in short: expected lines counted by cause, anything else shown (the first 20 lines)."""
    with open(path, errors="replace") as file:
        lines = [line.rstrip("\n") for line in file if line.strip()]
    if not lines:
        return None
    expected = collections.Counter(why for why in map(_expected, lines) if why is not None)
    other = [line for line in lines if _expected(line) is None]
    summary = f"server {name}: {len(lines)} line(s) on stderr, kept in {path}"
    if expected:
        summary += "; expected: " + "; ".join(f"{count} x {why}" for why, count in expected.items())
    if other:
        shown = "\n".join(f"  | {line}" for line in other[:20])
        summary += f"\n  OTHER OUTPUT ({len(other)} line(s)), the first ones:\n{shown}"
    return summary


@contextlib.contextmanager
def server_process(
    name: str, args: Sequence[str] = (), *, timeout: float = 30.0, env: dict[str, str] | None = None
) -> Iterator[int]:
    """Start `_servers.py NAME` pinned to the server core; yields its port once it answers."""
    with server(name, args, timeout=timeout, env=env) as (port, _):
        yield port


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_listening(process: subprocess.Popen[bytes], port: int, name: str, timeout: float) -> None:
    """Wait, at most `timeout` s, until `process` accepts connections on `port`; fail if it exits."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server {name} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"server {name} did not listen within {timeout:g} s")
        time.sleep(0.1)


@contextlib.contextmanager
def server(
    name: str, args: Sequence[str] = (), *, timeout: float = 30.0, env: dict[str, str] | None = None
) -> Iterator[tuple[int, int]]:
    """`server_process`, yielding the port and the process id (its process group's too)."""
    port = _free_port()
    command = ["taskset", "-c", SERVER_CORE, sys.executable, SERVERS, name, "--port", str(port), *args]
    os.makedirs(LOG_DIR, exist_ok=True)
    log_path = os.path.join(LOG_DIR, f"{name}-{port}.log")
    log = open(log_path, "wb")  # noqa: SIM115 - closed below, after the process
    process = subprocess.Popen(command, start_new_session=True, env={**os.environ, **(env or {})}, stderr=log)
    try:
        _wait_listening(process, port, name, timeout)
        yield port, process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()
        summary = summarise_log(log_path, name)
        if summary is not None:
            print(summary, file=sys.stderr, flush=True)


@contextlib.contextmanager
def native_server(timeout: float = 10.0) -> Iterator[tuple[int, int]]:
    """nginx answering `{}` to every request, pinned to the server core; yields its port and process id."""
    port = _free_port()
    binary = shutil.which("nginx") or NGINX
    with tempfile.TemporaryDirectory() as folder:
        config = os.path.join(folder, "nginx.conf")
        with open(config, "w") as file:
            file.write(NGINX_CONF.format(folder=folder, port=port))
        command = ["taskset", "-c", SERVER_CORE, binary, "-c", config, "-p", folder, "-e", os.path.join(folder, "e")]
        log_path = os.path.join(folder, "stderr")
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, start_new_session=True, stderr=log)
        try:
            try:
                _wait_listening(process, port, "nginx", timeout)
            except (RuntimeError, TimeoutError) as error:
                with open(log_path, errors="replace") as log_file:
                    raise RuntimeError(f"{error}: {log_file.read().strip()}") from None
            yield port, process.pid
        finally:
            process.kill()
            process.wait(timeout=10)


def _seconds(value: str, unit: str) -> float:
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def parse_wrk(output: str) -> dict[str, float]:
    """requests/s, p50/p99 latency (ms) and failed requests from `wrk --latency` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rps is None:
        raise RuntimeError(f"wrk printed no throughput:\n{output}")
    figures = {"rps": float(rps.group(1)), "errors": 0.0}
    for percent, name in (("50", "p50_ms"), ("99", "p99_ms")):
        found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
        figures[name] = _seconds(found.group(1), found.group(2)) * 1000 if found else float("nan")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    figures["errors"] = float(non_2xx.group(1)) if non_2xx else 0.0
    if socket_errors:
        figures["errors"] += sum(float(group) for group in socket_errors.groups())
    return figures


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process `pid` and every process in its group (uvicorn workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                fields = file.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(entry) == pid or int(fields[2]) == pid:  # fields[2]: the process group
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _new_requests(requests: Requests, seconds: float) -> tuple[Sequence[bytes], bool]:
    """The raw requests for one run, and whether every one must be new (sending one twice is an error)."""
    count = int(MAX_RATE * seconds) + 1000
    if isinstance(requests, Template):
        return requests.render(count, int(time.time()) * 1_000_000), True  # a fresh range of numbers every run
    return requests, False


def wrk(port: int, requests: Requests, *, seconds: float, connections: int, pid: int | None = None) -> dict[str, float]:
    """One `wrk` run pinned to the load core, replaying `requests` to 127.0.0.1:`port`.

    Besides throughput and latency it reports the share of its core `wrk` kept busy (`load_busy`) and,
    given the server's `pid`, the server's CPU time per request in µs (`cpu_us`), which other work on a
    shared machine barely changes.
    """
    raws, must_be_new = _new_requests(requests, seconds)
    with tempfile.TemporaryDirectory() as folder:
        script = os.path.join(folder, "load.lua")
        data = os.path.join(folder, "requests.bin")
        with open(script, "w") as file:
            file.write(REPLAY_LUA)
        with open(data, "wb") as file:
            file.write(b"".join(raw + b"\0\n" for raw in raws))
        command = ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
        command += ["--timeout", "10s", "-s", script, f"http://127.0.0.1:{port}/", "--", data]
        server_cpu = _process_cpu(pid) if pid is not None else 0.0
        load_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        load_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        server_cpu = _process_cpu(pid) - server_cpu if pid is not None else float("nan")
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr}")
    if os.environ.get("BENCH_VERBOSE"):
        print(done.stdout, file=sys.stderr)
    figures = parse_wrk(done.stdout)
    sent = re.search(r"(\d+) requests in", done.stdout)
    figures["requests"] = float(sent.group(1)) if sent else float("nan")
    if must_be_new and figures["requests"] + connections > len(raws):
        raise RuntimeError(f"wrk sent {figures['requests']:.0f} requests but only {len(raws)} new ones were made: "
                           f"raise MAX_RATE ({MAX_RATE}) so no request is sent twice")  # fmt: skip
    used = (load_after.ru_utime + load_after.ru_stime) - (load_cpu.ru_utime + load_cpu.ru_stime)
    figures["load_busy"] = used / seconds
    figures["cpu_us"] = server_cpu / figures["requests"] * 1e6 if figures["requests"] else float("nan")
    return figures


def compare(
    targets: Sequence[Target],
    *,
    warmup: float,
    seconds: float,
    rounds: int,
    connections: int,
    prepare: Callable[[Target, int], None] | None = None,
) -> Sequence[Target]:
    """Warm each target up (`warmup` s of load), then measure them in alternation `rounds` times.

    `prepare(target, port)`, once every server answers: what must exist on a server before its load (records
    the requests refer to).
    """
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(server(t.server, t.server_args, env=t.env)) for t in targets]
        for target, (port, _) in zip(targets, servers, strict=True):
            if prepare is not None:
                prepare(target, port)
        for target, (port, pid) in zip(targets, servers, strict=True):
            wrk(port, target.requests, seconds=warmup, connections=connections, pid=pid)
        for _ in range(rounds):
            for target, (port, pid) in zip(targets, servers, strict=True):
                run = wrk(port, target.requests, seconds=seconds, connections=connections, pid=pid)
                target.runs.append(run)
    return targets


def check_headroom(static: Target, native: Target, measured: Sequence[Target]) -> str:
    """Whether `wrk` had headroom: a native static server on the server core must be far faster than every
    server measured (at least 2x), and `wrk` must have kept its own core below 90% busy.

    The static Starlette route is printed for comparison only: on uvicorn it is not much lighter than a
    bare route that parses a small body, so it cannot show headroom for the fastest bare routes.
    """
    busiest = max(run["load_busy"] for target in (static, *measured) for run in target.runs)  # nginx: wrk at its limit
    fastest = max(target.median("rps") for target in measured)
    ceiling = native.median("rps") / fastest
    figures = (
        f"native static server {native.median('rps'):.0f} req/s, {ceiling:.1f}x the fastest server; "
        f"static route {static.median('rps'):.0f} req/s, {static.median('rps') / fastest:.2f}x; "
        f"wrk kept its core at most {busiest:.0%} busy"
    )
    if busiest >= 0.9 or ceiling < 2:
        return f"WARNING: the load generator may be the limit ({figures})"
    return f"load generator check passed ({figures})"


def table(rows: Sequence[tuple[str, Target, Target]]) -> str:
    """Baseline vs measured, side by side: medians of req/s and the ratio, p50/p99 latencies of the measured
    server, and each side's server CPU per request (µs) with their ratio, which load on the machine barely moves."""
    lines = [
        f"{'scenario':40} {'baseline':>9} {'measured':>9} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}"
        f" {'cpu µs':>7} {'cpu µs':>7} {'cpu ratio':>9}"
    ]
    for name, base, measured in rows:
        ratio = measured.median("rps") / base.median("rps") if base.median("rps") else 0.0
        errors = sum(run["errors"] for target in (base, measured) for run in target.runs)
        cpu_ratio = base.median("cpu_us") / measured.median("cpu_us") if measured.median("cpu_us") else 0.0
        lines.append(
            f"{name:40} {base.median('rps'):>9.0f} {measured.median('rps'):>9.0f} {ratio:>6.2f} "
            f"{measured.median('p50_ms'):>7.2f} {measured.median('p99_ms'):>7.2f} {errors:>6.0f}"
            f" {base.median('cpu_us'):>7.0f} {measured.median('cpu_us'):>7.0f} {cpu_ratio:>9.2f}"
        )
    return "\n".join(lines)


class Bench:
    """What every `wrk` benchmark shares: its command line, the static-route check and the final table.

    `Bench(doc)` parses `--seconds/--warmup/--rounds/--connections`, installs the tools and measures the
    static route; `pair(...)` measures a baseline and a server side by side; `report()` prints the table.
    """

    def __init__(self, doc: str | None, extra: Callable[[argparse.ArgumentParser], None] | None = None) -> None:
        parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("--seconds", type=float, default=10.0, help="each measured window")
        parser.add_argument("--warmup", type=float, default=10.0, help="load before the first measured window")
        parser.add_argument("--rounds", type=int, default=2, help="measured windows per server, alternating")
        parser.add_argument("--connections", type=int, default=32)
        if extra is not None:
            extra(parser)
        self.args = parser.parse_args()
        self.settings = {
            "warmup": self.args.warmup,
            "seconds": self.args.seconds,
            "rounds": self.args.rounds,
            "connections": self.args.connections,
        }
        ensure_tools()
        print(
            f"wrk -t1 -c{self.args.connections} on core {LOAD_CORE}, each server on core {SERVER_CORE}; "
            f"{self.args.warmup:g} s warm-up, median of {self.args.rounds} x {self.args.seconds:g} s",
            flush=True,
        )
        self.static = Target("static route", "bare", [raw_request("/static", b"{}")])
        compare([self.static], **self.settings)  # type: ignore[arg-type]
        self.native = Target("native static server", "nginx", self.static.requests)
        with native_server() as (port, pid):
            wrk(port, self.native.requests, seconds=2, connections=self.args.connections, pid=pid)
            for _ in range(self.args.rounds):
                run = wrk(port, self.native.requests, seconds=self.args.seconds, connections=self.args.connections)
                self.native.runs.append(run)
        print(f"native static server (nginx on core {SERVER_CORE}): {self.native.median('rps'):.0f} req/s", flush=True)
        self.rows: list[tuple[str, Target, Target]] = []

    def pair(
        self, name: str, base: Target, measured: Target, prepare: Callable[[Target, int], None] | None = None
    ) -> None:
        compare([base, measured], prepare=prepare, **self.settings)  # type: ignore[arg-type]
        self.rows.append((name, base, measured))
        print(table([self.rows[-1]]).splitlines()[-1], flush=True)

    def report(self) -> None:
        print()
        print(table(self.rows))
        measured = [side for _, base, server in self.rows for side in (base, server)]
        print(check_headroom(self.static, self.native, measured))
