"""Inbound authentication through a real host: real RS256 tokens, keys served by a local OpenID endpoint."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("bot_framework")


def assert_no_work(deployment: Any) -> None:
    time.sleep(0.2)
    assert deployment.chat.calls == []
    assert deployment.fake.recorded() == []


def test_a_valid_token_is_accepted_and_the_reply_is_sent(
    deploy: Any, mint: Any, make_activity: Any, wait_for: Any
) -> None:
    deployment = deploy()
    response = deployment.post(make_activity("hi", channel_id="webchat"), token=mint())
    assert response.status_code == 202
    assert response.content == b""
    messages = wait_for(deployment.fake.messages, message="a reply")
    assert messages[0]["text"] == "echo 1: hi"


@pytest.mark.parametrize(
    ("claims", "label"),
    [
        ({"aud": "another-bot"}, "wrong audience"),
        ({"iss": "https://login.microsoftonline.com/evil/v2.0"}, "wrong issuer"),
        ({"exp": int(time.time()) - 3600, "nbf": int(time.time()) - 7200}, "expired"),
        ({"serviceurl": "https://smba.trafficmanager.net/amer/"}, "serviceUrl mismatch"),
    ],
)
def test_invalid_tokens_get_401_and_run_nothing(
    deploy: Any, mint: Any, make_activity: Any, claims: dict[str, Any], label: str
) -> None:
    deployment = deploy()
    response = deployment.post(make_activity("hi"), token=mint(**claims))
    assert response.status_code == 401, label
    assert response.json() == {"error": {"code": "unauthorized", "message": "unauthorized"}}
    assert_no_work(deployment)


def test_a_bad_signature_gets_401(deploy: Any, mint: Any, make_activity: Any, new_key: Any) -> None:
    deployment = deploy()
    impostor = new_key("key-1")
    response = deployment.post(make_activity("hi"), token=mint(key=impostor))
    assert response.status_code == 401
    assert_no_work(deployment)


def test_a_missing_or_malformed_authorization_header_gets_401(deploy: Any, make_activity: Any) -> None:
    deployment = deploy()
    assert deployment.post(make_activity("hi")).status_code == 401
    assert deployment.post(make_activity("hi"), Authorization="Basic abc").status_code == 401
    assert deployment.post(make_activity("hi"), token="not-a-jwt").status_code == 401
    assert_no_work(deployment)


def test_the_activity_service_url_must_match_the_token_claim(deploy: Any, mint: Any, make_activity: Any) -> None:
    deployment = deploy(service_url_allowed_hosts=("127.0.0.1", "localhost"))
    port = deployment.fake.base_url.rsplit(":", 1)[1]
    elsewhere = make_activity("hi", service_url=f"http://localhost:{port}/")
    assert deployment.post(elsewhere, token=mint()).status_code == 401
    assert_no_work(deployment)


def test_rejections_are_logged_without_the_token(
    deploy: Any, mint: Any, make_activity: Any, caplog: pytest.LogCaptureFixture
) -> None:
    deployment = deploy()
    bad = mint(aud="another-bot")
    with caplog.at_level(logging.DEBUG):
        assert deployment.post(make_activity("hi"), token=bad).status_code == 401
    assert "audience" in caplog.text
    assert bad not in caplog.text and bad.split(".")[2] not in caplog.text


def test_unknown_kid_refetches_the_keys_once_so_rotation_works(
    deploy: Any, bot_framework: Any, mint: Any, make_activity: Any, new_key: Any, wait_for: Any
) -> None:
    deployment = deploy()
    assert deployment.post(make_activity("one"), token=mint()).status_code == 202
    assert bot_framework.metadata_hits == 1
    rotated = new_key("key-2", endorsements=["msteams"])
    bot_framework.keys[:] = [rotated]
    assert deployment.post(make_activity("two"), token=mint(key=rotated)).status_code == 202
    assert bot_framework.metadata_hits == 2
    wait_for(lambda: len(bot_framework.messages()) == 2, message="both replies")


def test_forged_kids_cannot_make_the_host_hammer_the_metadata_endpoint(
    deploy: Any, bot_framework: Any, mint: Any, make_activity: Any
) -> None:
    deployment = deploy()
    assert deployment.post(make_activity("one"), token=mint()).status_code == 202
    for n in range(5):
        assert deployment.post(make_activity("x"), token=mint(kid=f"forged-{n}")).status_code == 401
    assert bot_framework.metadata_hits == 2


def test_a_key_not_endorsed_for_the_channel_gets_401(
    deploy: Any, bot_framework: Any, mint: Any, make_activity: Any
) -> None:
    deployment = deploy()
    assert deployment.post(make_activity("hi", channel_id="skype"), token=mint()).status_code == 401
    assert_no_work(deployment)


def test_a_single_tenant_bot_accepts_its_tenants_entra_tokens(deploy: Any, mint: Any, make_activity: Any) -> None:
    deployment = deploy(tenant_id="tenant-1")
    entra = mint(iss="https://login.microsoftonline.com/tenant-1/v2.0", serviceurl=None)
    assert deployment.post(make_activity("hi", channel_id="emulator"), token=entra).status_code == 202
    other_tenant = mint(iss="https://login.microsoftonline.com/tenant-2/v2.0", serviceurl=None)
    assert deployment.post(make_activity("hi", channel_id="emulator"), token=other_tenant).status_code == 401


def test_unreachable_signing_keys_answer_503_not_500(deploy: Any, mint: Any, make_activity: Any) -> None:
    deployment = deploy(openid_metadata_url="http://127.0.0.1:9/openid")
    response = deployment.post(make_activity("hi"), token=mint())
    assert response.status_code == 503
    assert_no_work(deployment)


def test_without_app_id_the_channel_is_anonymous_and_says_so(
    deploy: Any, make_activity: Any, caplog: pytest.LogCaptureFixture, wait_for: Any
) -> None:
    with caplog.at_level(logging.WARNING, logger="agent_framework.hosting.activity"):
        deployment = deploy(authenticated=False)
    assert "WITHOUT authentication" in caplog.text
    assert deployment.post(make_activity("hi", channel_id="emulator")).status_code == 202
    messages = wait_for(deployment.fake.messages, message="a reply")
    assert messages[0]["text"] == "echo 1: hi"
    recorded = deployment.fake.recorded()
    assert all(activity.authorization is None for activity in recorded)
    assert deployment.fake.token_requests == []


def test_app_id_without_a_credential_is_a_configuration_error(app_id: str) -> None:
    from agent_framework_hosting_activity_protocol import ActivityProtocolChannel

    with pytest.raises(ValueError):
        ActivityProtocolChannel(app_id=app_id)
    with pytest.raises(ValueError):
        ActivityProtocolChannel(app_password="x")
