"""Errors the host raises to channels, each mapping to one HTTP status."""

from __future__ import annotations


class HostingError(Exception):
    """Base class for errors the host raises to channels."""

    status_code = 500
    code = "server_error"
    public_message = "the server failed to handle the request"


class SessionBusyError(HostingError):
    """Another turn held the session for longer than the host waits."""

    status_code = 409
    code = "session_busy"
    public_message = "the conversation is busy with another turn; retry shortly"


class StateUnavailableError(HostingError):
    """The state backend cannot be reached; the request may be retried."""

    status_code = 503
    code = "state_unavailable"
    public_message = "the host's state store is unavailable; retry shortly"


class LeaseLostError(StateUnavailableError):
    """A write was refused because the lease it was made under had expired and been taken over."""

    code = "lease_lost"
