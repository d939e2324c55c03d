"""Slack over real HTTP: the app on an ephemeral port, its WebClient pointed at
tests/support/fake_slack.py, and a `Workspace` that posts what Slack posts (slash commands, button
clicks, modal submissions, events), signed with slack_sdk's own SignatureVerifier."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from typing import Any
from urllib.parse import urlencode

import requests
from flask.testing import FlaskClient
from slack_sdk.signature import SignatureVerifier

from bot.clock import FrozenClock
from bot.config import Config, Settings, parse_config
from bot.core import Core, create_core
from bot.worker import tick
from tests.conftest import API_TOKEN, SECRET_KEY, TEST_CONFIG, serve_app
from tests.support.fake_slack import FakeSlack

SIGNING_SECRET = "test-signing-secret"
AGENT = "UAGENT001"
SUPERVISOR = "USUPER001"
OUTSIDER = "UOUTSIDE1"
CUSTOMER = "UCUST0001"
ALERTS = "CALERTS01"


def slack_config(**slack: Any) -> Config:
    settings = {
        "alerts_channel": ALERTS,
        "agents": [AGENT],
        "supervisors": [SUPERVISOR],
        "mps": 1000,  # pacing has its own tests; here it would only slow the journeys down
    } | slack
    return parse_config(TEST_CONFIG | {"channels": {**TEST_CONFIG["channels"], "slack": settings}})


@dataclass
class SlackApp:
    url: str
    core: Core
    client: FlaskClient  # the REST API, for setting up and checking cases


@contextmanager
def serve_slack(
    database_url: str, clock: FrozenClock, fake: FakeSlack, config: Config | None = None
) -> Iterator[SlackApp]:
    settings = Settings(
        database_url=database_url,
        api_token=API_TOKEN,
        secret_key=SECRET_KEY,
        slack_bot_token=fake.token,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=fake.url,
    )

    def build(url: str) -> Core:
        return create_core(config or slack_config(), settings, clock=clock)

    with serve_app(build) as (url, core, app):
        yield SlackApp(url, core, app.test_client())


def signed_headers(
    body: str, *, timestamp: int | None = None, secret: str = SIGNING_SECRET
) -> dict[str, str]:
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    assert signature is not None
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


class Workspace:
    """Plays Slack: posts signed requests to /slack/events as Slack would."""

    def __init__(self, app: SlackApp, fake: FakeSlack) -> None:
        self.app, self.fake = app, fake
        self._ids = count(1)

    @property
    def endpoint(self) -> str:
        return f"{self.app.url}/slack/events"

    def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str = SIGNING_SECRET,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        sent = {"Content-Type": content_type} | signed_headers(
            body, timestamp=timestamp, secret=secret
        )
        return requests.post(
            self.endpoint, data=body.encode(), headers=sent | (headers or {}), timeout=10
        )

    def command_response(self, user: str, text: str, **kwargs: Any) -> requests.Response:
        form = {
            "token": "legacy-token",
            "team_id": self.fake.team_id,
            "team_domain": "acme",
            "channel_id": "CSUPPORT1",
            "channel_name": "support",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/case",
            "text": text,
            "api_app_id": "A0000001",
            "response_url": self.fake.response_url("command"),
            "trigger_id": f"trigger-{next(self._ids)}",
        }
        return self.post(urlencode(form), "application/x-www-form-urlencoded", **kwargs)

    def command(self, user: str, text: str) -> dict[str, Any]:
        """Run `/case <text>`; returns the ephemeral answer (text and blocks) as JSON."""
        response = self.command_response(user, text)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        assert answer.get("response_type") == "ephemeral", answer
        return answer

    def interact(self, payload: dict[str, Any], **kwargs: Any) -> requests.Response:
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded", **kwargs)

    def click(
        self,
        user: str,
        action_id: str,
        value: str,
        *,
        channel: str,
        message: dict[str, Any] | None = None,
    ) -> requests.Response:
        """Press a button on a message (`message` as the fake stored it)."""
        ts = (message or {}).get("ts", "1700000000.000001")
        payload = {
            "type": "block_actions",
            "team": {"id": self.fake.team_id, "domain": "acme"},
            "user": {"id": user, "username": user.lower(), "team_id": self.fake.team_id},
            "api_app_id": "A0000001",
            "token": "legacy-token",
            "container": {"type": "message", "message_ts": ts, "channel_id": channel},
            "trigger_id": f"trigger-{next(self._ids)}",
            "channel": {"id": channel, "name": "directmessage"},
            "message": {
                "type": "message",
                "ts": ts,
                "text": (message or {}).get("text", ""),
                "blocks": (message or {}).get("blocks") or [],
            },
            "response_url": self.fake.response_url("click"),
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b1",
                    "value": value,
                    "action_ts": f"{time.time():.6f}{next(self._ids)}",
                }
            ],
        }
        return self.interact(payload)

    def submit(self, user: str, view: dict[str, Any], text: str) -> requests.Response:
        """Submit a modal the app opened (`view` as views.open got it) with `text` typed in."""
        payload = {
            "type": "view_submission",
            "team": {"id": self.fake.team_id, "domain": "acme"},
            "user": {"id": user, "username": user.lower(), "team_id": self.fake.team_id},
            "api_app_id": "A0000001",
            "token": "legacy-token",
            "trigger_id": f"trigger-{next(self._ids)}",
            "view": {
                "id": f"V{next(self._ids):08d}",
                "type": "modal",
                "callback_id": view["callback_id"],
                "private_metadata": view.get("private_metadata", ""),
                "state": {
                    "values": {"text": {"text": {"type": "plain_text_input", "value": text}}}
                },
            },
        }
        return self.interact(payload)

    def event(
        self, event: dict[str, Any], *, event_id: str | None = None, **kwargs: Any
    ) -> requests.Response:
        body = {
            "token": "legacy-token",
            "team_id": self.fake.team_id,
            "api_app_id": "A0000001",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._ids):08d}",
            "event_time": int(time.time()),
            "authorizations": [
                {"team_id": self.fake.team_id, "user_id": self.fake.bot_user_id, "is_bot": True}
            ],
        }
        return self.post(json.dumps(body), "application/json", **kwargs)

    def dm(
        self, user: str, text: str, *, ts: str | None = None, **kwargs: Any
    ) -> requests.Response:
        """A person writing to the app in its DM."""
        event = {
            "type": "message",
            "channel": "D" + user[1:],
            "channel_type": "im",
            "user": user,
            "text": text,
            "ts": ts or f"{time.time():.6f}",
            "event_ts": ts or f"{time.time():.6f}",
        }
        return self.event(event, **kwargs)

    def sent_to(self, conversation: str) -> list[dict[str, Any]]:
        """What the app posted to a conversation (after the worker ran), oldest first."""
        tick(self.app.core, "test")
        return self.fake.messages(conversation)


def flatten(answer: dict[str, Any]) -> str:
    """All the text in an answer's blocks (and its text), for asserting on what an agent sees."""
    parts = [str(answer.get("text") or "")]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    parts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(answer.get("blocks") or [])
    return "\n".join(parts)
