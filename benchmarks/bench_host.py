"""The host with a minimal channel against a bare Starlette route calling the same agent, under `wrk`.

    python benchmarks/bench_host.py [--seconds 10] [--warmup 10] [--rounds 2] [--connections 32]

Both servers run under uvicorn pinned to core 0, `wrk` pinned to core 1 (see `_wrk.py`). The keyed
scenarios cycle through 64 conversations, so turns of one conversation meet and queue as in real use.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _wrk import Bench, Target, raw_request  # noqa: E402

KEYS = 64


def requests(*, keyed: bool, stream: bool = False) -> list[bytes]:
    bodies = [{"text": "hello there", "stream": stream, **({"key": f"k{n}"} if keyed else {})} for n in range(KEYS)]
    return [raw_request("/json", json.dumps(body).encode()) for body in bodies]


def main() -> None:
    bench = Bench(__doc__)
    for name, keyed, stream in (
        ("stateless", False, False),
        ("a session per key", True, False),
        ("streamed, a session per key", True, True),
    ):
        base = Target("bare", "bare", requests(keyed=keyed, stream=stream))
        bench.pair(name, base, Target("host", "host", requests(keyed=keyed, stream=stream)))
    bench.report()


if __name__ == "__main__":
    main()
