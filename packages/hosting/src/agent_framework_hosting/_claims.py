"""Idempotency claims on platform delivery ids: handled only once the handler finished.

A claim is ``{"owner": token, "status": "claimed"}`` with a bounded lifetime;
the handler's success turns it into ``{"status": "done"}`` (kept for the dedupe
window), its failure deletes it, and a claim whose owner died lapses after
`claim_ttl`. So a platform's retry is run again unless the first delivery
finished or is still being worked on.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from ._errors import StateUnavailableError
from ._owners import unique_token
from ._state import StateStore

logger = logging.getLogger("agent_framework.hosting")

CLAIMS = "idempotency"
DEFAULT_CLAIM_TTL = 900.0
MAX_UNCONFIRMED = 10_000


class Claims:
    """Takes, commits and releases claims in one store's ``idempotency`` namespace."""

    def __init__(self, store: StateStore, *, claim_ttl: float = DEFAULT_CLAIM_TTL) -> None:
        self.store = store
        self.claim_ttl = claim_ttl
        # Claims whose write timed out: the store may still have stored them. A retry of the same
        # delivery through this process may take such a claim over at once.
        self._unconfirmed: OrderedDict[str, str] = OrderedDict()

    async def take(self, key: str) -> str | None:
        """Claim `key`; its owner token, or None when it is handled or in hand elsewhere."""
        token = unique_token()
        record = {"owner": token, "status": "claimed"}
        try:
            if await self.store.add(CLAIMS, key, record, ttl=self.claim_ttl):
                return token
        except StateUnavailableError:
            self._unconfirmed[key] = token
            while len(self._unconfirmed) > MAX_UNCONFIRMED:
                self._unconfirmed.popitem(last=False)
            raise
        lost = self._unconfirmed.pop(key, None)
        if lost is not None:
            match = {"owner": lost, "status": "claimed"}
            if await self.store.replace(CLAIMS, key, record, match=match, ttl=self.claim_ttl):
                return token
            # The store may have cleaned the late-written claim up between `add` and `replace`.
            if await self.store.add(CLAIMS, key, record, ttl=self.claim_ttl):
                return token
        return None

    async def commit(self, key: str, token: str, *, ttl: float) -> None:
        """Mark `key` handled for `ttl` seconds (only while `token` still owns it)."""
        done = {"status": "done"}
        if not await self.store.replace(CLAIMS, key, done, match={"owner": token}, ttl=ttl):
            logger.warning("the claim on %s lapsed before its handler finished; a retry may run it again", key)

    async def release(self, key: str, token: str) -> None:
        """Give `key` up so a retry runs it (only while `token` still owns it)."""
        await self.store.discard(CLAIMS, key, match={"owner": token})
