"""Errors the host raises to channels, each mapping to one HTTP status."""

from __future__ import annotations


class HostingError(Exception):
    """Base class for errors the host raises to channels."""

    status_code = 500
    code = "server_error"


class SessionBusyError(HostingError):
    """Another turn held the session for longer than the host waits."""

    status_code = 409
    code = "session_busy"


class StateUnavailableError(HostingError):
    """The state backend cannot be reached; the request may be retried."""

    status_code = 503
    code = "state_unavailable"
