"""State locations given as text: which are URLs, which schemes are served, and how to show them safely."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REDIS_SCHEMES = ("redis", "rediss", "unix")
POSTGRES_SCHEMES = ("postgresql", "postgres")
REMOTE_SCHEMES = (*REDIS_SCHEMES, *POSTGRES_SCHEMES)


def url_scheme(value: Any) -> str | None:
    """The scheme of a `scheme://...` string, else None (a folder)."""
    if not isinstance(value, str) or "://" not in value:
        return None
    return value.split("://", 1)[0].lower()


def is_remote_location(value: Any) -> bool:
    """Whether `value` is a URL this package knows how to open.

    Raises ValueError for any other `scheme://` string, so that `http://...` never becomes a folder named `http:`.
    """
    scheme = url_scheme(value)
    if scheme is None:
        return False
    if scheme not in REMOTE_SCHEMES:
        known = ", ".join(f"{name}://" for name in REMOTE_SCHEMES)
        raise ValueError(
            f"unknown state location scheme {scheme + '://'!r} in {redact_url(value)!r}: use a folder or {known}"
        )
    return True


def redact_url(url: str) -> str:
    """`url` without its password, for logs and banners."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def check_writable_folder(path: str | os.PathLike[str]) -> None:
    """Create `path` if needed and prove a file can be written there; raise ValueError saying why not."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise ValueError(f"state folder {str(folder)!r} cannot be written: {reason}") from None
