"""`agent-framework-host`: serve an agent, a workflow or a ready host from the command line."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import _cli_dead_letters as dead_letters
from ._banner import Banner, describe_state
from ._cli_deliver import ADMIN_TOKEN_VARIABLE, add_deliver_command, run_deliver
from ._cli_sessions import add_sessions_command, duration, sessions_main, ttl_argument
from ._concurrency import DEFAULT_COLLECT_WINDOW, POLICIES, Concurrency
from ._demo import DemoConfigurationError, OpenAISettings, demo_agent
from ._errors import ConfigurationError, HostingError, StartupError
from ._host import AgentFrameworkHost
from ._logging import LOG_FORMATS, configure_logging
from ._otel import configure_otlp
from ._preflight import warn_if_unreachable
from ._target import TargetError, load_target
from .plugins import ChannelSelectionError, Discovered, discover, select_channels

PROG = "agent-framework-host"
DEFAULT_GRACEFUL_TIMEOUT = 30.0
LOG_LEVELS = ("debug", "info", "warning", "error")


class CliError(ConfigurationError):
    """A problem the user can fix; printed as one line, exit code 1."""


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {number}")
    return number


def _port(value: str) -> int:
    number = _positive(value)
    if number > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, got {number}")
    return number


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}") from None
    if not 0 <= number <= 60:
        raise argparse.ArgumentTypeError(f"expected 0 to 60 seconds, got {number}")
    return number


def _grace_seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}") from None
    if not number >= 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"expected zero or more seconds, got {value!r}")
    return number


def _public_url(value: str) -> str:
    if not value.startswith(("https://", "http://")) or len(value) <= len("https://"):
        raise argparse.ArgumentTypeError(f"expected an https:// URL, got {value!r}")
    return value.rstrip("/")


def _version() -> str:
    from . import __version__

    return __version__


def build_parser(
    environ: Mapping[str, str] | None = None, discovered: Discovered | None = None
) -> argparse.ArgumentParser:
    environ = os.environ if environ is None else environ
    discovered = discover() if discovered is None else discovered
    parser = argparse.ArgumentParser(prog=PROG, description="Serve an Agent Framework agent or workflow over channels.")
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="serve TARGET (default: the built-in demo agent)",
        description="Serve TARGET over every installed channel whose settings are in the environment.",
    )
    serve.add_argument(
        "target",
        nargs="?",
        metavar="TARGET",
        help="module:attribute naming an agent, a workflow, a zero-argument factory returning one, or an "
        "AgentFrameworkHost (default: the demo agent)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    serve.add_argument(
        "--port", type=_port, default=environ.get("PORT") or "8000", help="port (default: $PORT or 8000)"
    )
    serve.add_argument("--workers", type=_positive, default=1, help="worker processes sharing the port (default: 1)")
    serve.add_argument(
        "--state-dir", default=None, help="where conversations are kept: a folder or a redis:// URL (default: memory)"
    )
    serve.add_argument(
        "--channel",
        action="append",
        dest="channels",
        metavar="NAME",
        choices=discovered.names,
        help="serve only this channel (repeatable; default: every installed channel whose settings are present)",
    )
    serve.add_argument(
        "--concurrency",
        choices=POLICIES,
        default=None,
        help="what a message does while its conversation is answering: queue (default), reject, interrupt, collect",
    )
    serve.add_argument(
        "--collect-window",
        type=_seconds,
        default=DEFAULT_COLLECT_WINDOW,
        metavar="SECONDS",
        help=f"with --concurrency collect: how long a burst is gathered (default: {DEFAULT_COLLECT_WINDOW})",
    )
    serve.add_argument(
        "--session-ttl",
        type=duration,
        default=environ.get("SESSION_TTL") or None,
        help="forget a conversation idle this long: 3600, 15m, 12h, 30d or forever (default: $SESSION_TTL or forever)",
    )
    serve.add_argument(
        "--response-ttl",
        type=duration,
        default=environ.get("RESPONSE_TTL") or None,
        help="keep stored Responses this long (default: $RESPONSE_TTL or 30d)",
    )
    serve.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default="info",
        help="(default: info; debug adds tracebacks, upstream logs)",
    )
    serve.add_argument("--log-format", choices=LOG_FORMATS, default="text", help="text or one JSON object a line")
    serve.add_argument(
        "--graceful-timeout",
        type=_grace_seconds,
        default=DEFAULT_GRACEFUL_TIMEOUT,
        metavar="SECONDS",
        help="on SIGTERM, how long in-flight turns (streams included) may finish (default: 30)",
    )
    serve.add_argument(
        "--public-url",
        type=_public_url,
        default=environ.get("PUBLIC_URL") or None,
        metavar="URL",
        help="the https:// address platforms reach this server at (a tunnel or a proxy); used in the banner and "
        "for Telegram's webhook (default: $PUBLIC_URL)",
    )
    add_sessions_command(commands, environ)
    add_deliver_command(commands, environ)
    dead_letters.add_parser(commands)
    return parser


@dataclass(frozen=True)
class ServePlan:
    host: AgentFrameworkHost
    banner: Banner
    model_url: str | None = None


def _label(spec: str, kind: str, value: Any) -> str:
    name = getattr(value, "name", None)
    return f"{spec} ({kind} {name!r})" if isinstance(name, str) and name else f"{spec} ({kind})"


def _ready_host_plan(args: argparse.Namespace, host: AgentFrameworkHost, discovered: Discovered) -> ServePlan:
    if (
        args.channels
        or args.state_dir
        or args.session_ttl is not None
        or args.response_ttl is not None
        or args.concurrency
    ):
        raise CliError(
            "TARGET is a ready AgentFrameworkHost (it has its own channels, state and concurrency): "
            "drop --channel/--state-dir/--session-ttl/--response-ttl/--concurrency"
        )
    banner = Banner(
        target=_label(args.target, "host serving", host.target),
        model=None,
        channels=host.channels,
        skipped=(),
        state=describe_state(host.state_location, args.workers, max_sessions=_memory_cap(host)),
        host=args.host,
        port=args.port,
        workers=args.workers,
        public_url=getattr(args, "public_url", None),
        plugins=discovered.plugins,
    )
    return ServePlan(host, banner)


def plan_serve(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    *,
    search_path: str | None = None,
    discovered: Discovered | None = None,
) -> ServePlan:
    """Everything `serve` does before it listens: load TARGET, pick the installed channels, build the host."""
    discovered = discover() if discovered is None else discovered
    environ = _with_public_url(environ, getattr(args, "public_url", None))
    try:
        target = load_target(args.target, search_path=search_path) if args.target else None
        if target is not None and target.kind == "host":
            return _ready_host_plan(args, target.value, discovered)
        if target is None:
            demo = demo_agent(environ)
            served, model, label = demo.agent, demo.model, "the demo agent"
            settings = OpenAISettings.from_env(environ)
            model_url = settings.base_url if settings is not None else None
        else:
            served, model, label = target.value, None, _label(args.target, target.kind, target.value)
            model_url = None
        selection = select_channels(environ, args.channels, plugins=discovered.plugins, broken=discovered.broken)
    except (TargetError, DemoConfigurationError, ChannelSelectionError) as error:
        raise CliError(str(error)) from None
    if not selection.channels:
        reasons = "; ".join(f"{s.name}: {s.reason}" for s in selection.skipped)
        raise CliError(f"no channel can be served ({reasons})")
    try:
        retention: dict[str, Any] = {
            f"{name}_ttl": value["ttl"]
            for name, value in (
                ("session", ttl_argument(args.session_ttl)),
                ("response", ttl_argument(args.response_ttl)),
            )
            if value
        }
        concurrency = Concurrency(args.concurrency or "queue", collect_window=args.collect_window)
        host = AgentFrameworkHost(
            served,
            channels=selection.channels,
            state_dir=args.state_dir,
            concurrency=concurrency,
            admin_token=environ.get(ADMIN_TOKEN_VARIABLE) or None,
            **retention,
        )
    except (ValueError, TypeError, ImportError, RuntimeError, OSError) as error:
        raise CliError(f"cannot build the host: {error}") from None
    banner = Banner(
        target=label,
        model=model,
        channels=selection.channels,
        skipped=selection.skipped,
        state=describe_state(args.state_dir, args.workers, max_sessions=_memory_cap(host)),
        host=args.host,
        port=args.port,
        workers=args.workers,
        public_url=getattr(args, "public_url", None),
        plugins=discovered.plugins,
    )
    return ServePlan(host, banner, model_url)


def _memory_cap(host: AgentFrameworkHost) -> int | None:
    return getattr(host.state, "max_entries", None)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def check_listenable(host: str, port: int) -> None:
    """Raise OSError now when `host:port` cannot be bound, instead of from inside the server's startup."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = found[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)


