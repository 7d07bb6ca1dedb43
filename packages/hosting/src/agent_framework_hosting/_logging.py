"""The command line's logging: one line per record (tracebacks only at debug), text or JSON, upstream noise quieted."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

LOG_FORMATS = ("text", "json")
# Upstream loggers that say several INFO lines per tool call or workflow turn; warnings still show.
QUIETED = ("agent_framework", "httpx", "httpcore", "openai", "hypercorn.access")
_OWN = ("agent_framework.hosting",)
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def exception_summary(error: BaseException) -> str:
    """`Type: message` of an exception and each of its causes, on one line."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(parts) < 5:
        seen.add(id(current))
        text = " ".join(str(current).split())
        parts.append(f"{type(current).__name__}: {text}" if text else type(current).__name__)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return " <- ".join(parts)


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items() if key not in _STANDARD and not key.startswith("_")}


class TextFormatter(logging.Formatter):
    """`LEVEL logger: message`; an exception adds its one-line summary, or its traceback when `tracebacks`."""

    def __init__(self, *, tracebacks: bool) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and record.exc_info[1] is not None and not self.tracebacks:
            summary = exception_summary(record.exc_info[1])
            line = f"{record.levelname} {record.name}: {record.getMessage()} ({summary})"
            return " ".join(line.splitlines())
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's extra fields, and any error."""

    def __init__(self, *, tracebacks: bool) -> None:
        super().__init__()
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_extra(record),
        }
        if record.exc_info and record.exc_info[1] is not None:
            entry["error"] = exception_summary(record.exc_info[1])
            if self.tracebacks:
                entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _Quiet(logging.Filter):
    """Drops upstream records below WARNING (the host's own records all pass)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING or record.name.startswith(_OWN):
            return True
        return not any(record.name == name or record.name.startswith(name + ".") for name in QUIETED)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time of each record."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def configure_logging(
    level: str = "info", log_format: str = "text", stream: TextIO | None = None, *, force: bool = False
) -> bool:
    """Log to stderr (or `stream`) at `level`; below debug, upstream INFO chatter and tracebacks are left out.

    Like `logging.basicConfig`, nothing changes when the root logger already has handlers (an embedding
    application or a test runner configured logging) unless `force`; returns whether logging was configured.
    """
    root = logging.getLogger()
    ours = [handler for handler in root.handlers if getattr(handler, "_agent_framework_host", False)]
    if len(ours) != len(root.handlers) and not force:
        return False
    for previous in ours:
        root.removeHandler(previous)
    numeric = getattr(logging, level.upper())
    debug = numeric <= logging.DEBUG
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler._agent_framework_host = True  # type: ignore[attr-defined]
    formatter_type = JsonFormatter if log_format == "json" else TextFormatter
    handler.setFormatter(formatter_type(tracebacks=debug))
    if not debug:
        handler.addFilter(_Quiet())
    root.addHandler(handler)
    root.setLevel(numeric)
    return True
