"""The Responses channel against a bare Starlette route calling the same offline agent, under `wrk`.

    python benchmarks/bench_responses.py [--seconds 10] [--warmup 10] [--rounds 2] [--connections 32]

Every server runs under uvicorn pinned to core 0; `wrk` runs pinned to core 1. Each server is warmed
up first (stored responses accumulate, so the steady state is what counts), then the servers are
measured in alternation and each one's median is reported. A static route checks that `wrk` is not
the bottleneck. `--ttfb` also measures the time from the agent's first update to its first byte on
the wire (see `_ttfb.py`).
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _wrk import Bench, Target, raw_request  # noqa: E402

TTFB_HELP = "also measure agent update -> first byte"


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
            "store: false, vs a bare route answering the whole object",
            Target("bare, the whole Response object", "bare", [raw_request("/whole/v1/responses", body(store=False))]),
            Target("responses", "responses", [raw_request("/v1/responses", body(store=False))]),
        ),
        (
            "streaming, full event sequence",
            Target("bare, an SSE event per update", "bare", [bare_stream]),
            Target("responses", "responses", [raw_request("/v1/responses", body(stream=True))]),
        ),
    ]


def main() -> None:
    bench = Bench(__doc__, lambda parser: parser.add_argument("--ttfb", action="store_true", help=TTFB_HELP))
    for name, base, measured in scenarios():
        bench.pair(name, base, measured)
    bench.report()
    if bench.args.ttfb:
        from _ttfb import report

        print(report())


if __name__ == "__main__":
    main()
