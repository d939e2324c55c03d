"""Web chat over HTTP (Flask's test client; tests/web/test_webchat_browser.py drives a real
browser): the signed link, the page, its JSON API, and replies going through the same flows as
SMS."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.app import create_app
from bot.clock import FrozenClock
from bot.config import Settings, parse_config
from bot.core import Core, create_core
from bot.errors import ConfigError
from bot.store.models import Message
from tests.conftest import API_TOKEN, TEST_CONFIG, auth_header, log_events, open_case
from tests.support.fakes import FakeChannel
from tests.support.webchat_harness import ChatLink, act, case_json, client_id


@pytest.fixture
def client(chat_core: Core) -> FlaskClient:
    return create_app(core=chat_core).test_client()


def open_chat(client: FlaskClient, core: Core, **fields: Any) -> tuple[int, ChatLink]:
    case = open_case(client, auth_header(), **fields)
    assert case["webchat_url"].startswith("http://localhost:8000/c/")  # config's public_url
    return case["id"], ChatLink(client, core, case["webchat_url"])


def case_status(client: FlaskClient, case_id: int) -> str:
    return str(case_json(client, case_id)["status"])


# -- the page -------------------------------------------------------------------------------


def test_the_page_shows_the_case_and_is_locked_down(client: FlaskClient, chat_core: Core) -> None:
    _, chat = open_chat(client, chat_core, subject="Router keeps rebooting")
    response = chat.page()
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Router keeps rebooting" in html and "We are working on it" in html
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'self'" in csp
    assert response.headers["Referrer-Policy"] == "same-origin"  # the link is the key
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script>" not in html and " style=" not in html  # nothing inline for the CSP to allow


def test_sites_named_in_config_may_frame_the_chat(
    database_url: str, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> None:
    channels_config = {
        **TEST_CONFIG["channels"],
        "webchat": {"embed_origins": ["https://www.acme.example"]},
    }
    config = parse_config(TEST_CONFIG | {"channels": channels_config})
    core = create_core(
        config,
        Settings(database_url=database_url, api_token=API_TOKEN, secret_key="k"),
        clock=clock,
    )
    client = create_app(core=core).test_client()
    _, chat = open_chat(client, core)
    csp = chat.page().headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://www.acme.example" in csp
    core.engine.dispose()


def test_a_bad_embed_origin_is_named_in_the_config_error() -> None:
    channels_config = {"webchat": {"embed_origins": ["www.acme.example/help"]}}
    with pytest.raises(ConfigError, match=r"channels\.webchat\.embed_origins"):
        parse_config(TEST_CONFIG | {"channels": channels_config})


def test_the_timeline_holds_updates_and_replies_but_never_a_note(
    client: FlaskClient, chat_core: Core, clock: FrozenClock
) -> None:
    case_id, chat = open_chat(client, chat_core)
    act(client, case_id, "notes", kind="interaction", text="SECRET: customer sounded drunk")
    act(client, case_id, "updates", text="An engineer is on the way.")
    bodies = chat.bodies()
    assert any("An engineer is on the way." in body for body in bodies)  # sent as SMS, shown here
    assert not any("SECRET" in body for body in bodies)
    assert "SECRET" not in chat.page().get_data(as_text=True)


def test_a_message_held_back_appears_once_sent_though_newer_ones_came_first(
    client: FlaskClient, chat_core: Core, clock: FrozenClock
) -> None:
    """The cursor waits behind a queued message, so polling never skips it."""
    case_id, chat = open_chat(client, chat_core)
    first = chat.poll()
    act(client, case_id, "updates", text="Update held in the outbox")  # queued, not yet sent
    response = chat.client.get(f"{chat.path}/messages?after={first['cursor']}")
    assert response.get_json()["messages"] == []
    held_back_cursor = response.get_json()["cursor"]
    chat.says("hello?")  # a newer message shows first
    later = chat.poll(held_back_cursor)
    bodies = [m["body"] for m in later["messages"]]
    assert "hello?" in bodies and any("Update held in the outbox" in b for b in bodies)


def test_the_cursor_moves_past_settled_messages(
    client: FlaskClient, chat_core: Core, clock: FrozenClock
) -> None:
    _, chat = open_chat(client, chat_core)
    chat.says("first words")
    clock.advance(timedelta(minutes=5))
    settled = chat.poll()
    assert settled["cursor"] >= max(m["id"] for m in settled["messages"])
    assert chat.poll(settled["cursor"])["messages"] == []


def test_polling_does_not_wait_for_a_writer(
    client: FlaskClient, chat_core: Core, database_url: str
) -> None:
    """Pages poll every 2 s: on SQLite they read a snapshot beside a writer, never queue."""
    _, chat = open_chat(client, chat_core)
    writer = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0)
    try:
        writer.execute("BEGIN IMMEDIATE")  # holds the write lock, as a busy worker does
        response = chat.client.get(f"{chat.path}/messages")  # would wait 10 s, then fail
        assert response.status_code == 200
        assert chat.page().status_code == 200
    finally:
        writer.rollback()
        writer.close()


# -- replies through the same flows as SMS ----------------------------------------------------


def test_confirm_closes_the_case_then_the_score_is_logged(
    client: FlaskClient, chat_core: Core
) -> None:
    case_id, chat = open_chat(client, chat_core)
    act(client, case_id, "resolve", resolution="We replaced the line card.")
    state = chat.poll()
    assert state["state"] == {"awaiting": "confirmation", "can_reopen": False}
    assert state["case"]["status_text"] == "Fixed? Please confirm"
    response = chat.post(action="confirm")
    assert response.status_code == 201
    assert response.get_json()["message"]["body"] == "YES"  # the button stands for the word
    assert case_status(client, case_id) == "closed"
    after = chat.poll()
    assert after["state"]["awaiting"] == "rating"
    assert any("now closed" in m["body"] for m in after["messages"])
    assert chat.post(action="rate", score=5).status_code == 201
    assert chat.poll()["state"] == {"awaiting": None, "can_reopen": True}
    events = log_events(chat_core, case_id)
    assert events[-3:-1] == ["confirmed", "customer_message"] and events[-1] == "csat_received"
    with chat_core.sessions() as session:
        channels = session.scalars(
            select(Message.channel).where(Message.case_id == case_id, Message.direction == "in")
        ).all()
    assert set(channels) == {"webchat"}


def test_reopen_opens_the_case_again_and_alerts_the_team(
    client: FlaskClient, chat_core: Core, channels: dict[str, FakeChannel]
) -> None:
    case_id, chat = open_chat(client, chat_core)
    act(client, case_id, "resolve", resolution="We replaced the line card.")
    assert chat.post(action="reopen").status_code == 201
    assert case_status(client, case_id) == "open"
    assert "reopen_requested" in log_events(chat_core, case_id)
    chat.poll()  # runs the worker, which sends the alert
    assert any("REOPEN" in m.body for m in channels["slack"].sent if m.kind == "alert")


def test_typed_words_are_read_like_an_sms(client: FlaskClient, chat_core: Core) -> None:
    case_id, chat = open_chat(client, chat_core)
    act(client, case_id, "resolve", resolution="Fixed the router.")
    chat.says("yes it works now, thanks!")
    assert case_status(client, case_id) == "closed"


def test_an_unclear_reply_is_kept_and_answered_on_the_page(
    client: FlaskClient, chat_core: Core
) -> None:
    _, chat = open_chat(client, chat_core)
    chat.says("the engineer left a cable in my hall")
    bodies = chat.bodies()
    assert "the engineer left a cable in my hall" in bodies
    assert any("passed to the team" in body for body in bodies)


def test_a_retried_post_is_stored_once(client: FlaskClient, chat_core: Core) -> None:
    _, chat = open_chat(client, chat_core)
    same = client_id()
    first = chat.client.post(f"{chat.path}/messages", json={"client_id": same, "text": "hi"})
    again = chat.client.post(f"{chat.path}/messages", json={"client_id": same, "text": "hi"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["duplicate"] is True
    assert chat.bodies().count("hi") == 1


def test_the_no_script_form_posts_and_comes_back_to_the_page(
    client: FlaskClient, chat_core: Core
) -> None:
    _, chat = open_chat(client, chat_core)
    response = client.post(f"{chat.path}/messages", data={"text": "typed without script"})
    assert response.status_code == 303 and response.headers["Location"].endswith(chat.path)
    assert "typed without script" in chat.page().get_data(as_text=True)
    too_long = client.post(f"{chat.path}/messages", data={"text": "x" * 2001})
    assert too_long.status_code == 413
    html = too_long.get_data(as_text=True)
    assert "2,001 characters" in html and "x" * 2001 in html  # the words stay in the box


def test_the_same_contact_on_sms_and_web_chat_is_one_conversation(
    client: FlaskClient, chat_core: Core, channels: dict[str, FakeChannel]
) -> None:
    case_id, chat = open_chat(client, chat_core)
    act(client, case_id, "resolve", resolution="Fixed.")
    chat.poll()
    assert any("Reply YES" in m.body for m in channels["sms"].sent)  # asked by SMS
    assert any("Reply YES" in b for b in chat.bodies())  # and the page shows the question
    chat.post(action="confirm")
    chat.poll()
    thanks = [m for m in channels["sms"].sent if "now closed" in m.body]
    assert thanks == []  # the answer goes back where the customer wrote: the page
    assert any("now closed" in b for b in chat.bodies())


def test_an_sms_template_can_offer_the_chat_link(database_url: str, clock: FrozenClock) -> None:
    overrides = {"sms": {"confirm_request": "Fixed? Tap {{ case.webchat_url }}"}}
    config = parse_config(TEST_CONFIG | {"templates": overrides})
    settings = Settings(database_url=database_url, api_token=API_TOKEN, secret_key="k")
    core = create_core(config, settings, clock=clock)  # SMS in dry-run: it stores what it sends
    client = create_app(core=core).test_client()
    case = open_case(client, auth_header())
    act(client, case["id"], "resolve", resolution="Done.")
    with core.sessions() as session:
        text = session.scalar(select(Message.body).where(Message.template == "confirm_request"))
    assert text is not None
    link = text.removeprefix("Fixed? Tap ")
    assert link.startswith("http://localhost:8000/c/")
    assert client.get(link.removeprefix("http://localhost:8000")).status_code == 200
    core.engine.dispose()


# -- safety ---------------------------------------------------------------------------------


def test_html_from_anyone_is_shown_as_text(client: FlaskClient, chat_core: Core) -> None:
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    case_id, chat = open_chat(client, chat_core, subject=payload)
    chat.says(payload)
    act(client, case_id, "updates", text=payload)
    chat.poll()
    html = chat.page().get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert payload in chat.bodies()  # the API hands the words over as they were written


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"text": ""}, 422, "text"),
        ({"text": "   \n "}, 422, "text"),
        ({"text": "x" * 2001}, 413, "text"),
        ({"text": "nul\u0000byte"}, 422, "text"),
        ({"text": "lone \ud800 surrogate"}, 422, "text"),
        ({"text": 42}, 422, "text"),
        ({"action": "delete"}, 422, "action"),
        ({"action": "rate", "score": 9}, 422, "score"),
        ({"action": "rate", "score": True}, 422, "score"),
        ({"client_id": "short", "text": "hi"}, 422, "client_id"),
        ({"client_id": "../../etc/passwd-xxxxxxxx", "text": "hi"}, 422, "client_id"),
    ],
)
def test_bad_posts_get_a_clear_error_and_store_nothing(
    client: FlaskClient, chat_core: Core, body: dict[str, Any], status: int, field: str
) -> None:
    _, chat = open_chat(client, chat_core)
    response = chat.client.post(f"{chat.path}/messages", json={"client_id": client_id()} | body)
    assert response.status_code == status
    assert response.get_json()["error"]["field"] == field
    assert response.get_json()["error"]["message"]
    assert not any(m["from"] == "customer" for m in chat.poll()["messages"])


def test_a_post_that_is_not_a_json_object_or_too_big_is_refused(
    client: FlaskClient, chat_core: Core
) -> None:
    _, chat = open_chat(client, chat_core)
    url = f"{chat.path}/messages"
    not_object = client.post(url, data="[1, 2]", content_type="application/json")
    assert not_object.status_code == 422
    broken = client.post(url, data="{not json", content_type="application/json")
    assert broken.status_code == 422
    huge = client.post(url, data="x" * 40_000, content_type="application/json")
    assert huge.status_code == 413 and huge.get_json()["error"]["code"] == "too_large"


def test_posting_is_rate_limited_per_link(
    client: FlaskClient, chat_core: Core, clock: FrozenClock
) -> None:
    _, chat = open_chat(client, chat_core)
    for n in range(10):
        assert chat.post(text=f"message {n}").status_code == 201
    refused = chat.post(text="one too many")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert "wait 60 seconds" in refused.get_json()["error"]["message"]
    clock.advance(timedelta(seconds=61))
    assert chat.post(text="one too many").status_code == 201


def test_an_expired_link_gets_a_friendly_410(
    client: FlaskClient, chat_core: Core, clock: FrozenClock
) -> None:
    _, chat = open_chat(client, chat_core)
    clock.advance(timedelta(days=30, seconds=1))  # link_ttl
    page = chat.page()
    assert page.status_code == 410
    html = page.get_data(as_text=True)
    assert "expired" in html and "call 1-800-555-0199" in html and "Traceback" not in html
    api = chat.client.get(f"{chat.path}/messages")
    assert api.status_code == 410 and api.get_json()["error"]["code"] == "link_expired"
    assert chat.post(text="hello").status_code == 410


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # signature
        lambda token: "WzEsMSwwXQ" + token[token.index(".") :],  # someone else's case
        lambda token: "not-a-token",
        lambda token: "x" * 500,
    ],
)
def test_a_forged_link_gets_403(client: FlaskClient, chat_core: Core, mangle: Any) -> None:
    open_case(client, auth_header(), contact={"phone": "+12125550199"})  # case 1: not theirs
    _, chat = open_chat(client, chat_core)
    token = chat.path.removeprefix("/c/")
    forged = ChatLink(client, chat_core, f"http://localhost:8000/c/{mangle(token)}")
    assert forged.page().status_code == 403
    assert "This link does not work" in forged.page().get_data(as_text=True)
    assert client.get(f"{forged.path}/messages").status_code == 403
    assert forged.post(text="hi").status_code == 403


def test_a_revoked_link_gets_410_and_the_new_one_works(
    client: FlaskClient, chat_core: Core
) -> None:
    case_id, chat = open_chat(client, chat_core)
    fresh = act(client, case_id, "webchat/revoke")["webchat_url"]
    assert chat.page().status_code == 410
    assert "replaced" in chat.page().get_data(as_text=True)
    assert chat.post(text="hi").get_json()["error"]["code"] == "link_replaced"
    assert ChatLink(client, chat_core, fresh).page().status_code == 200


def test_without_secret_key_there_are_no_links(
    database_url: str, clock: FrozenClock, config: Any
) -> None:
    core = create_core(
        config, Settings(database_url=database_url, api_token=API_TOKEN), clock=clock
    )
    client = create_app(core=core).test_client()
    case = open_case(client, auth_header())
    assert case["webchat_url"] is None
    page = client.get("/c/anything")
    assert page.status_code == 503 and "SECRET_KEY" not in page.get_data(as_text=True)
    assert client.get("/c/anything/messages").get_json()["error"]["code"] == "not_configured"
    core.engine.dispose()


# -- the widget -----------------------------------------------------------------------------


def test_the_widget_script_and_its_example_page_are_served(client: FlaskClient) -> None:
    script = client.get("/widget.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert script.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    example = client.get("/widget/example")
    assert example.status_code == 200 and 'src="/widget.js"' in example.get_data(as_text=True)
