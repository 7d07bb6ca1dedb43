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
