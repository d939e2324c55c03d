"""The Slack app manifest that ships with the project matches what the code listens for."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bot.app import create_app
from bot.core import Core

MANIFEST = Path(__file__).resolve().parents[2] / "slack-app-manifest.yaml"


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    return data


def test_every_request_url_is_the_one_slack_endpoint(core: Core) -> None:
    data = manifest()
    urls = [
        data["features"]["slash_commands"][0]["url"],
        data["settings"]["event_subscriptions"]["request_url"],
        data["settings"]["interactivity"]["request_url"],
    ]
    paths = {re.sub(r"^https://[^/]+", "", url) for url in urls}
    assert paths == {"/slack/events"}
    routes = {rule.rule: rule.methods for rule in create_app(core=core).url_map.iter_rules()}
    assert "POST" in (routes["/slack/events"] or set())


def test_the_command_events_and_scopes_are_what_the_app_uses() -> None:
    data = manifest()
    [command] = data["features"]["slash_commands"]
    assert command["command"] == "/case" and command["should_escape"] is True
    assert data["settings"]["event_subscriptions"]["bot_events"] == ["message.im"]
    assert data["settings"]["interactivity"]["is_enabled"] is True
    assert data["features"]["app_home"]["messages_tab_enabled"] is True
    scopes = set(data["oauth_config"]["scopes"]["bot"])
    # conversations.open needs im:write; chat.postMessage chat:write; message.im im:history.
    assert {"commands", "chat:write", "im:write", "im:history"} <= scopes
    assert data["settings"]["socket_mode_enabled"] is False
