"""Redis-backed host state, so several host processes act as one.

Values, leases (turn locks with fencing), idempotency keys, workflow
checkpoints and leader leases, all under one key prefix. Every Redis failure
surfaces as `StateUnavailableError` (503) within the socket timeouts; the client
reconnects by itself once Redis is back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from . import _remote as remote
from ._errors import LeaseLostError, StateUnavailableError
from ._leases import Leader, Leases, SharedLease, held_by
from ._locations import redact_url
from ._remote import Listeners, Listening, Outages, split_own_options

if TYPE_CHECKING:
    from ._redis_checkpoints import RedisCheckpointStorage

logger = logging.getLogger("agent_framework.hosting")

T = TypeVar("T")
DEFAULT_PREFIX = "afh:"
DEFAULT_LOCK_TTL = 20.0
DEFAULT_LEADER_TTL = 15.0
ORPHAN_GRACE = 1.0
ORPHAN_POLL = 0.1
# Namespaces listed often (every few seconds by every process): kept in an index set instead of SCANned.
INDEXED = frozenset({"ledger", "outbox", "dead_letters"})
OWN_URL_OPTIONS = ("prefix", "lock_ttl", "leader_ttl", "checkpoint_ttl")
UNAVAILABLE = (redis_errors.ConnectionError, redis_errors.TimeoutError, redis_errors.ReadOnlyError, OSError)

# ARGV[3..] are tokens of this process's earlier acquires that timed out on the client:
# Redis may have executed them late, so a lock still held by one of them is ours to reuse.
ACQUIRE = """
local current = redis.call('get', KEYS[1])
if current then
  for i = 3, #ARGV do
    if current == ARGV[i] then
      redis.call('del', KEYS[1])
      break
    end
  end
end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('incr', KEYS[2])
end
return 0
"""
RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""
# Delete KEYS[1] when it holds the token ARGV[1] itself, or a JSON object whose "owner" is ARGV[1].
DISCARD_OWNED = """
local current = redis.call('get', KEYS[1])
if not current then
  return 0
end
if current ~= ARGV[1] then
  local ok, doc = pcall(cjson.decode, current)
  if not ok or type(doc) ~= 'table' or doc['owner'] ~= ARGV[1] then
    return 0
  end
end
return redis.call('del', KEYS[1])
"""
# Whether KEYS[key] holds a JSON object with the fields ARGV[3..] (name, value pairs).
MATCHES = """
local function matches(key)
  local current = redis.call('get', key)
  if not current then
    return false
  end
  local ok, doc = pcall(cjson.decode, current)
  if not ok or type(doc) ~= 'table' then
    return false
  end
  for i = 3, #ARGV, 2 do
    if tostring(doc[ARGV[i]]) ~= ARGV[i + 1] then
      return false
    end
  end
  return true
end
"""
# Compare-and-set: store ARGV[1] (ttl ARGV[2] ms; 0 keeps the ttl; '' deletes) at KEYS[1]
# only when its JSON object has the fields ARGV[3..] (name, value pairs).
REPLACE_MATCHING = (
    MATCHES
    + """
if not matches(KEYS[1]) then
  return 0
end
if ARGV[1] == '' then
  return redis.call('del', KEYS[1])
end
if tonumber(ARGV[2]) > 0 then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('set', KEYS[1], ARGV[1], 'KEEPTTL')
end
return 1
"""
)
# Set KEYS[1] to ARGV[1] (ttl ARGV[2] ms; 0: none), then delete KEYS[2] when its JSON object has the
# fields ARGV[3..] (name, value pairs): a done mark and the removal of what it finishes, in one step.
SET_THEN_DISCARD = (
    MATCHES
    + """
if tonumber(ARGV[2]) > 0 then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('set', KEYS[1], ARGV[1])
end
if not matches(KEYS[2]) then
  return 0
end
return redis.call('del', KEYS[2])
"""
)
FENCED_SET = """
for i = 2, #KEYS do
  if redis.call('get', KEYS[i]) ~= ARGV[i + 1] then
    return 0
  end
