"""The host with a minimal channel against a bare Starlette route calling the same agent, under `wrk`.

    python benchmarks/bench_host.py [--seconds 10] [--warmup 10] [--rounds 2] [--connections 32]

Both servers run under uvicorn pinned to core 0, `wrk` pinned to core 1 (see `_wrk.py`). The keyed
scenarios cycle through 64 conversations, so turns of one conversation meet and queue as in real use.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _wrk import Target, check_headroom, compare, ensure_tools, raw_request, table  # noqa: E402

KEYS = 64


def requests(*, keyed: bool, stream: bool = False) -> list[bytes]:
    bodies = [{"text": "hello there", "stream": stream, **({"key": f"k{n}"} if keyed else {})} for n in range(KEYS)]
    return [raw_request("/json", json.dumps(body).encode()) for body in bodies]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    ensure_tools()
    settings = {"warmup": args.warmup, "seconds": args.seconds, "rounds": args.rounds, "connections": args.connections}
    static = Target("static route", "bare", [raw_request("/static", b"{}")])
    compare([static], **settings)
    rows = []
    for name, keyed, stream in (
        ("stateless", False, False),
        ("a session per key", True, False),
        ("streamed, a session per key", True, True),
    ):
        pair = [Target("bare", "bare", requests(keyed=keyed, stream=stream))]
        pair.append(Target("host", "host", requests(keyed=keyed, stream=stream)))
        compare(pair, **settings)
        rows.append((name, *pair))
    print(table(rows))
    print(check_headroom(static, [target for _, base, measured in rows for target in (base, measured)]))


if __name__ == "__main__":
    main()
