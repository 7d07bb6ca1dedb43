"""What the turn ledger costs per turn, with memory, folder and Redis state, under `wrk`.

    python benchmarks/bench_ledger.py [--seconds 10] [--warmup 5] [--rounds 2] [--connections 16]

Both servers answer a webhook-style update only after its whole turn (session load, agent run,
save), 64 conversations taking turns, every update new. The baseline runs the turn directly; the
measured server records the update in the turn ledger first and marks it running, replying and
done, as the Telegram, Discord and Activity channels do.
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "packages", "hosting", "tests"))

from _wrk import Bench, Target, Template  # noqa: E402
from redis_server import RedisServer  # noqa: E402

UPDATE = Template("/hook", '{"update_id": {n}, "chat": {chat}, "text": "hello there"}')


def main() -> None:
    bench = Bench(__doc__, extra=lambda parser: parser.set_defaults(warmup=5.0, connections=16))
    with RedisServer() as redis, tempfile.TemporaryDirectory(prefix="afh-bench-") as folder:
        scenarios = {
            "memory": lambda: [],
            "folder": lambda: ["--state-dir", os.path.join(folder, uuid.uuid4().hex)],
            "redis": lambda: ["--state-dir", f"{redis.url}?prefix=b{uuid.uuid4().hex[:8]}:"],
        }
        for name, state in scenarios.items():
            direct, ledger = Target("direct", "hook", UPDATE, state()), Target("ledger", "hook-ledger", UPDATE, state())
            bench.pair(f"{name}: whole turns, ledger vs direct", direct, ledger)
    bench.report()


if __name__ == "__main__":
    main()
