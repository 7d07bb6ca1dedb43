"""PostgreSQL as the host's system of record: every `StateStore` record, turn leases and checkpoints.

The store creates and migrates its tables itself (a schema version table,
applied under an advisory lock, so processes starting together agree). Turn
locks are lease rows with fencing: a write made under a lease commits only while
the lease is held. Connection trouble surfaces as `StateUnavailableError` (503).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from . import _remote as remote
from ._errors import LeaseLostError, StateUnavailableError
from ._leases import Leader, Leases, SharedLease, held_by
from ._locations import redact_url
from ._postgres_schema import MIGRATIONS, SCHEMA_NAME
from ._remote import Listeners, Listening, Outages, split_own_options

if TYPE_CHECKING:
    from ._postgres_checkpoints import PostgresCheckpointStorage

logger = logging.getLogger("agent_framework.hosting")

T = TypeVar("T")
DEFAULT_SCHEMA = "public"
DEFAULT_LOCK_TTL = 20.0
DEFAULT_LEADER_TTL = 15.0
DEFAULT_POOL_SIZE = 10
DEFAULT_SWEEP_INTERVAL = 300.0
MIGRATION_LOCK = 0x61666873  # "afhs": serialises schema migrations across processes
OWN_URL_OPTIONS = ("schema", "lock_ttl", "leader_ttl", "checkpoint_ttl", "pool_size")
UNAVAILABLE = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout, OSError)
NO_END = 2**31 - 1
CHANNEL_LIMIT = 63  # bytes: PostgreSQL's longest identifier, so the longest LISTEN channel


_BATCH: ContextVar[tuple[PostgresStateStore, psycopg.AsyncConnection[Any], psycopg.AsyncPipeline] | None] = ContextVar(
    "afh_postgres_batch", default=None
)


async def _raise(error: BaseException) -> None:
    raise error


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else max(1, int(seconds * 1000))


async def _notified(connection: psycopg.AsyncConnection[Any]) -> AsyncIterator[str | None]:
    """A listening connection's notification payloads, after a None for the LISTEN that now holds.

    Every `SUBSCRIPTION_IDLE` the connection is checked with a query; unanswered as long, it raises (it was dropped)."""
    yield None
    while True:
        async for notification in connection.notifies(timeout=remote.SUBSCRIPTION_IDLE):
            yield notification.payload
        check = asyncio.ensure_future(connection.execute("SELECT 1"))
        try:
            await asyncio.wait({check}, timeout=remote.SUBSCRIPTION_IDLE)
        finally:
            if not check.done():
                # Closed, not cancelled: psycopg would wait for the cancelled query's answer, which never comes.
                await connection.close()
                check.cancel()
                await asyncio.gather(check, return_exceptions=True)
        if check.cancelled():
            raise StateUnavailableError("the subscription stopped answering")
        check.result()


class PostgresStateStore(Listening):
    """The `StateStore` protocol on PostgreSQL (psycopg 3 with its connection pool).

    ``PostgresStateStore.from_url("postgresql://user:pass@host/db?schema=afh")``;
    tables live in `schema` (created when missing). `lock()` is a lease row renewed
    in the background, so a crashed process frees its sessions after `lock_ttl`.
    """

    keeps_objects = False
    #: Values are `jsonb`, which keeps an object's keys in its own order: a caller that must read back the
    #: exact JSON it wrote stores it as text.
    keeps_key_order = False
    shared = True

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str = DEFAULT_SCHEMA,
        lock_ttl: float = DEFAULT_LOCK_TTL,
        leader_ttl: float = DEFAULT_LEADER_TTL,
        checkpoint_ttl: float | None = None,
        allowed_checkpoint_types: Sequence[str] | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
        sweep_interval: float = DEFAULT_SWEEP_INTERVAL,
    ) -> None:
        if not SCHEMA_NAME.match(schema):
            raise ValueError(f"schema must be a lower-case SQL identifier, got {schema!r}")
        if lock_ttl <= 0 or leader_ttl <= 0:
            raise ValueError("lock_ttl and leader_ttl must be positive")
        self.conninfo = conninfo
        self.schema = schema
        self.lock_ttl = lock_ttl
        self.leader_ttl = leader_ttl
        self.checkpoint_ttl = checkpoint_ttl
        self.allowed_checkpoint_types = frozenset(allowed_checkpoint_types or ())
        self.pool_size = pool_size
        self.sweep_interval = sweep_interval
        self.location = redact_url(conninfo)
        self.leases = Leases(self, _LeaseRows(self))
        self._pools: tuple[AsyncConnectionPool, AsyncConnectionPool] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening = asyncio.Lock()
        self._swept = time.monotonic()
        self._sweeping: set[asyncio.Task[int]] = set()
        self._outages = Outages(self.location, UNAVAILABLE)
        self.listeners = Listeners(self._subscription, UNAVAILABLE)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> PostgresStateStore:
        """A store for a `postgresql://` URL; ``?schema=&lock_ttl=&leader_ttl=&checkpoint_ttl=&pool_size=`` are ours."""
        url, own = split_own_options(url, OWN_URL_OPTIONS)
        settings: dict[str, Any] = {name: float(value) for name, value in own.items() if name.endswith("_ttl")}
        if "schema" in own:
            settings["schema"] = own["schema"]
        if "pool_size" in own:
            settings["pool_size"] = int(own["pool_size"])
        return cls(url, **{**settings, **options})

    def __repr__(self) -> str:
        return f"PostgresStateStore({self.location!r}, schema={self.schema!r})"

    def _sql(self, statement: str) -> str:
        return statement.replace("{s}", self.schema)

    async def guard(self, operation: Awaitable[T]) -> T:
        """Await a database call, turning connection trouble into `StateUnavailableError` (logged once per outage)."""
        return await self._outages.guard(operation)

    def _new_pool(self, size: int, **settings: Any) -> AsyncConnectionPool:
        return AsyncConnectionPool(
            self.conninfo,
            min_size=1,
            max_size=size,
            kwargs={"autocommit": True, "connect_timeout": 3, **settings},
            timeout=5.0,
            open=False,
        )

    async def _ready_pools(self) -> tuple[AsyncConnectionPool, AsyncConnectionPool]:
        """(records pool, leases pool), opened on first use in each event loop, the schema migrated."""
        loop = asyncio.get_running_loop()
        if self._pools is not None and self._loop is loop:
            return self._pools
        async with self._opening:
            if self._pools is None or self._loop is not loop:
                records = self._new_pool(self.pool_size)
                # Lease rows need no durable commit: one lost in a crash only frees its conversation
                # sooner, and every write under a lease checks the lease's token in its own (durable) commit.
                leases = self._new_pool(max(2, self.pool_size // 2), options="-c synchronous_commit=off")
                await records.open()
                await leases.open()
                try:
                    async with records.connection() as connection:
                        await self._migrate(connection)
                except BaseException:
                    await records.close()
                    await leases.close()
                    raise
                self._pools, self._loop = (records, leases), loop
        return self._pools

    @asynccontextmanager
    async def connection(self, *, lease: bool = False) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection (autocommit; `lease`: one that commits without waiting for the disk)."""
        pools = await self.guard(self._ready_pools())
        async with pools[1 if lease else 0].connection() as connection:
            yield connection
        self._maybe_sweep()

    async def _run(
        self, statement: str, params: Sequence[Any] | Mapping[str, Any] = (), *, lease: bool = False
    ) -> list[tuple[Any, ...]]:
        batched = None if lease else _BATCH.get()
        if batched is not None and batched[0] is self:
            return await self.guard(self._execute(batched[1], statement, params, batched[2]))

        async def go() -> list[tuple[Any, ...]]:
            async with self.connection(lease=lease) as connection:
                return await self._execute(connection, statement, params)

        # A caller cancelled mid-statement (a watcher stopped at the end of a turn) must not cancel the
        # statement itself: psycopg would leave its pooled connection waiting on the server.
        return await self.guard(asyncio.shield(go()))

    async def _execute(
        self,
        connection: psycopg.AsyncConnection[Any],
        statement: str,
        params: Sequence[Any] | Mapping[str, Any],
        pipeline: psycopg.AsyncPipeline | None = None,
    ) -> list[tuple[Any, ...]]:
        cursor = await connection.execute(self._sql(statement), params)
        if pipeline is not None:
            await pipeline.sync()  # the statement's result (and a queued BEGIN before it) in one round trip
        return await cursor.fetchall() if cursor.description is not None else []

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """Run this task's writes inside one transaction: all of them commit together (one disk flush), or none."""
        if _BATCH.get() is not None:
            yield
            return
        try:
            # In pipeline mode BEGIN travels with the first statement: one round trip fewer per batch.
            async with self.connection() as connection, connection.pipeline() as pipeline, connection.transaction():
                token = _BATCH.set((self, connection, pipeline))
                try:
                    yield
                finally:
                    _BATCH.reset(token)
        except UNAVAILABLE as error:
            await self.guard(_raise(error))

    async def _migrate(self, connection: psycopg.AsyncConnection[Any]) -> None:
        async with connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            await connection.execute(self._sql("CREATE SCHEMA IF NOT EXISTS {s}"))
            await connection.execute(
                self._sql(
                    "CREATE TABLE IF NOT EXISTS {s}.afh_schema_version "
                    "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                )
            )
            cursor = await connection.execute(self._sql("SELECT coalesce(max(version), 0) FROM {s}.afh_schema_version"))
            row = await cursor.fetchone()
            current = int(row[0]) if row else 0
            for version, script in MIGRATIONS:
                if version > current:
                    await connection.execute(self._sql(script))
                    await connection.execute(
                        self._sql("INSERT INTO {s}.afh_schema_version (version) VALUES (%s)"), (version,)
                    )
                    logger.info("state store %s: applied schema migration %d", self.location, version)

    async def schema_version(self) -> int:
        rows = await self._run("SELECT coalesce(max(version), 0) FROM {s}.afh_schema_version")
        return int(rows[0][0])

    async def open(self) -> None:
        """Connect and migrate; the host starts either way and answers 503 until the database answers."""
        self.listeners.open()
        try:
            await self.ping()
        except StateUnavailableError:
            logger.warning("state store %s is not reachable yet; requests get 503 until it is", self.location)

    async def ping(self) -> None:
        """Raise `StateUnavailableError` unless the database answers."""
        await self._run("SELECT 1")

    async def aclose(self) -> None:
        await self.listeners.aclose()
        if self._sweeping:
            await asyncio.wait(set(self._sweeping), timeout=5)
        pools, self._pools = self._pools, None
        for pool in pools or ():
            try:
                await pool.close()
            except RuntimeError:
                logger.debug("closing a PostgreSQL pool failed", exc_info=True)

    # -- values -------------------------------------------------------------------------------

    def _held(self) -> list[SharedLease]:
        return held_by(self)

    async def get(self, namespace: str, key: str) -> Any | None:
        rows = await self._run(
            "SELECT value FROM {s}.afh_values WHERE namespace = %s AND key = %s "
            "AND (expires_at IS NULL OR expires_at > now())",
            (namespace, self._key(key)),
        )
        return rows[0][0] if rows else None

    @staticmethod
    def _key(key: str) -> str:
        if not key:
            raise ValueError("state keys must be non-empty strings")
        return key

    async def set(self, namespace: str, key: str, value: Any, *, ttl: float | None = None) -> None:
        leases = self._held()
        rows = await self._run(
            "SELECT {s}.afh_set(%s, %s, %s, %s, %s)",
            (namespace, self._key(key), Jsonb(value), _ms(ttl), [lease.token for lease in leases]),
        )
        if not rows[0][0]:
            self._lost(leases)

    @staticmethod
    def _lost(leases: list[SharedLease]) -> None:
        for lease in leases:
            lease.lost = True
        raise LeaseLostError("the turn's lease expired and another process took over; the turn was not saved")

    async def add(self, namespace: str, key: str, value: Any, *, ttl: float | None = None) -> bool:
        rows = await self._run(
            "INSERT INTO {s}.afh_values AS v (namespace, key, value, expires_at) "
            "VALUES (%s, %s, %s, {s}.afh_expiry(%s)) "
            "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at "
            "WHERE v.expires_at IS NOT NULL AND v.expires_at <= now() RETURNING 1",
            (namespace, self._key(key), Jsonb(value), _ms(ttl)),
        )
        return bool(rows)

    async def delete(self, namespace: str, key: str) -> bool:
        rows = await self._run(
            "WITH v AS (DELETE FROM {s}.afh_values WHERE namespace = %s AND key = %s RETURNING 1), "
            "l AS (DELETE FROM {s}.afh_lists WHERE namespace = %s AND key = %s RETURNING 1) "
            "SELECT (SELECT count(*) FROM v) + (SELECT count(*) FROM l)",
            (namespace, key, namespace, key),
        )
        return bool(rows[0][0])

    @staticmethod
    def _matching(match: Mapping[str, str]) -> tuple[str, list[Any]]:
        clauses, params = ["jsonb_typeof(value) = 'object'"], []
        for name, expected in match.items():
            clauses.append("value ->> %s = %s")
            params += [name, expected]
        return " AND ".join(clauses), params

    async def replace(
        self, namespace: str, key: str, value: Any, *, match: Mapping[str, str], ttl: float | None = None
    ) -> bool:
        """Compare-and-set: store `value` only when the current value's fields equal `match`."""
        condition, params = self._matching(match)
        rows = await self._run(
            "UPDATE {s}.afh_values SET value = %s, "
            "expires_at = CASE WHEN %s::bigint IS NULL THEN expires_at ELSE {s}.afh_expiry(%s) END "
            "WHERE namespace = %s AND key = %s AND (expires_at IS NULL OR expires_at > now()) AND "
            + condition
            + " RETURNING 1",
            [Jsonb(value), _ms(ttl), _ms(ttl), namespace, key, *params],
        )
        return bool(rows)

    async def discard(self, namespace: str, key: str, *, match: Mapping[str, str]) -> bool:
        """Compare-and-delete: delete `key` only when its value's fields equal `match`."""
        condition, params = self._matching(match)
        rows = await self._run(
            "DELETE FROM {s}.afh_values WHERE namespace = %s AND key = %s AND " + condition + " RETURNING 1",
            [namespace, key, *params],
        )
        return bool(rows)

    async def keys(self, namespace: str) -> list[str]:
        """Every live key of `namespace`."""
        rows = await self._run(
            "SELECT key FROM {s}.afh_values WHERE namespace = %s AND (expires_at IS NULL OR expires_at > now()) "
            "ORDER BY key",
            (namespace,),
        )
        return [row[0] for row in rows]

    # -- lists --------------------------------------------------------------------------------

    async def append(
        self, namespace: str, key: str, items: Sequence[Any], *, at: int, ttl: float | None = None
    ) -> bool:
        leases = self._held()
        rows = await self._run(
            "SELECT {s}.afh_append(%s, %s, %s, %s, %s, %s)",
            (namespace, self._key(key), at, Jsonb(list(items)), _ms(ttl), [lease.token for lease in leases]),
        )
        outcome = rows[0][0]
        if outcome == -1:
            self._lost(leases)
        return bool(outcome == 1)

    async def items(self, namespace: str, key: str, start: int = 0, stop: int | None = None) -> list[Any]:
        rows = await self._run(
            "SELECT i.item FROM {s}.afh_items i JOIN {s}.afh_lists l USING (namespace, key) "
            "WHERE i.namespace = %s AND i.key = %s AND i.position >= %s AND i.position < %s "
            "AND (l.expires_at IS NULL OR l.expires_at > now()) ORDER BY i.position",
            (namespace, key, max(0, start), NO_END if stop is None else stop),
        )
        return [row[0] for row in rows]

    async def touch(self, namespace: str, key: str, *, ttl: float | None) -> None:
        await self._run(
            "UPDATE {s}.afh_lists SET expires_at = CASE WHEN %s::bigint IS NULL OR expires_at IS NULL THEN NULL "
            "ELSE greatest(expires_at, {s}.afh_expiry(%s)) END "
            "WHERE namespace = %s AND key = %s AND (expires_at IS NULL OR expires_at > now())",
            (_ms(ttl), _ms(ttl), namespace, key),
        )

    # -- retention ----------------------------------------------------------------------------

    def _maybe_sweep(self) -> None:
        now = time.monotonic()
        if now - self._swept < self.sweep_interval:
            return
        self._swept = now
        task = asyncio.get_running_loop().create_task(self.sweep())
        self._sweeping.add(task)
        task.add_done_callback(self._sweeping.discard)

    async def sweep(self) -> int:
        """Delete expired records, lists, leases and checkpoints; returns how many rows went."""
        rows = await self._run(
            "WITH v AS (DELETE FROM {s}.afh_values WHERE expires_at <= now() RETURNING 1), "
            "l AS (DELETE FROM {s}.afh_lists WHERE expires_at <= now() RETURNING 1), "
            "c AS (DELETE FROM {s}.afh_checkpoints WHERE expires_at <= now() RETURNING 1), "
            "k AS (DELETE FROM {s}.afh_leases WHERE expires_at <= now() - interval '1 hour' RETURNING 1) "
            "SELECT (SELECT count(*) FROM v) + (SELECT count(*) FROM l) + (SELECT count(*) FROM c) "
            "+ (SELECT count(*) FROM k)"
        )
        return int(rows[0][0])

    # -- notifications ------------------------------------------------------------------------

    def _channel(self, channel: str) -> str:
        """The LISTEN channel of `channel` in this store's schema (hashed when too long for an identifier)."""
        name = f"afh_{self.schema}_{channel}"
        return name if len(name.encode()) <= CHANNEL_LIMIT else "afh_" + hashlib.sha256(name.encode()).hexdigest()[:40]

    async def publish(self, channel: str, message: str) -> None:
        """Send `message` to every process listening on `channel` (NOTIFY; delivered once committed)."""
        await self._run("SELECT pg_notify(%s, %s)", (self._channel(channel), message))

    @asynccontextmanager
    async def _subscription(self, channel: str) -> AsyncIterator[AsyncIterator[str | None]]:
        # A connection of its own, outside the pools: it stays in LISTEN for the life of the process.
        connection = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True, connect_timeout=3)
        try:
            await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            yield _notified(connection)
        finally:
            await connection.close()

    # -- leases -------------------------------------------------------------------------------

    def lock(self, name: str, *, wait: float | None = None) -> AbstractAsyncContextManager[SharedLease]:
        """Hold `name` across every process sharing this database; yields the lease (`token`, `fence`)."""
        return self.leases.hold(f"lock:{name}", self.lock_ttl, wait=wait)

    def leader(self, name: str, *, ttl: float | None = None) -> Leader:
        """A leader lease for `name`: one holder across processes; lapses `ttl` s after its holder stops renewing."""
        return Leader(self.leases, f"leader:{name}", self.leader_ttl if ttl is None else ttl)

    def checkpoint_storage(self, scope: str) -> PostgresCheckpointStorage:
        """Workflow checkpoints of one isolation scope."""
        from ._postgres_checkpoints import PostgresCheckpointStorage

        return PostgresCheckpointStorage(self, scope)


