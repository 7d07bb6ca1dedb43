"""Slack request signing: HMAC-SHA256 of ``v0:<timestamp>:<body>`` with the signing secret, in a time window."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping

from agent_framework_hosting import Unauthorized

SIGNATURE_HEADER = "x-slack-signature"
TIMESTAMP_HEADER = "x-slack-request-timestamp"
VERSION = "v0"
DEFAULT_MAX_AGE = 300.0
_MAX_TIMESTAMP_DIGITS = 12


class InvalidSignature(Unauthorized):
    """The request is not provably from Slack, or is too old to trust."""

    code = "invalid_signature"


def signature_for(signing_secret: str, timestamp: str, body: bytes) -> str:
    """``v0=<hex>``: the signature Slack sends for `body` at `timestamp`."""
    base = b"%s:%s:%s" % (VERSION.encode(), timestamp.encode("ascii"), body)
    return f"{VERSION}=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


class SignatureVerifier:
    """Checks ``X-Slack-Signature`` over ``X-Slack-Request-Timestamp`` and the raw body, in constant time."""

    def __init__(
        self, signing_secret: str, *, max_age: float = DEFAULT_MAX_AGE, clock: Callable[[], float] = time.time
    ) -> None:
        if not isinstance(signing_secret, str) or not signing_secret.strip():
            raise ValueError("signing_secret must be the app's signing secret (Basic Information page)")
        if max_age <= 0:
            raise ValueError("max_age must be > 0")
        self._secret = signing_secret
        self.max_age = max_age
        self._clock = clock

    def verify(self, timestamp: str | None, signature: str | None, body: bytes) -> None:
        """Raise `InvalidSignature` unless Slack signed `body` less than `max_age` seconds ago."""
        if not timestamp or not signature:
            raise InvalidSignature("missing X-Slack-Signature or X-Slack-Request-Timestamp")
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > _MAX_TIMESTAMP_DIGITS:
            raise InvalidSignature("malformed X-Slack-Request-Timestamp")
        if abs(self._clock() - int(timestamp)) > self.max_age:
            raise InvalidSignature("the request timestamp is outside the accepted window")
        expected = signature_for(self._secret, timestamp, body)
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise InvalidSignature("signature does not match")

    def verify_headers(self, headers: Mapping[str, str], body: bytes) -> None:
        self.verify(headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER), body)
