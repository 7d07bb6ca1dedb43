"""Whatever JSON a client sends, the channel answers with a 2xx or a 4xx, never a 5xx."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


FIELDS = [
    "type",
    "id",
    "channelId",
    "serviceUrl",
    "from",
    "recipient",
    "conversation",
    "text",
    "entities",
    "attachments",
    "membersAdded",
    "deliveryMode",
    "name",
]


def activity_like(service_url: str) -> st.SearchStrategy[dict[str, Any]]:
    """A well-formed activity with up to three fields replaced by anything at all, or removed."""
    base = st.fixed_dictionaries(
        {
            "type": st.sampled_from(["message", "invoke", "conversationUpdate", "typing", "event"]),
            "id": st.text(min_size=1, max_size=12),
            "channelId": st.sampled_from(["msteams", "webchat", "directline"]),
            "serviceUrl": st.sampled_from([service_url, service_url.rstrip("/"), "https://attacker.example/"]),
            "from": st.fixed_dictionaries({"id": st.text(min_size=1, max_size=8)}),
            "recipient": st.fixed_dictionaries({"id": st.text(min_size=1, max_size=8)}),
            "conversation": st.fixed_dictionaries(
                {"id": st.text(min_size=1, max_size=8)},
                optional={"conversationType": st.sampled_from(["personal", "groupChat"])},
            ),
            "text": st.text(max_size=40),
            "entities": st.lists(
                st.fixed_dictionaries(
                    {"type": st.just("mention"), "text": st.text(max_size=12), "mentioned": json_values}
                ),
                max_size=2,
            ),
            "attachments": st.lists(
                st.dictionaries(st.sampled_from(["contentType", "contentUrl", "content"]), json_values), max_size=2
            ),
            "membersAdded": st.lists(st.fixed_dictionaries({"id": st.text(max_size=8)}), max_size=2),
        },
        optional={"deliveryMode": st.sampled_from(["expectReplies", "normal"])},
    )
    changes = st.dictionaries(st.sampled_from(FIELDS), st.none() | json_values, max_size=3)

    def mutate(activity: dict[str, Any], replaced: dict[str, Any]) -> dict[str, Any]:
        for field, value in replaced.items():
            if value is None:
                activity.pop(field, None)
            else:
                activity[field] = value
        return activity

    return st.builds(mutate, base, changes)


def test_arbitrary_json_never_yields_a_5xx(deploy: Any) -> None:
    deployment = deploy(authenticated=False, send_typing_action=False, welcome_message="hello")
    service_url = deployment.fake.service_url

    @settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(payload=json_values | activity_like(service_url))
    def check(payload: Any) -> None:
        response = deployment.client.post(deployment.channel.path, content=json.dumps(payload))
        if response.status_code == 501:
            assert isinstance(payload, dict) and payload.get("type") == "invoke"
            return
        assert response.status_code < 500, (response.status_code, response.text)
        if response.status_code >= 400:
            assert "error" in response.json()

    check()


def test_arbitrary_json_with_a_valid_token_never_yields_a_5xx(deploy: Any, mint: Any) -> None:
    deployment = deploy(send_typing_action=False)
    token = mint()

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(payload=json_values | activity_like(deployment.fake.service_url))
    def check(payload: Any) -> None:
        response = deployment.client.post(
            deployment.channel.path, content=json.dumps(payload), headers={"Authorization": f"Bearer {token}"}
        )
        if response.status_code == 501:
            assert isinstance(payload, dict) and payload.get("type") == "invoke"
            return
        assert response.status_code < 500, (response.status_code, response.text)

    check()
