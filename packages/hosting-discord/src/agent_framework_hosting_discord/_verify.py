"""Discord's request signature: Ed25519 over the timestamp and the raw body, and a freshness window."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from agent_framework_hosting import Unauthorized
from nacl.exceptions import CryptoError
from nacl.signing import VerifyKey

SIGNATURE_HEADER = "x-signature-ed25519"
TIMESTAMP_HEADER = "x-signature-timestamp"
DEFAULT_MAX_TIMESTAMP_SKEW = 300.0

_SIGNATURE = re.compile(r"[0-9a-fA-F]{128}")
_PUBLIC_KEY = re.compile(r"[0-9a-fA-F]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class InvalidSignature(Unauthorized):
    """The request is not provably from Discord (or is too old to trust)."""

    code = "invalid_signature"


def load_public_key(hex_key: str) -> VerifyKey:
    """The application's public key, from the 64 hex characters the Developer Portal shows."""
    if not isinstance(hex_key, str) or not _PUBLIC_KEY.fullmatch(hex_key.strip()):
        raise ValueError("public_key must be the application's Ed25519 public key: 64 hex characters")
    return VerifyKey(bytes.fromhex(hex_key.strip()))


class SignatureVerifier:
    """Checks `X-Signature-Ed25519` over `X-Signature-Timestamp` + body, and that the timestamp is recent."""

    def __init__(
        self, public_key: str, *, max_skew: float = DEFAULT_MAX_TIMESTAMP_SKEW, clock: Callable[[], float] = time.time
    ) -> None:
        if max_skew <= 0:
            raise ValueError("max_timestamp_skew must be > 0")
        self._key = load_public_key(public_key)
        self.max_skew = max_skew
        self._clock = clock

    def verify(self, signature: str | None, timestamp: str | None, body: bytes) -> None:
        """Raise `InvalidSignature` unless the signature is Discord's and the timestamp is within `max_skew`."""
        if not signature or not timestamp:
            raise InvalidSignature("missing signature headers")
        if not _SIGNATURE.fullmatch(signature) or not _TIMESTAMP.fullmatch(timestamp):
            raise InvalidSignature("malformed signature headers")
        try:
            self._key.verify(timestamp.encode("ascii") + body, bytes.fromhex(signature))
        except (CryptoError, ValueError):
            raise InvalidSignature("signature does not match") from None
        if abs(self._clock() - int(timestamp)) > self.max_skew:
            raise InvalidSignature("signature timestamp is outside the accepted window")
