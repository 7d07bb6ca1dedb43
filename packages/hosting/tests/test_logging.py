"""The command line's logging: one line per record below debug, JSON on request, upstream chatter quieted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from agent_framework_hosting._logging import configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in ("agent_framework", "httpx")}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    assert {name: logging.getLogger(name).level for name in levels} == levels, "logger levels are left alone"


def failing() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as error:
            raise RuntimeError("Connection error.") from error
    except RuntimeError:
        logging.getLogger("agent_framework.hosting.responses").exception("responses: the agent failed on resp_1")


def test_below_debug_an_error_is_one_line_naming_its_causes(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("info", "text", stream=out, force=True)
    failing()
    assert out.getvalue().splitlines() == [
        "ERROR agent_framework.hosting.responses: responses: the agent failed on resp_1 "
        "(RuntimeError: Connection error. <- ConnectionRefusedError: [Errno 111] Connection refused)"
    ]


def test_debug_brings_the_traceback_back(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("debug", "text", stream=out, force=True)
    failing()
    assert "Traceback (most recent call last)" in out.getvalue()


def test_upstream_info_is_quieted_unless_debugging(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("info", "text", stream=out, force=True)
    logging.getLogger("agent_framework").info("Function name: calculate")
    logging.getLogger("agent_framework._workflows").info("Dead-end executors: ...")
    logging.getLogger("httpx").info("HTTP Request: POST ...")
    logging.getLogger("agent_framework").warning("kept")
    logging.getLogger("agent_framework.hosting").info("turn channel=responses")
    assert out.getvalue().splitlines() == [
        "WARNING agent_framework: kept",
        "INFO agent_framework.hosting: turn channel=responses",
    ]
    out = io.StringIO()
    configure_logging("debug", "text", stream=out, force=True)
    logging.getLogger("agent_framework").info("Function name: calculate")
    assert "Function name: calculate" in out.getvalue()


def test_json_lines_carry_the_records_fields(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("info", "json", stream=out, force=True)
    logging.getLogger("agent_framework.hosting").info("turn", extra={"channel": "telegram", "duration_ms": 12.5})
    failing()
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["level"] == "info" and first["logger"] == "agent_framework.hosting" and first["message"] == "turn"
    assert first["channel"] == "telegram" and first["duration_ms"] == 12.5 and first["time"].endswith("Z")
    assert second["level"] == "error" and second["error"].startswith("RuntimeError: Connection error.")
    assert "traceback" not in second


def test_logging_configured_by_someone_else_is_left_alone(restore_logging: None) -> None:
    assert logging.getLogger().handlers, "pytest configured logging"
    before = list(logging.getLogger().handlers)
    assert configure_logging("debug", "json") is False
    assert logging.getLogger().handlers == before
