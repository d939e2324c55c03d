"""Web chat posts no page sends: an action that is not a word, a score that is not 1-5 in
ASCII digits, JSON nested beyond reading. Each gets a 4xx saying what was wrong and stores
nothing. And the rate limit holds under a burst of concurrent posts, served over real HTTP
with threads, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot.app import create_app
from bot.clock import FrozenClock
from bot.config import Settings, parse_config
from bot.core import Core, create_core
from bot.store.migrate import upgrade
from bot.store.models import Message
from tests.conftest import API_TOKEN, SECRET_KEY, TEST_CONFIG, auth_header, open_case, serve_app
from tests.support.pg_server import PostgresServer
from tests.support.webchat_harness import ChatLink, act, client_id


@pytest.fixture
def client(chat_core: Core) -> FlaskClient:
    return create_app(core=chat_core).test_client()


def _chat(client: FlaskClient, core: Core) -> tuple[int, ChatLink]:
    case = open_case(client, auth_header())
    return int(case["id"]), ChatLink(client, core, case["webchat_url"])


def _customer_posts(core: Core) -> int:
    with core.sessions() as session:
        query = select(func.count()).select_from(Message).where(Message.direction == "in")
        return session.scalar(query) or 0


# -- posts no page sends -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": ["confirm"]}, "action"),
        ({"action": {}}, "action"),
        ({"action": {"confirm": True}}, "action"),
        ({"action": 1}, "action"),
        ({"action": "rate", "score": "²"}, "score"),
        ({"action": "rate", "score": "٣"}, "score"),
        ({"action": "rate", "score": "9" * 5000}, "score"),
        ({"action": "rate", "score": [5]}, "score"),
    ],
    ids=[
        "action-list",
        "action-empty-object",
        "action-object",
        "action-number",
        "score-superscript",
        "score-arabic-digit",
        "score-5000-digits",
        "score-list",
    ],
)
def test_an_action_or_score_no_page_sends_gets_422_naming_it(
    client: FlaskClient, chat_core: Core, body: dict[str, Any], field: str
) -> None:
    case_id, chat = _chat(client, chat_core)
    act(client, case_id, "resolve", resolution="We replaced the line card.")
    response = chat.post(**body)
    assert response.status_code == 422, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["field"] == field and field in error["message"]
    assert _customer_posts(chat_core) == 0


@pytest.mark.parametrize(
    "data",
    ["[" * 30_000, '{"text": ' + "[" * 30_000, '{"text": "hi", "x": ' + '{"a": ' * 5_000],
    ids=["lists", "inside-an-object", "objects"],
)
def test_json_nested_beyond_reading_gets_400(
    client: FlaskClient, chat_core: Core, data: str
) -> None:
    _, chat = _chat(client, chat_core)
    response = client.post(f"{chat.path}/messages", data=data, content_type="application/json")
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "malformed_body" and "nested" in error["message"]
    assert _customer_posts(chat_core) == 0


def test_the_no_script_form_with_a_score_no_page_sends_shows_the_page_again(
    client: FlaskClient, chat_core: Core
) -> None:
    case_id, chat = _chat(client, chat_core)
    act(client, case_id, "resolve", resolution="We replaced the line card.")
    assert chat.post(action="confirm").status_code == 201
    response = client.post(f"{chat.path}/messages", data={"action": "rate", "score": "²"})
    assert response.status_code == 422
    assert "score must be a whole number from 1 to 5" in response.get_data(as_text=True)


def test_valid_actions_still_read_as_their_words(client: FlaskClient, chat_core: Core) -> None:
    case_id, chat = _chat(client, chat_core)
    act(client, case_id, "resolve", resolution="We replaced the line card.")
    assert chat.post(action="confirm").get_json()["message"]["body"] == "YES"
    assert chat.post(action="rate", score="4").get_json()["message"]["body"] == "4"
    assert chat.post(action="", text="thanks").get_json()["message"]["body"] == "thanks"


# -- the rate limit under a burst ------------------------------------------------------------

BURST = 30


@contextmanager
def _served(database_url: str, clock: FrozenClock) -> Iterator[tuple[Core, str]]:
    """The app over real HTTP (a thread per request); yields the core and one case's link."""
    settings = Settings(database_url=database_url, api_token=API_TOKEN, secret_key=SECRET_KEY)

    def build(url: str) -> Core:
        return create_core(parse_config(TEST_CONFIG | {"public_url": url}), settings, clock=clock)

    with serve_app(build) as (_, core, app):
        case = open_case(app.test_client(), auth_header())
        yield core, str(case["webchat_url"])


def _burst(link: str) -> list[int]:
    """BURST posts from BURST threads, let go at once; their statuses."""
    start = threading.Barrier(BURST)

    def post(n: int) -> int:
        with requests.Session() as session:
            session.get(link, timeout=30)  # the connection is open before the start
            start.wait(timeout=30)
            response = session.post(
                f"{link}/messages", json={"client_id": client_id(), "text": f"n {n}"}, timeout=60
            )
            return response.status_code

    with ThreadPoolExecutor(max_workers=BURST) as pool:
        return list(pool.map(post, range(BURST)))


def _holds_the_limit(core: Core, link: str) -> None:
    limit = core.config.channels.webchat.posts_per_minute
    statuses = _burst(link)
    assert sorted(statuses) == [201] * limit + [429] * (BURST - limit), statuses
    assert _customer_posts(core) == limit


def test_a_burst_of_posts_stores_exactly_the_limit_on_sqlite(
    database_url: str, clock: FrozenClock
) -> None:
    with _served(database_url, clock) as (core, link):
        _holds_the_limit(core, link)


def test_a_burst_of_posts_stores_exactly_the_limit_on_postgres(
    pg_server: PostgresServer, clock: FrozenClock
) -> None:
    url = pg_server.create_database(f"keepposted_{uuid.uuid4().hex[:16]}")
    upgrade(url)
    with _served(url, clock) as (core, link):
        _holds_the_limit(core, link)
