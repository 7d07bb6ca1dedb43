"""The `serviceUrl` allow-list and the connector's REST paths."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

DEFAULT_SERVICE_URL_HOSTS: tuple[str, ...] = (
    "botframework.com",
    "botframework.azure.us",
    "smba.trafficmanager.net",
    "smba.infra.gcc.teams.microsoft.com",
    "smba.infra.gov.teams.microsoft.us",
    "smba.infra.dod.teams.microsoft.us",
)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def normalize_hosts(hosts: Iterable[str]) -> tuple[str, ...]:
    """Lower-cased host names without leading dots; refuses an empty list."""
    if isinstance(hosts, str):
        hosts = (hosts,)
    normalized = tuple(host.strip().lstrip(".").lower() for host in hosts)
    if not normalized or not all(normalized):
        raise ValueError("service_url_allowed_hosts must name at least one host, and no empty ones")
    return normalized


def service_url_allowed(service_url: object, hosts: Iterable[str]) -> bool:
    """True for an https URL (http only on a loopback host) whose host is, or is under, an allowed host."""
    if not isinstance(service_url, str) or not service_url:
        return False
    return _allowed_cached(service_url, tuple(hosts))


@functools.lru_cache(maxsize=256)
def _allowed_cached(service_url: str, hosts: tuple[str, ...]) -> bool:
    """`_allowed`, remembered: a bot sees a handful of service URLs, and each activity names one (urlsplit
    is a tenth of an activity's acknowledgement)."""
    return _allowed(service_url, hosts)


def _allowed(service_url: str, hosts: Iterable[str]) -> bool:
    try:
        parts = urlsplit(service_url)
        host = (parts.hostname or "").lower()
        _ = parts.port
    except ValueError:
        return False
    if not host or parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        return False
    if parts.scheme != "https" and not (parts.scheme == "http" and host in LOOPBACK_HOSTS):
        return False
    return any(host == allowed or host.endswith("." + allowed) for allowed in hosts)


def activities_url(service_url: str, conversation_id: str, activity_id: str | None = None) -> str:
    """`{serviceUrl}/v3/conversations/{id}/activities[/{activityId}]`, path parts URL-encoded."""
    url = f"{service_url.rstrip('/')}/v3/conversations/{quote(conversation_id, safe='')}/activities"
    return f"{url}/{quote(activity_id, safe='')}" if activity_id else url
