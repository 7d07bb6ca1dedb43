"""`http.parse_json` refuses what would crash a channel later: deep nesting and strings that are not Unicode."""

from __future__ import annotations

import pytest
from agent_framework_hosting.http import MAX_JSON_DEPTH, BadRequest, parse_json
from agent_framework_hosting.testing import hostile_bodies, nested_json


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 990, 1000, 5000, 100_000])
def test_nesting_deeper_than_the_limit_is_a_400(depth: int) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_json(nested_json(depth))
    assert refused.value.status_code == 400 and "nests deeper" in refused.value.message


def test_nesting_up_to_the_limit_parses() -> None:
    assert parse_json(nested_json(MAX_JSON_DEPTH))["a"][0]["a"]


@pytest.mark.parametrize(
    "body",
    [b'"\\ud800"', b'{"k": ["ok", "\\udfff"]}', b'{"\\ud800": 1}', b'{"input": "\xed\xa0\x80"}', b'["a\\ud83d"]'],
)
def test_lone_surrogates_are_a_400(body: bytes) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_json(body)
    assert refused.value.status_code == 400 and "Unicode" in refused.value.message


def test_paired_surrogates_and_other_text_parse() -> None:
    assert parse_json(b'{"e": "\\ud83d\\ude00", "t": "h\xc3\xa9"}') == {"e": "\U0001f600", "t": "hé"}


def test_every_hostile_body_is_refused() -> None:
    for name, body in hostile_bodies({"input": "hi", "metadata": {"k": ["v"]}}).items():
        with pytest.raises(BadRequest):
            parse_json(body)
        assert name


@pytest.mark.parametrize("body", [b"NaN", b'{"temperature": NaN}', b'{"a": [Infinity]}', b'{"a": -Infinity}'])
def test_nan_and_infinities_are_not_json_and_a_400(body: bytes) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_json(body)
    assert refused.value.status_code == 400 and refused.value.code == "invalid_json"


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


@pytest.mark.parametrize(
    "body",
    [
        b'{"n": 123456789012345678901234567890}',  # past 64 bits: still an exact int
        b'{"n": -9223372036854775809, "m": 18446744073709551616}',
        b"[1e400, -1e400]",  # read as infinities, as the standard decoder does
        b'\xef\xbb\xbf{"bom": true}',
        '{"utf16": "é"}'.encode("utf-16"),
        b'{"a": 1, "a": 2}',
        b'{"zero": -0, "list": [-0], "float": -0.0}',  # -0 is the int 0
        b'{"f": [0.1, -0.0, 5e-324, 1E2, 1.7976931348623157e308]}',
    ],
)
def test_bodies_orjson_would_read_differently_are_read_as_the_standard_decoder_reads_them(body: bytes) -> None:
    import json

    expected = json.loads(body.decode(json.detect_encoding(body)))
    parsed = parse_json(body)
    assert parsed == expected
    assert [type(leaf) for leaf in _leaves(parsed)] == [type(leaf) for leaf in _leaves(expected)]
