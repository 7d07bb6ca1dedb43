"""One tree of errors: everything the host or a channel raises derives from `HostingError`."""

from __future__ import annotations


class HostingError(Exception):
    """Base class for errors the host and its channels raise.

    `status_code` is the HTTP status the error maps to when it ends a request,
    `code` a stable machine-readable name and `public_message` the text safe to
    show a client (`str(error)` may name internals and is for the log).
    """

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


class Unauthorized(HostingError):
    """The caller could not prove who it is (a signature, token or secret failed a check)."""

    status_code = 401
    code = "unauthorized"
    public_message = "the request could not be authenticated"


class PlatformError(HostingError):
    """A platform's API (or its token or key service) refused a call or could not be reached."""

    status_code = 502
    code = "platform_error"
    public_message = "the messaging platform could not be reached; retry shortly"


class ConfigurationError(HostingError):
    """The host or a channel is set up in a way that cannot work; the message is for the operator."""

    code = "configuration_error"

    @property
    def public_message(self) -> str:  # type: ignore[override]
        return str(self)


class StartupError(ConfigurationError):
    """The state store or a channel failed to start; the message names which and why, on one line."""

    code = "startup_failed"


BUSY_REPLY = "I'm still answering your previous message; please try again in a moment."
UNAVAILABLE_REPLY = "I can't reach my conversation store right now; please try again shortly."


def chat_reply(error: HostingError) -> str:
    """What a chat channel tells its user when the host could not run the turn (busy, or state unavailable)."""
    return BUSY_REPLY if isinstance(error, SessionBusyError) else UNAVAILABLE_REPLY


class ConversationBusyError(SessionBusyError):
    """The `reject` policy refused a message that arrived while the conversation's turn was running."""

    code = "conversation_busy"
    public_message = "still working on your last message; send it again once the answer arrives"


class TurnInterruptedError(HostingError):
    """The turn was cancelled (`interrupt` policy or `/stop`); its partial answer is kept, marked interrupted."""

    status_code = 409
    code = "turn_interrupted"
    public_message = "the turn was interrupted by a newer message or a stop request"
