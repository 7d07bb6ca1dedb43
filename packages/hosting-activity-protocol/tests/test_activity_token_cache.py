"""A verified bearer token is reused until its `exp`, never past a key rotation or the per-activity checks."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from agent_framework_hosting_activity_protocol import _auth
from agent_framework_hosting_activity_protocol._auth import Authenticator
from agent_framework_hosting_activity_protocol._jwt import BOT_FRAMEWORK_ISSUER, SigningKey, TokenHeader, TokenRejected
from agent_framework_hosting_activity_protocol._keys import OpenIdKeys
from agent_framework_hosting_activity_protocol._tokens import VerifiedTokens


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count full verifications (signature and claims) by wrapping the real `verify_token`."""
    calls: list[str] = []
    real = _auth.verify_token

    def verify(token: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        calls.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(_auth, "verify_token", verify)
    return calls


def authenticator(bot_framework: Any, app_id: str, *, keys_ttl: float = 3600.0) -> Authenticator:
    keys = OpenIdKeys(bot_framework.metadata_url, ttl=keys_ttl, refresh_interval=0.0)
    return Authenticator(app_id=app_id, issuers=[BOT_FRAMEWORK_ISSUER], bot_framework_keys=keys, entra_keys=keys)


def authenticate(auth: Authenticator, token: str, *, service_url: str, channel_id: str = "msteams") -> dict[str, Any]:
    async def call() -> dict[str, Any]:
        async with httpx.AsyncClient() as client:
            return await auth.authenticate(client, token, channel_id=channel_id, service_url=service_url)

    return asyncio.run(call())


def test_a_token_is_verified_once_then_reused(
    bot_framework: Any, mint: Any, app_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = counting(monkeypatch)
    auth = authenticator(bot_framework, app_id)
    token = mint()
    first = authenticate(auth, token, service_url=bot_framework.service_url)
    second = authenticate(auth, token, service_url=bot_framework.service_url)
    assert first == second and first["aud"] == app_id
    assert calls == [token]
    authenticate(auth, mint(iat=int(time.time()) + 1), service_url=bot_framework.service_url)
    assert len(calls) == 2  # another token string is another verification


def test_a_cached_token_still_gets_the_per_activity_checks(bot_framework: Any, mint: Any, app_id: str) -> None:
    auth = authenticator(bot_framework, app_id)
    token = mint()
    authenticate(auth, token, service_url=bot_framework.service_url)
    with pytest.raises(TokenRejected, match="serviceurl"):
        authenticate(auth, token, service_url="https://elsewhere.example/")
    with pytest.raises(TokenRejected, match="endorsed"):
        authenticate(auth, token, service_url=bot_framework.service_url, channel_id="skype")


def test_a_cached_token_is_refused_once_its_key_leaves_the_key_set(
    bot_framework: Any, mint: Any, app_id: str, new_key: Any
) -> None:
    auth = authenticator(bot_framework, app_id, keys_ttl=0.0)  # the key set is fetched again on every request
    token = mint()
    authenticate(auth, token, service_url=bot_framework.service_url)
    bot_framework.keys[:] = [new_key("key-2", endorsements=["msteams"])]
    with pytest.raises(TokenRejected, match="unknown key"):
        authenticate(auth, token, service_url=bot_framework.service_url)
    assert len(auth.verified) == 0


def test_a_refreshed_key_set_verifies_a_cached_token_again(
    bot_framework: Any, mint: Any, app_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = counting(monkeypatch)
    auth = authenticator(bot_framework, app_id, keys_ttl=0.0)
    token = mint()
    authenticate(auth, token, service_url=bot_framework.service_url)
    authenticate(auth, token, service_url=bot_framework.service_url)
    assert calls == [token, token]


def test_entries_last_until_the_tokens_exp() -> None:
    clock = Clock()
    tokens = VerifiedTokens(clock=clock)
    header, key = TokenHeader(kid="k", issuer=BOT_FRAMEWORK_ISSUER), SigningKey(kid="k", key=None)
    tokens.put("a", header, key, {"exp": clock.now + 60})
    assert tokens.get("a") is not None
    clock.now += 60
    assert tokens.get("a") is None
    assert len(tokens) == 0


def test_the_cache_is_bounded_and_forgets_the_oldest_first() -> None:
    tokens = VerifiedTokens(size=2)
    header, key = TokenHeader(kid="k", issuer=BOT_FRAMEWORK_ISSUER), SigningKey(kid="k", key=None)
    exp = time.time() + 60
    for name in ("a", "b", "c"):
        tokens.put(name, header, key, {"exp": exp})
    assert len(tokens) == 2
    assert tokens.get("a") is None and tokens.get("b") is not None and tokens.get("c") is not None
    tokens.put("d", header, key, {})  # no exp: never kept
    assert tokens.get("d") is None
