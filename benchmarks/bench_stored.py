"""Stored Responses on each state backend under `wrk`: new answers and continuations, against memory mode.

    python benchmarks/bench_stored.py [--seconds 10] [--warmup 10] [--rounds 2] [--connections 32]
                                      [--backends folder redis postgresql]

Each row runs the Responses channel (`_servers.py responses`) on a backend beside the same server in
memory mode (the baseline column), alternating, as `bench_state.py` does; the ratio is the backend's
share of memory mode's throughput. "new": every request a stored create with no previous response.
"continued": every request continues one of 64 responses made on that server before its warm-up, in
rotation (`previous_response_id`), so each is a turn in a conversation's history that makes a response
of its own. Servers on core 0; `wrk`, redis-server and PostgreSQL on core 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _wrk import Bench, Target, raw_request  # noqa: E402
from bench_state import backends  # noqa: E402

HEADS = 64


def body(**fields: object) -> bytes:
    return json.dumps({"model": "m", "input": "hello there", **fields}).encode()


def continue_heads(target: Target, port: int) -> None:
    """Make `HEADS` stored responses on the server; the target's requests continue them in rotation."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        ids = [client.post("/v1/responses", content=body()).raise_for_status().json()["id"] for _ in range(HEADS)]
    target.requests = [raw_request("/v1/responses", body(previous_response_id=made)) for made in ids]


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backends", nargs="+", default=["folder", "redis", "postgresql"])


def main() -> None:
    early = argparse.ArgumentParser(add_help=False)
    options(early)
    chosen = early.parse_known_args()[0].backends
    with backends() as every:
        bench = Bench(__doc__, options)
        for name in chosen:
            for kind in ("new", "continued"):
                location = every[name]()  # a namespace of its own
                assert location is not None, "memory mode is every row's baseline"
                prepare = continue_heads if kind == "continued" else None
                memory = Target(f"memory, {kind}", "responses", [raw_request("/v1/responses", body())])
                stored = Target(f"{name}, {kind}", "responses", memory.requests, ["--state-dir", location])
                bench.pair(f"{name}, {kind}", memory, stored, prepare)
        bench.report()
    print("ratio: the backend's req/s over memory mode's; every request makes a stored response")


if __name__ == "__main__":
    main()
