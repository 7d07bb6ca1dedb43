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


class ConversationBusyError(SessionBusyError):
    """The `reject` policy refused a message that arrived while the conversation's turn was running."""

    code = "conversation_busy"
    public_message = "still working on your last message; send it again once the answer arrives"


class TurnInterruptedError(HostingError):
    """The turn was cancelled (`interrupt` policy or `/stop`); its partial answer is kept, marked interrupted."""

    status_code = 409
    code = "turn_interrupted"
    public_message = "the turn was interrupted by a newer message or a stop request"
