"""Idempotency claims whose write timed out: a retry through the same process takes them over."""

from __future__ import annotations

from typing import Any

from agent_framework_hosting import MemoryStateStore, StateUnavailableError
from agent_framework_hosting._claims import CLAIMS, Claims


class LateWrites(MemoryStateStore):
    """The first `add` times out on the client but is stored anyway, as a stalled Redis does."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled = True
        self.cleaned_before_replace = False

    async def add(self, namespace: str, key: str, value: Any, *, ttl: float | None = None) -> bool:
        added = await super().add(namespace, key, value, ttl=ttl)
        if self.stalled:
            self.stalled = False
            raise StateUnavailableError("timed out")
        return added

    async def replace(self, namespace: str, key: str, value: Any, **kwargs: Any) -> bool:
        if self.cleaned_before_replace:  # the store's own clean-up of the late write wins the race
            await self.delete(namespace, key)
        return await super().replace(namespace, key, value, **kwargs)


async def stalled_take(store: LateWrites, claims: Claims) -> None:
    try:
        await claims.take("telegram:1")
    except StateUnavailableError:
        return
    raise AssertionError("the first take should have timed out")


async def test_a_late_written_claim_is_taken_over_by_the_retry() -> None:
    store = LateWrites()
    claims = Claims(store)
    await stalled_take(store, claims)
    token = await claims.take("telegram:1")
    assert token is not None
    assert (await store.get(CLAIMS, "telegram:1"))["owner"] == token


async def test_a_late_claim_cleaned_up_between_add_and_replace_is_still_taken() -> None:
    store = LateWrites()
    claims = Claims(store)
    await stalled_take(store, claims)
    store.cleaned_before_replace = True
    token = await claims.take("telegram:1")
    assert token is not None, "the retry was swallowed as a duplicate"
    assert (await store.get(CLAIMS, "telegram:1"))["owner"] == token


async def test_a_claim_held_by_another_owner_is_a_repeat() -> None:
    store = MemoryStateStore()
    assert await Claims(store).take("telegram:1") is not None
    assert await Claims(store).take("telegram:1") is None
