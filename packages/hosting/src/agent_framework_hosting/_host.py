"""`AgentFrameworkHost`: one target, many channels, one Starlette app."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import inspect
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, overload
from urllib.parse import quote

from agent_framework import FileCheckpointStorage, InMemoryHistoryProvider, Message, Workflow
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from ._admin import admin_routes
from ._claims import CLAIMS, Claims
from ._collect import BATCHES, RESULTS, Collector
from ._concurrency import Concurrency, ConcurrencySetting, resolve_concurrency
from ._context import ChannelContext
from ._control import RUNNING, STOP, STOP_SIGNAL, RunningTurns
from ._delivery import ConversationReference, DeliveryError, DeliveryResult
from ._errors import StartupError
from ._health import Health, liveness
from ._isolation import FoundryIsolationMiddleware, foundry_hosted
from ._ledger import LEDGER, DeliveryOptions, TurnLedger
from ._linked_memory import LinkedMemory
from ._linking import CODES, LIMITS, MEMBERS, PERSONS, IdentityLinking, Links
from ._locations import POSTGRES_SCHEMES, check_writable_folder, is_remote_location, url_scheme
from ._logging import exception_summary
from ._outbox import DEAD_LETTERS, OUTBOX, DeadLetters, Outbox
from ._parked import warm_sessions
from ._proactive import Destination, Proactive
from ._sessions import SessionManager
from ._state import FileStateStore, MemoryStateStore, StateStore
from ._tasks import BackgroundTasks
from ._types import Channel, ChannelCommand, ChannelContribution, HostedRunResult
from ._upstream import workflow_has_checkpointing
from ._workflow import CheckpointFactory, ScopedCheckpointStorage, WorkflowRunner, resolve_target
from ._workflow_input import channel_input_kind, unfed_types

logger = logging.getLogger("agent_framework.hosting")

STATE_COMPONENTS = ("sessions", "checkpoints")
DEFAULT_MAX_SESSIONS = 1000
DEFAULT_TURN_WAIT = 120.0
DEFAULT_SHUTDOWN_TIMEOUT = 30.0
DEFAULT_RESET_TIMEOUT = 30.0
DEFAULT_RESPONSE_TTL = 30 * 24 * 3600.0  # what OpenAI keeps stored responses for


def _state_locations(state_dir: Any) -> tuple[Any, Path | None, bool]:
    """Split `state_dir` into (sessions location, checkpoints path, checkpoints named explicitly)."""
    if state_dir is None:
        return None, None, False
    if isinstance(state_dir, StateStore) or is_remote_location(state_dir):
        return state_dir, None, False
    if isinstance(state_dir, (str, os.PathLike)):
        root = Path(state_dir)
        return root / "sessions", root / "checkpoints", False
    if isinstance(state_dir, Mapping):
        unknown = sorted(set(state_dir) - set(STATE_COMPONENTS))
        if unknown:
            raise ValueError(
                f"state_dir has unknown component key(s) {unknown}; known components: {list(STATE_COMPONENTS)}"
            )
        parts: dict[str, Any] = {}
        for name in STATE_COMPONENTS:
            value = state_dir.get(name)
            if value is not None and not isinstance(value, (str, os.PathLike, StateStore)):
                raise TypeError(f"state_dir[{name!r}] must be a path, got {type(value).__name__}")
            parts[name] = value
        sessions = parts["sessions"]
        if isinstance(sessions, (str, os.PathLike)) and not is_remote_location(sessions):
            sessions = Path(sessions)
        checkpoints = Path(parts["checkpoints"]) if parts["checkpoints"] is not None else None
        return sessions, checkpoints, "checkpoints" in state_dir
    raise TypeError(
        f"state_dir must be a path, a HostStatePaths mapping or a StateStore, got {type(state_dir).__name__}"
    )


# Namespaces of work in flight (and of links a person made): memory state never evicts them.
IN_FLIGHT_NAMESPACES = (
    LEDGER,
    OUTBOX,
    DEAD_LETTERS,
    CLAIMS,
    RUNNING,
    STOP,
    STOP_SIGNAL,
    BATCHES,
    RESULTS,
    CODES,
    LIMITS,
    MEMBERS,
    PERSONS,
)


def open_state_store(location: Any, *, max_entries: int) -> StateStore:
    """The store for a sessions location: memory, a folder, a `redis://` URL, or a store as is."""
    if location is None:
        return MemoryStateStore(max_entries=max_entries, pinned=IN_FLIGHT_NAMESPACES)
    if isinstance(location, StateStore):
        return location
    if url_scheme(location) in POSTGRES_SCHEMES:
        try:
            from ._postgres import PostgresStateStore
        except ImportError as error:
            raise ImportError(
                "a postgresql:// state location needs the [postgres] extra: "
                "pip install 'agent-framework-hosting[postgres]'"
            ) from error
        return PostgresStateStore.from_url(location)
    if is_remote_location(location):
        try:
            from ._redis import RedisStateStore
        except ImportError as error:
            raise ImportError(
                "a redis:// state location needs the [redis] extra: pip install 'agent-framework-hosting[redis]'"
            ) from error
        return RedisStateStore.from_url(location)
    check_writable_folder(location)
    return FileStateStore(location)


def _checkpoint_dir(root: Path) -> CheckpointFactory:
    def storage(scope: str) -> FileCheckpointStorage:
        return FileCheckpointStorage(root / quote(scope, safe=""))

    return storage


_frozen_at_startup = False


def _freeze_startup_objects() -> None:
    """Once per process, move what imports and startup created out of the collector's reach (`gc.freeze`).

    Those objects live as long as the process; without this every full collection walks them all again,
    which under load costs a few percent of every request.
    """
    global _frozen_at_startup
    if not _frozen_at_startup:
        _frozen_at_startup = True
        gc.collect()
        gc.freeze()


class AgentFrameworkHost:
    """Serves one agent or workflow through channels on one Starlette app.

    `state_dir` is `None` (memory: a bounded LRU of `max_sessions` sessions),
    a folder, a `HostStatePaths` mapping, a `redis://` URL, or a `StateStore`.
    `turn_wait` bounds how long a turn waits for the previous turn of the same
    isolation key; `shutdown_timeout` bounds how long shutdown waits for
    background work. `session_ttl` (seconds; None: forever) is how long an idle
    conversation is kept, `response_ttl` how long stored responses are (30 days).
    `concurrency` chooses what a message does while its conversation's turn runs:
    ``"queue"`` (default), ``"reject"``, ``"interrupt"``, ``"collect"``, or a
    `Concurrency` with per-channel overrides. `admin_token` turns on
    ``POST /admin/deliver`` (proactive delivery from outside, bearer token).
    `linking` (an `IdentityLinking`) turns on `/link` and `/unlink` in chat channels.
    `delivery` tunes the turn ledger and the outbox (leases, resume attempts, retries).
    """

    def __init__(
        self,
        target: Any,
        *,
        channels: Sequence[Channel],
        debug: bool = False,
        checkpoint_location: Any = None,
        state_dir: Any = None,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        session_ttl: float | None = None,
        response_ttl: float | None = DEFAULT_RESPONSE_TTL,
        turn_wait: float | None = DEFAULT_TURN_WAIT,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
        delivery: DeliveryOptions | None = None,
        concurrency: ConcurrencySetting = None,
        admin_token: str | None = None,
        linking: IdentityLinking | None = None,
    ) -> None:
        self.channels = list(channels)
        self._check_channels()
        self.debug = debug
        self.turn_wait = turn_wait
        self.shutdown_timeout = shutdown_timeout
        target, factory = resolve_target(target)
        self.target: Any = target
        self.agent_target = factory is None and not isinstance(target, Workflow)
        sessions_location, checkpoints_path, checkpoints_named = _state_locations(state_dir)
        self.state_location = sessions_location
        self.state: StateStore = open_state_store(sessions_location, max_entries=max_sessions)
        self.session_ttl = session_ttl
        self.response_ttl = response_ttl
        self.sessions = SessionManager(target, self.state, ttl=session_ttl, warm=warm_sessions(max_sessions))
        self.claims = Claims(self.state)
        self.ledger = TurnLedger(self.state, delivery)
        self.outbox = Outbox(self.state, delivery)
        self.dead_letters = DeadLetters(self.state)
        self.tasks = BackgroundTasks()
        self.concurrency: Concurrency = resolve_concurrency(concurrency)
        self.turns = RunningTurns(self.state)
        self.proactive = Proactive(self)
        if admin_token is not None and len(admin_token) < 16:
            raise ValueError("admin_token must be at least 16 characters")
        self.admin_token = admin_token
        self.linking = linking
        self.links = Links(self.state, linking) if linking is not None else None
        if linking is not None and linking.share == "memory" and self.agent_target:
            _add_linked_memory(self, linking)
        self.collector = Collector(self.state, window=self.concurrency.collect_window, wait=turn_wait)
        self.accepts_middleware = self.agent_target and _accepts(getattr(target, "run", None), "middleware")
        checkpoints = self._checkpoints(checkpoint_location, checkpoints_path, checkpoints_named)
        self.workflows: WorkflowRunner | None = None
        if not self.agent_target:
            self.workflows = WorkflowRunner(factory or target, checkpoints)
            self._check_workflow_inputs(self.workflows)
        self._app: Starlette | None = None
        self.health = Health(self.state)
        self.on_started: list[Callable[[], Any]] = []
        self.startup_error: StartupError | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.context = ChannelContext(self)

    def _check_channels(self) -> None:
        names: set[str] = set()
        paths: set[str] = set()
        for channel in self.channels:
            if not isinstance(channel, Channel):
                raise TypeError(f"{channel!r} is not a Channel (needs name, path and contribute())")
            if channel.name in names:
                raise ValueError(f"two channels are named {channel.name!r}")
            if channel.path and channel.path in paths:
                raise ValueError(f"two channels are mounted at {channel.path!r}")
            names.add(channel.name)
            paths.add(channel.path)

    def _check_workflow_inputs(self, workflows: WorkflowRunner) -> None:
        """Refuse, in one line, a channel that can feed the workflow's start executor nothing it takes."""
        start = workflows.sample().get_start_executor()
        for channel in self.channels:
            kind = channel_input_kind(channel)
            types = unfed_types(start, kind)
            if types is not None:
                sends = "text" if kind == "text" else "JSON values"
                raise ValueError(
                    f"channel {channel.name!r} sends {sends}, but the workflow's start executor {start.id!r} "
                    f"takes {types}; give the workflow a start executor that takes str, Message or list[Message]"
                )

    def _checkpoints(self, location: Any, derived: Any, named: bool) -> CheckpointFactory | None:
        """One checkpoint storage per scope: a folder each, a scoped shared storage, or the state store's own."""
        if derived is None and callable(getattr(self.state, "checkpoint_storage", None)):
            derived = self.state.checkpoint_storage  # type: ignore[attr-defined]
        is_workflow = not self.agent_target
        if location is not None and derived is not None and (named or is_workflow):
            logger.warning("checkpoint_location and state_dir['checkpoints'] are both set; using checkpoint_location")
        chosen = location if location is not None else (derived if is_workflow or named else None)
        if chosen is None:
            return None
        if not is_workflow:
            logger.warning("checkpoint_location is set but the target is not a workflow; ignoring it")
            return None
        if isinstance(self.target, Workflow) and workflow_has_checkpointing(self.target):
            raise RuntimeError(
                "the workflow already has its own checkpoint storage; give the host a checkpoint location "
                "or the workflow one, not both"
            )
        if isinstance(chosen, (str, os.PathLike)):
            check_writable_folder(chosen)
            return _checkpoint_dir(Path(chosen))
        if callable(getattr(chosen, "get_latest", None)):
            return lambda scope: ScopedCheckpointStorage(chosen, scope)
        return chosen  # type: ignore[no-any-return]

    @property
    def app(self) -> Starlette:
        """The Starlette app, built on first use."""
        if self._app is None:
            self._app = self._build_app()
        return self._app

    def _build_app(self) -> Starlette:
        routes: list[BaseRoute] = [Route("/readiness", self.health.readiness, methods=["GET"])]
        if self.admin_token is not None:
            routes.extend(admin_routes(self, self.admin_token))
        startups: list[tuple[str, Any]] = [("the state store", self._open_state)]
        shutdowns: list[Any] = []
        self.commands: dict[str, list[ChannelCommand]] = {}
        for channel in self.channels:
            contribution = channel.contribute(self.context.for_channel(channel))
            if not isinstance(contribution, ChannelContribution):
                raise TypeError(f"channel {channel.name!r} contribute() must return a ChannelContribution")
            routes.extend(_mount(channel.path, contribution.routes))
            routes.extend(_unique_root_routes(routes, contribution.root_routes, channel.name))
            startups.extend((f"channel {channel.name!r}", callback) for callback in contribution.on_startup)
            shutdowns.extend(contribution.on_shutdown)
            self.commands[channel.name] = list(contribution.commands)
        routes.extend(_unique_root_routes(routes, [Route("/liveness", liveness, methods=["GET"])], "host"))
        middleware = [Middleware(FoundryIsolationMiddleware)] if foundry_hosted() else []
        return Starlette(
            debug=self.debug, routes=routes, middleware=middleware, lifespan=self._lifespan(startups, shutdowns)
        )

    def _lifespan(self, startups: list[Any], shutdowns: list[Any]) -> Any:
        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            self._loop = asyncio.get_running_loop()
            await self._start(startups)
            await self.ledger.start(self.tasks.spawn)
            self.outbox.start()
            _freeze_startup_objects()
            try:
                yield
            finally:
                try:
                    await self.tasks.drain(self.shutdown_timeout)
                    await self.ledger.stop()
                    await self.outbox.stop()
                    await _run_all(shutdowns, "shutdown")
                    await self.turns.aclose()
                finally:
                    self._loop = None
                    await self.state.aclose()

        return lifespan

    async def _open_state(self) -> None:
        opened = getattr(self.state, "open", None)
        if callable(opened):
            await opened()

    async def _start(self, startups: list[tuple[str, Any]]) -> None:
        """Run every startup callback; on failure record one `StartupError` naming each component, raise the first."""
        self.startup_error = None
        failures: list[str] = []
        first: Exception | None = None
        for label, callback in startups:
            try:
                await callback()
            except Exception as error:
                logger.debug("%s failed to start", label, exc_info=True)
                self.health.report(label, exception_summary(error))
                failures.append(f"{label} failed to start: {exception_summary(error)}")
                first = first or error
        if first is not None:
            # The original error propagates (callers may expect its type); `startup_error` is the one-line summary.
            self.startup_error = StartupError("; ".join(failures))
            raise first
        logger.info("%s", self.describe())
        for callback in list(self.on_started):
            callback()

    def describe(self) -> str:
        kind = "Workflow" if not self.agent_target else type(self.target).__name__
        name = getattr(self.target, "name", None) or kind
        channels = ", ".join(f"{c.name}@{c.path or '/'}" for c in self.channels) or "<none>"
        state = getattr(self.state, "location", None) or self.state_location or "memory"
        return f"AgentFrameworkHost: target={name} ({kind}) state={state} channels=[{channels}]"

    @property
    def can_reset_sessions(self) -> bool:
        """Whether `reset_session` has something to reset: a session-keeping agent, or a workflow."""
        return not self.agent_target or self.sessions.supported

    def reset_session(self, isolation_key: str, *, timeout: float = DEFAULT_RESET_TIMEOUT) -> str:
        """The next turn for `isolation_key` starts a fresh session; returns its id. Blocks until stored.

        For synchronous code: admin scripts, and threads beside a serving host (the reset then runs
        on the host's event loop). From async code, `await host.reset_session_async(key)` instead.
        The old session stays stored under its old id (and, for workflows, so do its checkpoints).
        """
        self._check_reset(isolation_key)
        if _running_loop() is not None:
            raise RuntimeError(
                "host.reset_session() blocks and was called from async code; use `await host.reset_session_async(key)`"
            )
        loop = self._serving_loop()
        if loop is None:
            return asyncio.run(self._reset_on_private_loop(isolation_key))
        future = asyncio.run_coroutine_threadsafe(self.sessions.reset(isolation_key), loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"resetting the session for {isolation_key!r} took longer than {timeout} s") from None

    async def reset_session_async(self, isolation_key: str) -> str:
        """The awaitable form of `reset_session`; runs on the host's event loop wherever it is awaited."""
        self._check_reset(isolation_key)
        loop = self._serving_loop()
        if loop is None or loop is asyncio.get_running_loop():
            return await self.sessions.reset(isolation_key)
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.sessions.reset(isolation_key), loop))

    def _check_reset(self, isolation_key: str) -> None:
        if not isinstance(isolation_key, str) or not isolation_key:
            raise ValueError(f"reset_session needs a non-empty isolation key, got {isolation_key!r}")
        if not self.can_reset_sessions:
            raise RuntimeError(
                f"the target {type(self.target).__name__} keeps no sessions (it has no create_session); "
                "there is nothing to reset"
            )

    def _serving_loop(self) -> asyncio.AbstractEventLoop | None:
        loop = self._loop
        return loop if loop is not None and loop.is_running() and not loop.is_closed() else None

    async def _reset_on_private_loop(self, isolation_key: str) -> str:
        """Reset while the host is not serving; clients bound to this short-lived loop are closed after."""
        try:
            return await self.sessions.reset(isolation_key)
        finally:
            await self.state.aclose()

    @overload
    async def deliver(  # type: ignore[overload-overlap]  # a str is a Sequence too; it is matched first
        self, to: Destination, message: str | Message, *, idempotency_key: str | None = None
    ) -> DeliveryResult: ...

    @overload
    async def deliver(
        self, to: Sequence[Destination], message: str | Message, *, idempotency_key: str | None = None
    ) -> list[DeliveryResult]: ...

    async def deliver(
        self,
        to: Destination | Sequence[Destination],
        message: str | Message,
        *,
        idempotency_key: str | None = None,
    ) -> DeliveryResult | list[DeliveryResult]:
        """Send `message` into a conversation (an isolation key or a `ConversationReference`) through its channel.

        The message is appended to that conversation's history too. A list sends to
        each destination on its own and returns one result per destination. With an
        `idempotency_key`, a destination that already got this key is not sent to again.
        A send the platform fails goes to the durable outbox (retried, never sooner than
        its Retry-After, then a dead letter): the result says `queued`. One destination
        that is unknown or refused for good raises `DeliveryError`; in a list it is reported.
        """
        if isinstance(to, (str, ConversationReference)):
            result = await self.proactive.deliver_one(to, message, idempotency_key=idempotency_key)
            if not result.delivered and not result.queued:
                raise DeliveryError(f"could not deliver to {result.key!r}: {result.error}")
            return result
        return await self.proactive.deliver_many(list(to), message, idempotency_key=idempotency_key)

    async def run_and_deliver(
        self, to: Destination, prompt: str | Message, *, idempotency_key: str | None = None
    ) -> HostedRunResult[Any]:
        """Run an agent-initiated turn (reminders, scheduled jobs) in a conversation and deliver the answer."""
        return await self.proactive.run_and_deliver(to, prompt, idempotency_key=idempotency_key)

    def serve(self, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, **config: Any) -> None:
        """Serve with Hypercorn (the `[serve]` extra); blocks until stopped."""
        from ._serve import serve

        serve(self, host_name=host, port=port, workers=workers, **config)


