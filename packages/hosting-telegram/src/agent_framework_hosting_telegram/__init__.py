"""Telegram Bot API channel for agent-framework-hosting."""

from __future__ import annotations

from ._api import TelegramApiError
from ._channel import TelegramChannel, derive_webhook_secret
from ._html import html_to_text, split_html
from ._markdown import markdown_to_html
from ._parse import telegram_isolation_key
from ._polling import AlwaysLeader, PollingLease

__all__ = [
    "AlwaysLeader",
    "PollingLease",
    "TelegramApiError",
    "TelegramChannel",
    "derive_webhook_secret",
    "html_to_text",
    "markdown_to_html",
    "split_html",
    "telegram_isolation_key",
]
