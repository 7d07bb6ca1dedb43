"""The page and its assets: package data read once, the index filled in with escaped values."""

from __future__ import annotations

import html
from importlib.resources import files
from urllib.parse import urlsplit

_STATIC = files(__package__).joinpath("static")
_MEDIA_TYPES = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}

ASSETS: dict[str, tuple[bytes, str]] = {
    name: (_STATIC.joinpath(name).read_bytes(), media_type) for name, media_type in _MEDIA_TYPES.items()
}


def render_index(*, title: str, responses_url: str) -> str:
    """index.html with the title and the Responses URL escaped into it."""
    template = _STATIC.joinpath("index.html").read_text(encoding="utf-8")
    return template.replace("{{title}}", html.escape(title)).replace("{{responses_url}}", html.escape(responses_url))


def security_headers(responses_url: str) -> dict[str, str]:
    """No inline or third-party code; the page may only call itself (or the given Responses origin)."""
    connect = "'self'"
    parts = urlsplit(responses_url)
    if parts.scheme in ("http", "https") and parts.netloc:
        connect += f" {parts.scheme}://{parts.netloc}"
    policy = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }
