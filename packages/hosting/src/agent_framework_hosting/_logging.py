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


def configure_logging(level: str = "info", log_format: str = "text", stream: TextIO | None = None) -> None:
    """Log to stderr (or `stream`) at `level`; below debug, upstream INFO chatter and tracebacks are left out."""
    numeric = getattr(logging, level.upper())
    debug = numeric <= logging.DEBUG
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter_type = JsonFormatter if log_format == "json" else TextFormatter
    handler.setFormatter(formatter_type(tracebacks=debug))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in QUIETED:
        logging.getLogger(name).setLevel(logging.NOTSET if debug else max(numeric, logging.WARNING))
    for name in _OWN:
        logging.getLogger(name).setLevel(numeric)
