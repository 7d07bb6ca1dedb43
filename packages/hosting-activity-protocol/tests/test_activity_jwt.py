"""Token checks: every Bot Connector JWT rule, through the channel's `Authenticator`, against keys generated here."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from agent_framework_hosting_activity_protocol._auth import Authenticator, default_issuers
from agent_framework_hosting_activity_protocol._jwt import SigningKey, TokenRejected, parse_jwks, read_header
from agent_framework_hosting_activity_protocol._keys import OpenIdKeys
from cryptography.hazmat.primitives.asymmetric import rsa

APP_ID = "app-123"
SERVICE_URL = "https://smba.trafficmanager.net/amer/"
ISSUERS = ("https://api.botframework.com",)


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk_of(private_key: rsa.RSAPrivateKey, kid: str, endorsements: list[str] | None = None) -> dict[str, Any]:
    data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    data.update(kid=kid, use="sig")
    if endorsements is not None:
        data["endorsements"] = endorsements
    return data


@pytest.fixture(scope="module")
def key(private_key: rsa.RSAPrivateKey) -> SigningKey:
    return parse_jwks({"keys": [jwk_of(private_key, "k1", ["msteams", "webchat"])]})["k1"]


def token(private_key: Any, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUERS[0],
        "aud": APP_ID,
        "nbf": now,
        "exp": now + 600,
        "serviceurl": SERVICE_URL,
    }
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, private_key, "RS256", headers={"kid": "k1"})


class PublishedKeys(OpenIdKeys):
    """An OpenID key source publishing one key (the JWKS fetch is the only part left out)."""

    def __init__(self, key: SigningKey) -> None:
        super().__init__("https://keys.invalid/openid")
        self.key = key

    async def _fetch(self, client: httpx.AsyncClient) -> dict[str, SigningKey]:
        return {self.key.kid: self.key}


def check(raw: str, key: SigningKey, channel_id: str | None = "msteams", service_url: str | None = SERVICE_URL) -> Any:
    """The verified claims, by the path every inbound activity takes (`Authenticator.authenticate`)."""
    keys = PublishedKeys(key)
    authenticator = Authenticator(app_id=APP_ID, issuers=ISSUERS, bot_framework_keys=keys, entra_keys=keys)

    async def authenticate() -> dict[str, Any]:
        async with httpx.AsyncClient() as client:
            return await authenticator.authenticate(client, raw, channel_id=channel_id, service_url=service_url)

    return asyncio.run(authenticate())


def test_a_valid_token_passes_and_yields_its_claims(private_key: Any, key: SigningKey) -> None:
    claims = check(token(private_key), key)
    assert claims["aud"] == APP_ID and claims["serviceurl"] == SERVICE_URL


def test_a_trailing_slash_difference_in_the_service_url_is_tolerated(private_key: Any, key: SigningKey) -> None:
    check(token(private_key), key, service_url=SERVICE_URL.rstrip("/"))


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "someone-else"}, "audience"),
        ({"aud": [APP_ID, "someone-else"]}, "audience"),
        ({"iss": "https://evil.example"}, "issuer"),
        ({"exp": int(time.time()) - 301 - 60}, "expired"),
        ({"nbf": int(time.time()) + 3600}, "not valid yet"),
        ({"serviceurl": "https://attacker.example/"}, "serviceurl"),
        ({"serviceurl": None}, "serviceurl"),
        ({"exp": None}, "invalid"),
    ],
)
def test_each_claim_rule_rejects(private_key: Any, key: SigningKey, overrides: dict[str, Any], reason: str) -> None:
    with pytest.raises(TokenRejected, match=reason):
        check(token(private_key, **overrides), key)


def test_five_minutes_of_clock_skew_are_allowed(private_key: Any, key: SigningKey) -> None:
    now = int(time.time())
    check(token(private_key, exp=now - 200, nbf=now + 200), key)


def test_a_token_signed_by_another_key_is_rejected(key: SigningKey) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(TokenRejected, match="signature"):
        check(token(stranger), key)


def test_a_tampered_payload_breaks_the_signature(private_key: Any, key: SigningKey) -> None:
    header, payload, signature = token(private_key).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["aud"] = APP_ID
    claims["serviceurl"] = "https://attacker.example/"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(TokenRejected, match="signature"):
        check(f"{header}.{forged}.{signature}", key)


def test_a_key_not_endorsed_for_the_channel_is_rejected(private_key: Any, key: SigningKey) -> None:
    with pytest.raises(TokenRejected, match="endorsed"):
        check(token(private_key), key, channel_id="skype")
    check(token(private_key), key, channel_id=None)


def test_a_key_without_endorsements_signs_for_any_channel(private_key: Any) -> None:
    plain = parse_jwks({"keys": [jwk_of(private_key, "k1")]})["k1"]
    assert plain.endorsements is None
    check(token(private_key), plain, channel_id="anything")


@pytest.mark.parametrize("algorithm", ["HS256", "none"])
def test_only_rs256_is_accepted(algorithm: str) -> None:
    forged = jwt.encode(
        {"iss": ISSUERS[0], "aud": APP_ID, "exp": int(time.time()) + 60},
        "secret-key-that-is-long-enough-for-hmac-sha256" if algorithm == "HS256" else None,
        algorithm=algorithm,
        headers={"kid": "k1"},
    )
    with pytest.raises(TokenRejected, match="RS256"):
        read_header(forged)


def test_header_names_the_kid_and_claimed_issuer(private_key: Any) -> None:
    header = read_header(token(private_key))
    assert (header.kid, header.issuer) == ("k1", ISSUERS[0])
    with pytest.raises(TokenRejected):
        read_header("not.a.jwt")
    with pytest.raises(TokenRejected, match="kid"):
        read_header(jwt.encode({"iss": "x"}, private_key, "RS256"))


def test_jwks_parsing_keeps_only_usable_rsa_signing_keys(private_key: Any) -> None:
    good = jwk_of(private_key, "good")
    document = {
        "keys": [
            good,
            {**good, "kid": "enc", "use": "enc"},
            {"kty": "EC", "kid": "ec"},
            {"kty": "RSA", "kid": "broken", "n": "AQAB"},
            {**good, "kid": ""},
            "junk",
        ]
    }
    assert list(parse_jwks(document)) == ["good"]
    assert parse_jwks({"keys": "nope"}) == {} and parse_jwks([]) == {}


def test_single_tenant_bots_also_trust_their_tenants_entra_issuers() -> None:
    assert default_issuers(None) == ("https://api.botframework.com",)
    assert default_issuers("botframework.com") == ("https://api.botframework.com",)
    assert set(default_issuers("t-1")) == {
        "https://api.botframework.com",
        "https://sts.windows.net/t-1/",
        "https://login.microsoftonline.com/t-1/v2.0",
    }
