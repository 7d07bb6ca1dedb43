"""parse_json skips the tree walk only for bodies whose raw text proves them sound; its verdicts do not change."""

from __future__ import annotations

import json
from typing import Any

import pytest
from agent_framework_hosting.http import BadRequest, check_json_tree, parse_json
from agent_framework_hosting.testing import hostile_bodies
from hypothesis import given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=25,
)


def verdict(check: Any, *args: Any, **kwargs: Any) -> str:
    try:
        check(*args, **kwargs)
    except BadRequest as error:
        return error.code
    return "ok"


@settings(max_examples=300, deadline=None)
@given(value=json_values, ascii_only=st.booleans(), depth=st.integers(min_value=1, max_value=12))
def test_the_verdict_is_the_full_walks(value: Any, ascii_only: bool, depth: int) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    expected = verdict(check_json_tree, json.loads(body), max_depth=depth)
    assert verdict(parse_json, body, max_depth=depth) == expected


@pytest.mark.parametrize("name", sorted(hostile_bodies({"text": "hi", "items": ["a"]})))
def test_hostile_bodies_are_still_refused(name: str) -> None:
    with pytest.raises(BadRequest):
        parse_json(hostile_bodies({"text": "hi", "items": ["a"]})[name])


numbers_and_text = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(value=numbers_and_text, ascii_only=st.booleans())
def test_a_body_reads_as_the_standard_decoder_reads_it(value: Any, ascii_only: bool) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    parsed = parse_json(body)
    expected = json.loads(body.decode("utf-8", "surrogatepass"))
    assert parsed == expected
    assert json.dumps(parsed) == json.dumps(expected)  # same types: an int stays an int, -0.0 stays -0.0


@pytest.mark.parametrize("body", [b'{"n": -0}', b"[-0]", b'{"n": 1234567890123456789}'])
def test_numbers_orjson_builds_may_read_differently_are_left_to_the_standard_decoder(body: bytes) -> None:
    """`-0` (a float in orjson builds without its default parser) and 19+ digits (a float past 64 bits)."""
    from agent_framework_hosting.http import _UNREAD, _fast_parse

    assert _fast_parse(body) is _UNREAD
    assert _fast_parse(b'{"n": -0.5, "m": [0, -1, 10]}') == {"n": -0.5, "m": [0, -1, 10]}
