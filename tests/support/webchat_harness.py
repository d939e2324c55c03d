"""Web chat under test: the app with the real web chat channel (SMS and Slack faked), and a
`ChatLink` that drives one customer's link through the JSON API the page uses."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bot.clock import FrozenClock
from bot.config import Settings, parse_config
from bot.core import Core, create_core
from bot.worker import tick
from tests.conftest import API_TOKEN, SECRET_KEY, TEST_CONFIG, auth_header, open_case, serve_app

_ids = itertools.count(1)


def client_id() -> str:
    return f"test-client-{next(_ids):08d}"


def act(api: FlaskClient, case_id: int, action: str, **body: Any) -> dict[str, Any]:
    """What an agent or a CRM does to a case through the REST API (resolve, updates, ...)."""
    response = api.post(f"/api/v1/cases/{case_id}/{action}", json=body, headers=auth_header())
    assert response.status_code in (200, 201), response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def case_json(api: FlaskClient, case_id: int) -> dict[str, Any]:
    data: dict[str, Any] = api.get(f"/api/v1/cases/{case_id}", headers=auth_header()).get_json()
    return data


@dataclass
class ChatLink:
    """One customer's web chat link, used the way chat.js uses it."""

    client: FlaskClient
    core: Core
    url: str  # the webchat_url from the API

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    def page(self) -> TestResponse:
        return self.client.get(self.path)

    def poll(self, after: int = 0) -> dict[str, Any]:
        tick(self.core, "test")  # the worker hands queued replies to the page
        response = self.client.get(f"{self.path}/messages?after={after}")
        assert response.status_code == 200, response.get_json()
        data: dict[str, Any] = response.get_json()
        return data

    def post(self, **fields: Any) -> TestResponse:
        body = {"client_id": client_id()} | fields
        return self.client.post(f"{self.path}/messages", json=body)

    def says(self, text: str) -> dict[str, Any]:
        response = self.post(text=text)
        assert response.status_code == 201, response.get_json()
        data: dict[str, Any] = response.get_json()
        return data

    def bodies(self) -> list[str]:
        return [m["body"] for m in self.poll()["messages"]]


# -- served over real HTTP for the browser, with a worker running beside it -------------------


@dataclass
class LiveChat:
    url: str
    core: Core
    api: FlaskClient  # the REST API, as a CRM or an agent would drive the case

    def open_case(self, **fields: Any) -> tuple[int, str]:
        """A new case; returns its id and its web chat link."""
        case = open_case(self.api, auth_header(), **fields)
        return int(case["id"]), str(case["webchat_url"])

    def act(self, case_id: int, action: str, **body: Any) -> dict[str, Any]:
        return act(self.api, case_id, action, **body)

    def case(self, case_id: int) -> dict[str, Any]:
        return case_json(self.api, case_id)


@contextmanager
def serve_chat(database_url: str, clock: FrozenClock) -> Iterator[LiveChat]:
    """The app with web chat on, its links pointing at the served URL, and a worker thread
    that sends what is queued every 100 ms (in production: `worker.send_every`, 1 s)."""
    settings = Settings(database_url=database_url, api_token=API_TOKEN, secret_key=SECRET_KEY)

    def build(url: str) -> Core:
        return create_core(parse_config(TEST_CONFIG | {"public_url": url}), settings, clock=clock)

    with serve_app(build) as (url, core, app):
        stop = threading.Event()

        def work() -> None:
            while not stop.wait(0.1):
                tick(core, "browser-test")

        worker = threading.Thread(target=work, name="worker", daemon=True)
        worker.start()
        try:
            yield LiveChat(url, core, app.test_client())
        finally:
            stop.set()
            worker.join()