def _add_linked_memory(host: AgentFrameworkHost, linking: IdentityLinking) -> None:
    """Give the agent the linked-memory provider (and, as the agent would by itself, in-memory history)."""
    providers = getattr(host.target, "context_providers", None)
    if not isinstance(providers, list):
        raise TypeError("linking with share='memory' needs an agent with context_providers")
    if not providers:
        providers.append(InMemoryHistoryProvider())
    providers.append(LinkedMemory(host, messages=linking.memory_messages))


def _accepts(function: Any, name: str) -> bool:
    try:
        return name in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _mount(path: str, routes: Sequence[BaseRoute]) -> list[BaseRoute]:
    if not routes:
        return []
    if not path:
        return list(routes)
    path = "/" + path.strip("/")
    exact: list[BaseRoute] = []
    for route in routes if path != "/" else ():
        # A channel's plain routes are also served at their full path, so a request skips the mount's own
        # router (a few µs of a webhook's acknowledgement); the mount keeps serving the rest. Only the leading
        # plain routes are copied (a later one could be matched first by one before it), each with its app,
        # so with any middleware of its own.
        copy: BaseRoute
        if type(route) is Route and "{" not in route.path:
            copy = Route(path if route.path == "/" else path + route.path, route.endpoint, methods=route.methods)
            copy.name, copy.include_in_schema = route.name, route.include_in_schema
        elif type(route) is WebSocketRoute and route.path == "/":
            copy = WebSocketRoute(path, route.endpoint, name=route.name)
        else:
            break
        copy.app = route.app
        exact.append(copy)
    return [*exact, Mount(path, routes=list(routes))]


def _unique_root_routes(existing: list[BaseRoute], added: Sequence[BaseRoute], channel: str) -> list[BaseRoute]:
    """Root routes a channel adds; a path another channel already serves at the root is refused."""
    taken = {getattr(route, "path", None) for route in existing}
    for route in added:
        path = getattr(route, "path", None)
        if path in taken and path != "/liveness":
            raise ValueError(f"channel {channel!r} adds root route {path!r}, which is already served")
    return [route for route in added if getattr(route, "path", None) not in taken]


async def _run_all(callbacks: list[Any], phase: str) -> None:
    """Run every callback; log each failure and raise the first once all have run."""
    failures: list[Exception] = []
    for callback in callbacks:
        try:
            await callback()
        except Exception as error:
            logger.error(
                "%s callback %r failed: %s",
                phase,
                callback,
                exception_summary(error),
                exc_info=logger.isEnabledFor(logging.DEBUG),
            )
            failures.append(error)
    if failures:
        if len(failures) > 1:
            logger.error("%d %s callbacks failed", len(failures), phase)
        raise failures[0]