def _with_public_url(environ: Mapping[str, str], public_url: str | None) -> Mapping[str, str]:
    if public_url is None or environ.get("TELEGRAM_WEBHOOK_URL"):
        return environ
    return {**environ, "TELEGRAM_WEBHOOK_URL": f"{public_url}/telegram/webhook"}


def main(argv: Sequence[str] | None = None) -> int:
    environ = os.environ
    discovered = discover()
    parser = build_parser(environ, discovered)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "dead-letters":
        return dead_letters.run(args)
    if args.command == "sessions":
        try:
            sessions_main(args, sys.stdout)
        except (ValueError, LookupError, ImportError, HostingError) as error:
            print(f"{PROG}: error: {_one_line(error)}", file=sys.stderr)
            return 1
        return 0
    configure_logging(args.log_level, getattr(args, "log_format", "text"))
    if args.command == "deliver":
        code, output = run_deliver(args, environ)
        print(output if code != 1 else f"{PROG}: {output}", file=sys.stderr if code == 1 else sys.stdout)
        return code
    try:
        exporting = configure_otlp(environ)
        if exporting:
            logging.getLogger("agent_framework.hosting").info("telemetry: %s", exporting)
        plan = plan_serve(args, environ, search_path=os.getcwd(), discovered=discovered)
        check_listenable(args.host, args.port)
    except ConfigurationError as error:
        print(f"{PROG}: error: {_one_line(error)}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"{PROG}: error: cannot listen on {args.host}:{args.port}: {_one_line(error)}", file=sys.stderr)
        return 1
    warn_if_unreachable(plan.model_url)
    banner = plan.banner.render(environ)
    if args.workers > 1:
        print(banner, flush=True)
    else:
        plan.host.on_started.append(lambda: print(banner, flush=True))
    plan.host.shutdown_timeout = args.graceful_timeout
    try:
        plan.host.serve(
            host=args.host,
            port=args.port,
            workers=args.workers,
            errorlog=logging.getLogger("hypercorn.error"),
            graceful_timeout=args.graceful_timeout,
        )
    except StartupError as error:
        print(f"{PROG}: error: {_one_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
