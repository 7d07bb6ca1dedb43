"""A browser chat page for agent-framework-hosting: plain HTML, CSS and JavaScript, talking to the Responses channel."""

from ._channel import WebChatChannel

__all__ = ["WebChatChannel"]