class _LeaseRows:
    """Leases as rows of `afh_leases`: taken when absent or lapsed, with a fence from a sequence."""

    def __init__(self, store: PostgresStateStore) -> None:
        self.store = store

    async def try_acquire(self, name: str, ttl: float) -> tuple[str, int] | None:
        token = secrets.token_hex(16)
        rows = await self.store._run(
            "INSERT INTO {s}.afh_leases AS l (name, token, fence, expires_at) "
            "VALUES (%s, %s, nextval('{s}.afh_fence'), clock_timestamp() + %s * interval '1 millisecond') "
            "ON CONFLICT (name) DO UPDATE SET token = excluded.token, fence = excluded.fence, "
            "expires_at = excluded.expires_at WHERE l.expires_at <= clock_timestamp() RETURNING fence",
            (name, token, _ms(ttl)),
            lease=True,
        )
        return (token, int(rows[0][0])) if rows else None

    async def renew(self, name: str, token: str, ttl: float) -> bool:
        rows = await self.store._run(
            "UPDATE {s}.afh_leases SET expires_at = clock_timestamp() + %s * interval '1 millisecond' "
            "WHERE name = %s AND token = %s AND expires_at > clock_timestamp() RETURNING 1",
            (_ms(ttl), name, token),
            lease=True,
        )
        return bool(rows)

    async def release(self, name: str, token: str) -> None:
        await self.store._run("DELETE FROM {s}.afh_leases WHERE name = %s AND token = %s", (name, token), lease=True)
