"""Bytes a chain of stored responses takes, against the bytes of its messages (folder, Redis, PostgreSQL).

    python benchmarks/bench_storage.py [--turns 200] [--chars 100 300 500 2000] [--backends folder redis postgresql]

A real host serves the Responses channel on 127.0.0.1 over the offline echo agent; the official
`openai` SDK makes a chain of `--turns` responses, each continuing the previous one
(`previous_response_id`), with inputs of `--chars` characters (the echo answers as long).

- message bytes: the messages themselves as JSON, compact, as the history keeps them
  (`Message.to_dict()` of every message of the chain: each input and each answer once);
- stored bytes: everything the backend holds afterwards. Folder: every file under the state
  folder (lock files included). Redis: every key's name plus its value (string) or items (list).
  PostgreSQL: every row's namespace, key and value/item text (JSON as text; rows' own overhead,
  indexes and the server's pages are not counted).

The ratio is stored / message bytes; issue 13 asks for at most 2 on a 200-turn chain.
Also shown: the chain's Responses items as JSON (its input items and output items), for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "packages", "hosting", "src"))

from agent_framework import Agent  # noqa: E402
from agent_framework_hosting import AgentFrameworkHost  # noqa: E402
from agent_framework_hosting._postgres import DEFAULT_SCHEMA  # noqa: E402
from agent_framework_hosting.testing import (  # noqa: E402
    OfflineChatClient,
    PostgresServer,
    RedisServer,
    running_server,
)
from agent_framework_hosting_responses import ResponsesChannel  # noqa: E402
from openai import OpenAI  # noqa: E402


def compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def redis_bytes(url: str) -> int:
    import redis

    client = redis.Redis.from_url(url)
    total = 0
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        total += len(key)
        if kind == b"string":
            total += int(client.strlen(key))
        elif kind == b"list":
            total += sum(len(item) for item in client.lrange(key, 0, -1))
        elif kind == b"hash":
            total += sum(len(k) + len(v) for k, v in client.hgetall(key).items())
        elif kind == b"zset":
            total += sum(len(member) + 8 for member, _ in client.zrange(key, 0, -1, withscores=True))
        elif kind == b"set":
            total += sum(len(member) for member in client.smembers(key))
    client.close()
    return total


def postgres_bytes(url: str) -> int:
    import psycopg

    def total(table: str, column: str) -> str:
        length = f"octet_length(namespace) + octet_length(key) + {column}"
        return f"(SELECT coalesce(sum({length}), 0) FROM {DEFAULT_SCHEMA}.{table})"

    query = " + ".join(
        [
            total("afh_values", "octet_length(value::text)"),
            total("afh_items", "octet_length(item::text)"),
            total("afh_lists", "4"),
        ]
    )
    with psycopg.connect(url) as connection:
        row = connection.execute(f"SELECT {query}").fetchone()  # type: ignore[arg-type]
    return int(row[0]) if row else 0


@contextlib.contextmanager
def backend(name: str) -> Iterator[tuple[str, Callable[[], int]]]:
    """(state_dir, a function counting the stored bytes) for a fresh, empty backend."""
    if name == "folder":
        with tempfile.TemporaryDirectory() as folder:
            yield folder, lambda: folder_bytes(Path(folder))
    elif name == "redis":
        with RedisServer() as server:
            yield server.url, lambda: redis_bytes(server.url)
    elif name == "postgresql":
        with PostgresServer() as server:
            yield server.url, lambda: postgres_bytes(server.url)
    else:
        raise SystemExit(f"unknown backend {name!r}")


def chain(state_dir: str, turns: int, chars: int) -> tuple[int, int]:
    """Run the chain; (message bytes, Responses item bytes)."""
    host = AgentFrameworkHost(
        Agent(client=OfflineChatClient(), name="echo"), channels=[ResponsesChannel()], state_dir=state_dir
    )
    text = ("a message of some length " * (chars // 25 + 1))[:chars]
    item_bytes = 0
    with running_server(host.app) as url:
        client = OpenAI(base_url=url + "/v1", api_key="bench", max_retries=0)
        previous = None
        for _ in range(turns):
            response = client.responses.create(model="m", input=text, previous_response_id=previous)
            previous = response.id
            items = client.responses.input_items.list(response.id)
            item_bytes += len(compact_json([item.model_dump(mode="json") for item in items.data]))
            item_bytes += len(compact_json([item.model_dump(mode="json") for item in response.output]))
        client.close()
    messages = asyncio.run(_history(state_dir, previous))
    return sum(len(compact_json(message.to_dict())) for message in messages), item_bytes


async def _history(state_dir: str, response_id: str | None) -> list[Any]:
    """The chain's messages, read back by a fresh host on the same state (as after a restart)."""
    channel = ResponsesChannel()
    host = AgentFrameworkHost(Agent(client=OfflineChatClient(), name="echo"), channels=[channel], state_dir=state_dir)
    try:
        assert response_id is not None
        host.app  # noqa: B018 - building the app adds the channel to the host
        return await channel.runner.records.history(response_id) or []
    finally:
        await host.state.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--chars", type=int, nargs="+", default=[100, 300, 500, 2000])
    parser.add_argument("--backends", nargs="+", default=["folder", "redis", "postgresql"])
    args = parser.parse_args()
    print(f"{'backend':<11} {'chars':>6} {'turns':>6} {'message B':>10} {'items B':>10} {'stored B':>10} {'ratio':>6}")
    for name in args.backends:
        for chars in args.chars:
            with backend(name) as (state_dir, count):
                message_bytes, item_bytes = chain(state_dir, args.turns, chars)
                stored = count()
            ratio = stored / message_bytes if message_bytes else float("nan")
            figures = f"{message_bytes:>10,} {item_bytes:>10,} {stored:>10,} {ratio:>6.2f}"
            print(f"{name:<11} {chars:>6} {args.turns:>6} {figures}", flush=True)


if __name__ == "__main__":
    main()
