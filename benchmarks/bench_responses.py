"""The Responses channel against a bare Starlette route calling the same offline agent, under `wrk`.

    python benchmarks/bench_responses.py [--seconds 10] [--warmup 10] [--rounds 2] [--connections 32]

Every server runs under uvicorn pinned to core 0; `wrk` runs pinned to core 1. Each server is warmed
up first (stored responses accumulate, so the steady state is what counts), then the servers are
measured in alternation and each one's median is reported. A static route checks that `wrk` is not
the bottleneck. `--ttfb` also measures the time from the agent's first update to its first byte on
the wire (see `_ttfb.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _wrk import Target, check_headroom, compare, ensure_tools, raw_request, table  # noqa: E402


def body(**fields: object) -> bytes:
    return json.dumps({"model": "m", "input": "hello there", **fields}).encode()


def scenarios() -> list[tuple[str, Target, Target]]:
    bare = raw_request("/v1/responses", body())
    bare_stream = raw_request("/v1/responses", body(stream=True))
    return [
        (
            "non-streaming, stored (default)",
            Target("bare", "bare", [bare]),
            Target("responses", "responses", [raw_request("/v1/responses", body())]),
        ),
        (
            "stored, vs a bare route keeping a session",
            Target("bare, a new session kept per answer", "bare", [raw_request("/stored/v1/responses", body())]),
            Target("responses", "responses", [raw_request("/v1/responses", body())]),
        ),
        (
            "non-streaming, store: false",
            Target("bare", "bare", [bare]),
            Target("responses", "responses", [raw_request("/v1/responses", body(store=False))]),
        ),
        (
            "streaming, full event sequence",
            Target("bare, an SSE event per update", "bare", [bare_stream]),
            Target("responses", "responses", [raw_request("/v1/responses", body(stream=True))]),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0, help="each measured window")
    parser.add_argument("--warmup", type=float, default=10.0, help="load before the first measured window")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--ttfb", action="store_true", help="also measure agent update -> first byte")
    args = parser.parse_args()
    ensure_tools()
    settings = {"warmup": args.warmup, "seconds": args.seconds, "rounds": args.rounds, "connections": args.connections}
    print(f"wrk -t1 -c{args.connections} on core 1, server on core 0; median of {args.rounds} x {args.seconds:g} s")
    static = Target("static route", "bare", [raw_request("/static", b"{}")])
    compare([static], **settings)
    rows = []
    for name, base, measured in scenarios():
        compare([base, measured], **settings)
        rows.append((name, base, measured))
        print(table([rows[-1]]).splitlines()[-1], flush=True)
    print()
    print(table(rows))
    print(check_headroom(static, [target for _, base, measured in rows for target in (base, measured)]))
    if args.ttfb:
        from _ttfb import report

        print(report())


if __name__ == "__main__":
    main()
