"""Bearer tokens already verified, so a token the connector reuses for an hour is checked cryptographically once."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._jwt import SigningKey, TokenHeader

MAX_VERIFIED_TOKENS = 1024


@dataclass(frozen=True)
class Verified:
    """A token's header, its verified claims and the key object that verified them."""

    header: TokenHeader
    claims: dict[str, Any]
    key: SigningKey
    expires: float


class VerifiedTokens:
    """Claims of verified tokens by the exact token string, each until its `exp`; at most `size` of them.

    The caller takes a hit only while the key set still holds the very key that verified it (a
    refreshed or rotated key set sends the token through full verification again), and repeats the
    checks that depend on the activity (endorsement, `serviceurl`) on every request.
    """

    def __init__(self, size: int = MAX_VERIFIED_TOKENS, clock: Callable[[], float] = time.time) -> None:
        self.size = size
        self._clock = clock
        self._tokens: dict[str, Verified] = {}

    def get(self, token: str) -> Verified | None:
        """What was verified earlier for `token`, while unexpired; the caller checks `key` is still current."""
        verified = self._tokens.get(token)
        if verified is not None and self._clock() >= verified.expires:
            del self._tokens[token]
            return None
        return verified

    def put(self, token: str, header: TokenHeader, key: SigningKey, claims: dict[str, Any]) -> None:
        expires = claims.get("exp")
        if not isinstance(expires, (int, float)) or self.size < 1:
            return
        while len(self._tokens) >= self.size:
            del self._tokens[next(iter(self._tokens))]  # the oldest first
        self._tokens[token] = Verified(header, claims, key, float(expires))

    def forget(self, token: str) -> None:
        self._tokens.pop(token, None)

    def __len__(self) -> int:
        return len(self._tokens)
