"""`host.serve()`: Hypercorn in this process, or in N forked worker processes sharing one socket."""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

from ._errors import StartupError

if TYPE_CHECKING:
    from ._host import AgentFrameworkHost

logger = logging.getLogger("agent_framework.hosting")
STARTUP_FAILED_EXIT = 3


def _config(host: str, port: int, **options: Any) -> Any:
    try:
        from hypercorn.config import Config
    except ImportError as error:
        raise RuntimeError("host.serve() requires Hypercorn: pip install 'agent-framework-hosting[serve]'") from error
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    for name, value in options.items():
        if not hasattr(config, name):
            raise TypeError(f"unknown Hypercorn setting {name!r}")
        setattr(config, name, value)
    return config


def freeze_startup_heap() -> None:
    """Hide everything built before serving (modules, the agent, the app) from the garbage collector.

    Full collections then walk only what requests create. Without this, each one re-walks the
    several hundred thousand objects imports leave behind: under a webhook backlog that cost a
    third of the process's CPU and 100-250 ms pauses. Before fork() it also keeps the workers'
    copies of those pages shared.
    """
    gc.collect()
    gc.freeze()


def _run(host: AgentFrameworkHost, coroutine: Any) -> None:
    """Run Hypercorn; a failed startup surfaces as the host's one-line `StartupError`, not Hypercorn's traceback."""
    from hypercorn.utils import LifespanFailureError

    try:
        asyncio.run(coroutine)
    except LifespanFailureError:
        if host.startup_error is not None:
            raise host.startup_error from None
        raise StartupError("the application failed to start; see the log above") from None


def _worker(host: AgentFrameworkHost, config: Any, sockets: Any) -> None:
    from hypercorn.asyncio.run import worker_serve
    from hypercorn.utils import wrap_app

    app = wrap_app(host.app, config.wsgi_max_body_size, None)  # type: ignore[arg-type]
    try:
        _run(host, worker_serve(app, config, sockets=sockets))
    except StartupError as error:
        logger.error("worker %d: %s", os.getpid(), error)
        sys.exit(STARTUP_FAILED_EXIT)


def serve(
    host: AgentFrameworkHost, *, host_name: str = "127.0.0.1", port: int = 8000, workers: int = 1, **options: Any
) -> None:
    """Serve until SIGINT/SIGTERM; then stop accepting and let in-flight requests finish for `graceful_timeout`."""
    options.setdefault("graceful_timeout", host.shutdown_timeout)
    config = _config(host_name, port, **options)
    app = host.app
    freeze_startup_heap()
    logger.debug("starting Hypercorn on http://%s:%s with %d worker(s)", host_name, port, workers)
    if workers <= 1:
        from hypercorn.asyncio import serve as hypercorn_serve

        _run(host, hypercorn_serve(app, config))  # type: ignore[arg-type]
        return
    if sys.platform == "win32":
        raise RuntimeError("workers > 1 needs fork(); run one process per worker instead")
    if host.state_location is None:
        logger.warning(
            "%d workers with in-memory state: each worker keeps its own sessions; use a redis:// state_dir", workers
        )
    sockets = config.create_sockets()
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_worker, args=(host, config, sockets), daemon=False) for _ in range(workers)]
    for process in processes:
        process.start()

    def forward(signum: int, frame: Any) -> None:
        for process in processes:
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes:
            process.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if all(process.exitcode == STARTUP_FAILED_EXIT for process in processes):
        raise StartupError("every worker failed to start; see the log above")