end
if tonumber(ARGV[2]) > 0 then
  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('set', KEYS[1], ARGV[1])
end
return 1
"""

FENCED_APPEND = """
for i = 2, #KEYS do
  if redis.call('get', KEYS[i]) ~= ARGV[i + 1] then
    return -1
  end
end
if redis.call('llen', KEYS[1]) ~= tonumber(ARGV[1]) then
  return 0
end
local items = cjson.decode(ARGV[3 + #KEYS - 1])
for _, item in ipairs(items) do
  redis.call('rpush', KEYS[1], item)
end
if tonumber(ARGV[2]) == 0 then
  redis.call('persist', KEYS[1])
elseif tonumber(ARGV[1]) == 0 then
  redis.call('pexpire', KEYS[1], ARGV[2])
else
  redis.call('pexpire', KEYS[1], ARGV[2], 'GT')
end
return 1
"""


def _glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


async def _published(pubsub: PubSub) -> AsyncIterator[str | None]:
    """A subscription's messages; None for each subscribe confirmation (redis-py resubscribes after reconnecting).

    Silent for `SUBSCRIPTION_IDLE`, it is pinged; a ping unanswered as long raises (the connection was dropped)."""
    pinged = False
    while True:
        message = await pubsub.get_message(timeout=remote.SUBSCRIPTION_IDLE)
        if message is None:
            if pinged:
                raise StateUnavailableError("the subscription stopped answering")
            await pubsub.ping()
            pinged = True
            continue
        pinged = False  # anything heard proves the connection
        if message["type"] == "subscribe":
            yield None
        elif message["type"] == "message":
            data = message["data"]
            yield data.decode() if isinstance(data, bytes) else str(data)


class Orphans:
    """Writes whose answer never came (a client timeout): a stalled Redis may still run them when it resumes.

    Each is a key and the owner token it would hold. As soon as Redis answers
    again they are deleted (only while they still hold that token), and for
    `ORPHAN_GRACE` seconds more, since a resumed server runs buffered commands late.
    """

    def __init__(self, store: RedisStateStore) -> None:
        self._store = store
        self._tokens: dict[str, dict[str, float]] = {}
        self._sweeper: asyncio.Future[None] | None = None

    def add(self, key: str, token: str, ttl: float) -> None:
        self._tokens.setdefault(key, {})[token] = time.monotonic() + ttl
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.ensure_future(self._sweep())

    def tokens(self, key: str) -> list[str]:
        return list(self._tokens.get(key, ()))

    def __contains__(self, item: tuple[str, str]) -> bool:
        return item[1] in self._tokens.get(item[0], ())

    def _drop(self, key: str, token: str) -> None:
        tokens = self._tokens.get(key, {})
        tokens.pop(token, None)
        if not tokens:
            self._tokens.pop(key, None)

    async def _sweep(self) -> None:
        answered: dict[tuple[str, str], float] = {}
        while self._tokens:
            for key, tokens in list(self._tokens.items()):
                for token, until in list(tokens.items()):
                    now = time.monotonic()
                    if now >= until or now - answered.get((key, token), now) >= ORPHAN_GRACE:
                        self._drop(key, token)
                        continue
                    try:
                        await self._store.guard(self._store._scripts().discard_owned(keys=[key], args=[token]))
                    except StateUnavailableError:
                        continue
                    answered.setdefault((key, token), time.monotonic())
            await asyncio.sleep(ORPHAN_POLL)

    async def aclose(self) -> None:
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)


class _Scripts:
    def __init__(self, client: aioredis.Redis) -> None:
        self.acquire = client.register_script(ACQUIRE)
        self.renew = client.register_script(RENEW)
        self.release = client.register_script(RELEASE)
        self.fenced_set = client.register_script(FENCED_SET)
        self.fenced_append = client.register_script(FENCED_APPEND)
        self.discard_owned = client.register_script(DISCARD_OWNED)
        self.replace_matching = client.register_script(REPLACE_MATCHING)
        self.set_then_discard = client.register_script(SET_THEN_DISCARD)


class RedisStateStore(Listening):
    """The `StateStore` protocol on Redis, plus checkpoints and leader leases.

    `lock()` is a lease renewed in the background while held, so a crashed
    process frees its sessions after `lock_ttl` seconds. A `set()` made while
    holding a lease only lands if the lease is still held (fencing), so a
    process that stalled past its lease cannot overwrite a newer turn.
    """

    keeps_objects = False
    shared = True

    def __init__(
        self,
        client: aioredis.Redis | Callable[[], aioredis.Redis],
        *,
        prefix: str = DEFAULT_PREFIX,
        lock_ttl: float = DEFAULT_LOCK_TTL,
        leader_ttl: float = DEFAULT_LEADER_TTL,
        checkpoint_ttl: float | None = None,
        allowed_checkpoint_types: Sequence[str] | None = None,
        location: str = "redis",
    ) -> None:
        if lock_ttl <= 0 or leader_ttl <= 0:
            raise ValueError("lock_ttl and leader_ttl must be positive")
        self.prefix = prefix
        self.lock_ttl = lock_ttl
        self.leader_ttl = leader_ttl
        self.checkpoint_ttl = checkpoint_ttl
        self.allowed_checkpoint_types = frozenset(allowed_checkpoint_types or ())
        self.location = location
        self._factory = client if not isinstance(client, aioredis.Redis) else None
        self._redis: aioredis.Redis | None = client if isinstance(client, aioredis.Redis) else None
        self._scripts_for: tuple[aioredis.Redis, _Scripts] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.leases = Leases(self, _LeaseKeys(self))
        self._outages = Outages(self.location, UNAVAILABLE)
        self.orphans = Orphans(self)
        self.listeners = Listeners(self._subscription, UNAVAILABLE)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        lock_ttl: float = DEFAULT_LOCK_TTL,
        leader_ttl: float = DEFAULT_LEADER_TTL,
        checkpoint_ttl: float | None = None,
        allowed_checkpoint_types: Sequence[str] | None = None,
        **options: Any,
    ) -> RedisStateStore:
        """A store for `redis://`, `rediss://` or `unix://` URLs; `options` go to `redis.asyncio.Redis`.

        The URL may carry this store's own settings as query parameters
        (``?prefix=app:&lock_ttl=10&leader_ttl=5&checkpoint_ttl=86400``); other parameters go
        to redis-py and win over `options`. Defaults fail fast: 3 s socket
        timeout, 1 s connect timeout, two quick reconnect attempts.
        """
        url, own = split_own_options(url, OWN_URL_OPTIONS)
        prefix = own.get("prefix", prefix)
        lock_ttl = float(own.get("lock_ttl", lock_ttl))
        leader_ttl = float(own.get("leader_ttl", leader_ttl))
        checkpoint_ttl = float(own["checkpoint_ttl"]) if "checkpoint_ttl" in own else checkpoint_ttl
        settings: dict[str, Any] = {
            "socket_timeout": 3.0,
            "socket_connect_timeout": 1.0,
            "retry": Retry(ExponentialBackoff(cap=0.25, base=0.025), 2, (redis_errors.ConnectionError,)),
            **options,
        }
        return cls(
            lambda: aioredis.Redis.from_url(url, **settings),
            prefix=prefix,
            lock_ttl=lock_ttl,
            leader_ttl=leader_ttl,
            checkpoint_ttl=checkpoint_ttl,
            allowed_checkpoint_types=allowed_checkpoint_types,
            location=redact_url(url),
        )

    def __repr__(self) -> str:
        return f"RedisStateStore({self.location!r}, prefix={self.prefix!r})"

    @property
    def client(self) -> aioredis.Redis:
        """The Redis client of the running event loop (built lazily, once per loop when built from a URL)."""
        loop = asyncio.get_running_loop()
        if self._redis is None or (self._factory is not None and self._loop is not loop):
            assert self._factory is not None
            self._redis = self._factory()
            self._loop = loop
        return self._redis

    def _scripts(self) -> _Scripts:
        client = self.client
        if self._scripts_for is None or self._scripts_for[0] is not client:
            self._scripts_for = (client, _Scripts(client))
        return self._scripts_for[1]

    def key(self, namespace: str, key: str) -> str:
        """The Redis key for `key` in `namespace`."""
        if not key:
            raise ValueError("state keys must be non-empty strings")
        return f"{self.prefix}{quote(namespace, safe='')}:{key}"

    def _internal(self, kind: str, name: str = "") -> str:
        return f"{self.prefix}!{kind}:{name}" if name else f"{self.prefix}!{kind}"

    async def guard(self, operation: Awaitable[T]) -> T:
        """Await a Redis call, turning connection trouble into `StateUnavailableError` (logged once per outage)."""
        return await self._outages.guard(operation)

    async def open(self) -> None:
        """Check that Redis answers; the host starts either way and answers 503 until it does."""
        self.listeners.open()
        try:
            await self.guard(self.client.ping())
        except StateUnavailableError:
            logger.warning("state store %s is not reachable yet; requests get 503 until it is", self.location)

    async def aclose(self) -> None:
        """Close the client this store built; a client passed in stays open for its owner."""
        await self.listeners.aclose()
        await self.orphans.aclose()
        if self._factory is None:
            return
        client, self._redis, self._scripts_for = self._redis, None, None
        if client is None:
            return
        try:
            close = getattr(client, "aclose", None) or client.close
            await close()
        except (RuntimeError, *UNAVAILABLE):
            logger.debug("closing the Redis client failed", exc_info=True)

    async def get(self, namespace: str, key: str) -> Any | None:
        target = self.key(namespace, key)
        return self._decode(await self.guard(self.client.get(target)), target)

    @staticmethod
    def _decode(raw: bytes | str | None, target: str) -> Any | None:
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            logger.warning("ignoring a value that is not JSON at %s", target)
            return None

    async def set(self, namespace: str, key: str, value: Any, *, ttl: float | None = None) -> None:
        target, data = self.key(namespace, key), _dumps(value)
        leases = held_by(self)
        if not leases:
            await self.guard(self.client.set(target, data, px=None if ttl is None else _ms(ttl)))
            await self._index(namespace, key)
            return
        keys = [target, *(lease.name for lease in leases)]
        args: list[bytes | str | int] = [data, 0 if ttl is None else _ms(ttl), *(lease.token for lease in leases)]
        if not await self.guard(self._scripts().fenced_set(keys=keys, args=args)):
            for lease in leases:
                lease.lost = True
            raise LeaseLostError("the turn's lease expired and another process took over; the turn was not saved")
        await self._index(namespace, key)

    async def _index(self, namespace: str, key: str) -> None:
        if namespace in INDEXED:
            await self.guard(self.client.sadd(self._internal("index", namespace), key))

    async def append(
        self, namespace: str, key: str, items: Sequence[Any], *, at: int, ttl: float | None = None
    ) -> bool:
        leases = held_by(self)
        encoded = json.dumps([_dumps(item).decode() for item in items], ensure_ascii=False)
        keys = [self.key(namespace, key), *(lease.name for lease in leases)]
        tokens = [lease.token for lease in leases]
        args: list[bytes | str | int] = [at, 0 if ttl is None else _ms(ttl), *tokens, encoded]
        outcome = await self.guard(self._scripts().fenced_append(keys=keys, args=args))
        if outcome == -1:
            for lease in leases:
                lease.lost = True
            raise LeaseLostError("the turn's lease expired and another process took over; the turn was not saved")
        return bool(outcome)

    async def items(self, namespace: str, key: str, start: int = 0, stop: int | None = None) -> list[Any]:
        if stop is not None and stop <= start:
            return []
        raw = await self.guard(self.client.lrange(self.key(namespace, key), start, -1 if stop is None else stop - 1))
        return [json.loads(item) for item in raw]

    async def touch(self, namespace: str, key: str, *, ttl: float | None) -> None:
        target = self.key(namespace, key)
        await self.guard(self.client.persist(target) if ttl is None else self.client.pexpire(target, _ms(ttl), gt=True))

    async def ping(self) -> None:
        """Raise `StateUnavailableError` unless Redis answers."""
        await self.guard(self.client.ping())

    async def add(self, namespace: str, key: str, value: Any, *, ttl: float | None = None) -> bool:
        target, px = self.key(namespace, key), None if ttl is None else _ms(ttl)
        try:
            if namespace not in INDEXED:
                return bool(await self.guard(self.client.set(target, _dumps(value), nx=True, px=px)))
            pipe = self.client.pipeline(transaction=True)
            pipe.set(target, _dumps(value), nx=True, px=px)
            pipe.sadd(self._internal("index", namespace), key)
            stored, _ = await self.guard(pipe.execute())
            return bool(stored)
        except StateUnavailableError:
            # A claim ({"owner": token, ...}) Redis may still store late must not block the platform's retry.
            owner = value.get("owner") if isinstance(value, dict) else None
            if isinstance(owner, str):
                self.orphans.add(target, owner, ttl or self.lock_ttl)
            raise

    async def add_and_get(
        self, namespace: str, key: str, value: Any, *, read: tuple[str, str], ttl: float | None = None
    ) -> tuple[bool, Any | None]:
        """`add`, and read the value at `read` (namespace, key) right after it, in one round trip."""
        target, px = self.key(namespace, key), None if ttl is None else _ms(ttl)
        pipe = self.client.pipeline(transaction=True)
        pipe.set(target, _dumps(value), nx=True, px=px)
        if namespace in INDEXED:
            pipe.sadd(self._internal("index", namespace), key)
        pipe.get(self.key(*read))
        try:
            replies = await self.guard(pipe.execute())
        except StateUnavailableError:
            owner = value.get("owner") if isinstance(value, dict) else None
            if isinstance(owner, str):
                self.orphans.add(target, owner, ttl or self.lock_ttl)
            raise
        return bool(replies[0]), self._decode(replies[-1], self.key(*read))

    async def set_then_discard(
        self,
        namespace: str,
        key: str,
        value: Any,
        *,
        discard: tuple[str, str],
        match: Mapping[str, str],
        ttl: float | None = None,
    ) -> bool:
        """`set`, then `discard(*discard, match=match)`, in one atomic step; returns whether it discarded."""
        if held_by(self):
            await self.set(namespace, key, value, ttl=ttl)
            return await self.discard(*discard, match=match)
        target = self.key(*discard)
        args: list[bytes | str | int] = [_dumps(value), 0 if ttl is None else _ms(ttl)]
        for name, expected in match.items():
            args += [name, expected]
        # No orphan is recorded when this times out: deleting the entry before the value is surely written
        # could let a repeat in; the caller retries the whole step instead (a late run of it is harmless).
        script = self._scripts().set_then_discard
        return bool(await self.guard(script(keys=[self.key(namespace, key), target], args=args)))

    async def replace(
        self, namespace: str, key: str, value: Any, *, match: Mapping[str, str], ttl: float | None = None
    ) -> bool:
        return await self._replace_matching(self.key(namespace, key), _dumps(value), match, ttl)

    async def discard(self, namespace: str, key: str, *, match: Mapping[str, str]) -> bool:
        target = self.key(namespace, key)
        try:
            return await self._replace_matching(target, b"", match, None)
        except StateUnavailableError:
            if "owner" in match:
                self.orphans.add(target, match["owner"], self.lock_ttl)
            raise

    async def _replace_matching(self, target: str, data: bytes, match: Mapping[str, str], ttl: float | None) -> bool:
        args: list[bytes | str | int] = [data, 0 if ttl is None else _ms(ttl)]
        for name, expected in match.items():
            args += [name, expected]
        return bool(await self.guard(self._scripts().replace_matching(keys=[target], args=args)))

    async def keys(self, namespace: str) -> list[str]:
        """Every key in `namespace`: from an index set for the ledger, outbox and dead letters, else a SCAN."""
        if namespace in INDEXED:
            return await self.guard(self._indexed_keys(namespace))
        prefix = self.key(namespace, "x")[:-1]

        async def scan() -> list[str]:
            found: list[str] = []
            async for raw in self.client.scan_iter(match=_glob_escape(prefix) + "*", count=1000):
                found.append((raw.decode() if isinstance(raw, bytes) else str(raw))[len(prefix) :])
            return found

        return await self.guard(scan())

    async def _indexed_keys(self, namespace: str) -> list[str]:
        """The index's members whose records still exist; members whose records went are pruned."""
        index = self._internal("index", namespace)
        members = sorted(
            raw.decode() if isinstance(raw, bytes) else str(raw) for raw in await self.client.smembers(index)
        )
        if not members:
            return []
        pipe = self.client.pipeline(transaction=False)
        for member in members:
            pipe.exists(self.key(namespace, member))
        alive = await pipe.execute()
        gone = [member for member, exists in zip(members, alive, strict=True) if not exists]
        if gone:
            await self.client.srem(index, *gone)
        return [member for member, exists in zip(members, alive, strict=True) if exists]

    async def delete(self, namespace: str, key: str) -> bool:
        return bool(await self.guard(self.client.delete(self.key(namespace, key))))

    async def publish(self, channel: str, message: str) -> None:
        """Send `message` to every process listening on `channel` (Redis pub/sub under this store's prefix)."""
        await self.guard(self.client.publish(self._channel(channel), message))

    def _channel(self, channel: str) -> str:
        return self._internal("signal", channel)

    @asynccontextmanager
    async def _subscription(self, channel: str) -> AsyncIterator[AsyncIterator[str | None]]:
        pubsub = self.client.pubsub()
        try:
            await pubsub.subscribe(channel)
            yield _published(pubsub)
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    def lock(self, name: str, *, wait: float | None = None) -> AbstractAsyncContextManager[SharedLease]:
        """Hold `name` across every process sharing this Redis; yields the lease (`token`, `fence`).

        Raises `SessionBusyError` after waiting `wait` seconds (None: no limit).
        """
        return self.leases.hold(self._internal("lock", name), self.lock_ttl, wait=wait)

    def leader(self, name: str, *, ttl: float | None = None) -> Leader:
        """A leader lease for `name`: one holder across processes; lapses `ttl` s after its holder stops renewing."""
        return Leader(self.leases, self._internal("leader", name), self.leader_ttl if ttl is None else ttl)

    def checkpoint_storage(self, scope: str) -> RedisCheckpointStorage:
        """Workflow checkpoints of one isolation scope."""
        from ._redis_checkpoints import RedisCheckpointStorage

        return RedisCheckpointStorage(self, scope)


RedisLeader = Leader  # the name this module exported before leases were shared with PostgreSQL


class _LeaseKeys:
    """Leases as Redis keys (Lua scripts): taken when absent, with a fence from a counter.

    A command whose answer never came may still run when a stalled Redis resumes, so the token of an
    acquire or release that timed out is kept as an orphan and discarded as soon as Redis answers.
    """

    def __init__(self, store: RedisStateStore) -> None:
        self.store = store

    async def try_acquire(self, name: str, ttl: float) -> tuple[str, int] | None:
        store = self.store
        token = secrets.token_hex(16)
        args: list[str | int] = [token, _ms(ttl), *store.orphans.tokens(name)]
        try:
            fence = await store.guard(store._scripts().acquire(keys=[name, store._internal("fence")], args=args))
        except StateUnavailableError:
            store.orphans.add(name, token, ttl)
            raise
        return (token, int(fence)) if fence else None

    async def renew(self, name: str, token: str, ttl: float) -> bool:
        return bool(await self.store.guard(self.store._scripts().renew(keys=[name], args=[token, _ms(ttl)])))

    async def release(self, name: str, token: str) -> None:
        store = self.store
        try:
            await store.guard(store._scripts().release(keys=[name], args=[token]))
        except StateUnavailableError:
            logger.warning("could not release %s yet; releasing it once the state store answers", name)
            store.orphans.add(name, token, max(store.lock_ttl, store.leader_ttl))
