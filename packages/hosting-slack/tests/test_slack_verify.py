"""Request signing: our verifier agrees with slack_sdk's `SignatureVerifier` on every input."""

from __future__ import annotations

import time

import pytest
from agent_framework_hosting_slack import InvalidSignature, SignatureVerifier, signature_for
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.signature import SignatureVerifier as Oracle

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_700_000_000.0


class FixedClock:
    def now(self) -> float:
        return NOW


def ours() -> SignatureVerifier:
    return SignatureVerifier(SECRET, clock=lambda: NOW)


def oracle() -> Oracle:
    return Oracle(SECRET, clock=FixedClock())


def accepts(verifier: SignatureVerifier, timestamp: str | None, signature: str | None, body: bytes) -> bool:
    try:
        verifier.verify(timestamp, signature, body)
    except InvalidSignature:
        return False
    return True


def test_a_signature_slack_would_send_is_accepted() -> None:
    body = b'{"type":"event_callback"}'
    stamp = str(int(NOW))
    signature = oracle().generate_signature(timestamp=stamp, body=body)
    assert signature == signature_for(SECRET, stamp, body)
    ours().verify(stamp, signature, body)


def test_slacks_documented_example_verifies() -> None:
    # The example from Slack's "Verifying requests from Slack" page.
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    verifier = SignatureVerifier(SECRET, clock=lambda: 1531420618.0)
    verifier.verify("1531420618", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503", body)


@pytest.mark.parametrize(
    ("timestamp", "signature", "reason"),
    [
        (None, "v0=00", "missing"),
        (str(int(NOW)), None, "missing"),
        ("abc", "v0=00", "malformed"),
        ("-1", "v0=00", "malformed"),
        (str(int(NOW) - 301), "fresh", "window"),
        (str(int(NOW) + 301), "fresh", "window"),
        (str(int(NOW)), "v0=" + "0" * 64, "does not match"),
        (str(int(NOW)), "v1=whatever", "does not match"),
    ],
)
def test_missing_malformed_stale_or_forged_signatures_are_refused(timestamp, signature, reason) -> None:  # type: ignore[no-untyped-def]
    body = b"{}"
    if signature == "fresh":
        signature = signature_for(SECRET, timestamp, body)
    with pytest.raises(InvalidSignature, match=reason):
        ours().verify(timestamp, signature, body)


def test_the_window_is_five_minutes_either_way() -> None:
    body = b"x"
    for skew in (-300, 0, 300):
        stamp = str(int(NOW) + skew)
        ours().verify(stamp, signature_for(SECRET, stamp, body), body)


def test_a_body_changed_in_transit_is_refused() -> None:
    stamp = str(int(NOW))
    signature = signature_for(SECRET, stamp, b'{"text":"hi"}')
    with pytest.raises(InvalidSignature):
        ours().verify(stamp, signature, b'{"text":"hi!"}')


def test_another_apps_secret_is_refused() -> None:
    stamp = str(int(NOW))
    body = b"{}"
    with pytest.raises(InvalidSignature):
        ours().verify(stamp, signature_for("another-secret", stamp, body), body)


def test_an_empty_secret_is_refused_at_construction() -> None:
    with pytest.raises(ValueError):
        SignatureVerifier(" ")


timestamps = st.one_of(
    st.integers(min_value=int(NOW) - 400, max_value=int(NOW) + 400).map(str),
    st.text(alphabet="0123456789", min_size=1, max_size=11),
)


@settings(max_examples=300, deadline=None)
@given(
    body=st.text(max_size=200).map(str.encode),
    timestamp=timestamps,
    tamper=st.sampled_from(["none", "body", "signature", "timestamp", "garbage"]),
    garbage=st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80),
)
def test_verdicts_match_slack_sdks_verifier(body: bytes, timestamp: str, tamper: str, garbage: str) -> None:
    signature = oracle().generate_signature(timestamp=timestamp, body=body) or ""
    checked_body, checked_stamp = body, timestamp
    if tamper == "body":
        checked_body = body + b" "
    elif tamper == "signature":
        signature = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    elif tamper == "timestamp":
        checked_stamp = str(int(timestamp) + 1)
    elif tamper == "garbage":
        signature = garbage
    expected = oracle().is_valid(body=checked_body, timestamp=checked_stamp, signature=signature)
    assert accepts(ours(), checked_stamp, signature, checked_body) == expected


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=100), signature=st.text(max_size=80), timestamp=st.text(max_size=20))
def test_any_bytes_and_headers_get_a_verdict_never_a_crash(body: bytes, signature: str, timestamp: str) -> None:
    assert accepts(ours(), timestamp, signature, body) in (True, False)


def test_the_real_clock_is_used_by_default() -> None:
    body = b"{}"
    stamp = str(int(time.time()))
    SignatureVerifier(SECRET).verify(stamp, signature_for(SECRET, stamp, body), body)
