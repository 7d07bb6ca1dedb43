"""What ack-first channels keep for a queued delivery (its body as text) and the fixed answers they copy."""

from __future__ import annotations

import json

import pytest
from agent_framework_hosting.http import body_text, encoded, json_ok, keepable, loaded, parse_json
from starlette.responses import JSONResponse, Response


def test_a_body_kept_as_text_reads_back_as_the_object_it_held() -> None:
    body = json.dumps({"text": "héllo ✓", "items": [1, {"a": None}]}, ensure_ascii=False).encode()
    kept = body_text(body)
    assert isinstance(kept, str)
    assert loaded(kept) == json.loads(body)


def test_a_payload_kept_as_an_object_reads_back_as_it_is() -> None:
    payload = {"update_id": 1, "message": {"text": "hi"}}  # what earlier versions kept in the ledger
    assert loaded(payload) is payload


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-32"])
def test_a_body_parse_json_reads_is_kept_as_text_that_reads_back_the_same(encoding: str) -> None:
    body = json.dumps({"update_id": 7, "text": "héllo ✓"}, ensure_ascii=False).encode(encoding)
    kept = body_text(body)
    assert isinstance(kept, str) and loaded(kept) == parse_json(body) == {"update_id": 7, "text": "héllo ✓"}


def test_a_body_that_does_not_decode_is_not_kept_as_text() -> None:
    assert body_text(b'{"a": "\xff"}') is None


def test_a_delivery_is_kept_as_its_body_text_and_as_its_parsed_payload_only_when_that_does_not_decode() -> None:
    payload = {"a": "ÿ"}
    assert keepable(b'{"a": "\xc3\xbf"}', payload) == '{"a": "\xff"}'
    assert keepable(b'{"a": "\xff"}', payload) is payload


def test_an_encoded_copy_sends_the_same_bytes_and_has_its_own_headers() -> None:
    template = Response(status_code=202)
    copy = encoded(template)
    assert (copy.status_code, copy.body, copy.raw_headers) == (202, b"", [(b"content-length", b"0")])
    copy.headers["x-request-id"] = "abc"  # a middleware adding a header touches the copy only
    assert template.raw_headers == [(b"content-length", b"0")]


def test_the_webhook_ok_is_what_json_response_would_send() -> None:
    expected = JSONResponse({"ok": True})
    answer = json_ok()
    assert (answer.status_code, answer.body, answer.raw_headers) == (200, expected.body, expected.raw_headers)
