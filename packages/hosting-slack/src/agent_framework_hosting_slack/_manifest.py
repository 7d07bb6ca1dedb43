"""The Slack app manifest the channel needs (scopes, events, slash commands, request URLs)."""

from __future__ import annotations

from importlib.resources import files

PLACEHOLDER = "https://your.host"


def app_manifest(base_url: str = PLACEHOLDER, *, path: str = "/slack") -> str:
    """The packaged ``manifest.yaml`` with its request URLs pointing at ``base_url + path``."""
    text = files(__package__).joinpath("manifest.yaml").read_text(encoding="utf-8")
    return text.replace(f"{PLACEHOLDER}/slack/", f"{base_url.rstrip('/')}{path.rstrip('/')}/")
