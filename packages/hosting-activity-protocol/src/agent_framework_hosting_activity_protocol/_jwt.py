"""Pure Bot Framework token checks: JWKS parsing and claim validation, no I/O."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from agent_framework_hosting import Unauthorized

ALGORITHM = "RS256"
CLOCK_SKEW_SECONDS = 300.0
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"


class TokenRejected(Unauthorized):
    """The bearer token failed a check; the message names the check, never the token."""


@dataclass(frozen=True)
class SigningKey:
    """One public key from a JWKS, with the channel ids it is endorsed for (None: no endorsements listed)."""

    kid: str
    key: Any
    endorsements: frozenset[str] | None = None


@dataclass(frozen=True)
class TokenHeader:
    """What can be read from a token before its signature is checked."""

    kid: str
    issuer: str


def parse_jwks(document: Any) -> dict[str, SigningKey]:
    """The RSA signing keys of a JWKS document by `kid`; malformed keys are skipped."""
    keys: dict[str, SigningKey] = {}
    entries = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        return keys
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("kty") != "RSA" or entry.get("use", "sig") != "sig":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        try:
            public_key = jwt.PyJWK(dict(entry), algorithm=ALGORITHM).key
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue
        endorsements = entry.get("endorsements")
        endorsed = (
            frozenset(item for item in endorsements if isinstance(item, str))
            if isinstance(endorsements, list)
            else None
        )
        keys[kid] = SigningKey(kid=kid, key=public_key, endorsements=endorsed)
    return keys


def read_header(token: str) -> TokenHeader:
    """The token's `kid` and claimed issuer, unverified; rejects any algorithm but RS256."""
    try:
        unverified = jwt.decode_complete(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise TokenRejected("token is not a well-formed JWT") from None
    header, claims = unverified["header"], unverified["payload"]
    if header.get("alg") != ALGORITHM:
        raise TokenRejected(f"token algorithm must be {ALGORITHM}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenRejected("token header has no kid")
    issuer = claims.get("iss")
    if not isinstance(issuer, str):
        raise TokenRejected("token has no issuer")
    return TokenHeader(kid=kid, issuer=issuer)


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def check_endorsement(key: SigningKey, channel_id: str | None) -> None:
    """The signing key must be endorsed for the activity's channel (when the JWKS lists endorsements)."""
    if channel_id and key.endorsements is not None and channel_id not in key.endorsements:
        raise TokenRejected(f"signing key is not endorsed for channel {channel_id!r}")


def verify_token(
    token: str, key: SigningKey, *, audience: str, issuers: Collection[str], leeway: float = CLOCK_SKEW_SECONDS
) -> dict[str, Any]:
    """Verify signature, issuer, audience and expiry (what holds for the token whatever activity it carries)."""
    options: dict[str, Any] = {"require": ["exp", "iss", "aud"], "strict_aud": True}
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=list(issuers),
            leeway=leeway,
            options=options,  # type: ignore[arg-type]
        )
    except jwt.InvalidSignatureError:
        raise TokenRejected("token signature is invalid") from None
    except jwt.ExpiredSignatureError:
        raise TokenRejected("token has expired") from None
    except jwt.ImmatureSignatureError:
        raise TokenRejected("token is not valid yet") from None
    except jwt.InvalidAudienceError:
        raise TokenRejected("token audience is not this bot") from None
    except jwt.InvalidIssuerError:
        raise TokenRejected("token issuer is not trusted") from None
    except jwt.PyJWTError as error:
        raise TokenRejected(f"token is invalid ({type(error).__name__})") from None
    if claims.get("iss") == BOT_FRAMEWORK_ISSUER and not isinstance(claims.get("serviceurl"), str):
        raise TokenRejected("token has no serviceurl claim")
    return claims


def check_service_url(claims: Mapping[str, Any], service_url: str | None) -> None:
    """A token naming a `serviceurl` is good only for activities from that service URL."""
    claimed_url = claims.get("serviceurl")
    if claimed_url is not None and (not isinstance(service_url, str) or not _same_url(str(claimed_url), service_url)):
        raise TokenRejected("token serviceurl does not match the activity's serviceUrl")
