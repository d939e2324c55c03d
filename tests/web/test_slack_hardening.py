"""POST /slack/events against what Slack never sends: unsigned junk, signed bodies bolt cannot
read, odd shapes in events, commands, clicks and modals, replayed requests, and the log lines
bolt writes about them. The real app and the real bolt over HTTP; only Slack's Web API is the
fake one (tests/support/fake_slack.py).

Whatever arrives: never a 500, nothing stored from a request that is not signed, nothing stored
as garbage, a real DM kept verbatim, a copy of a command or a click acting once, and no
customer's words in a log line at INFO or above."""

from __future__ import annotations

import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from sqlalchemy import func, insert, select

from bot.app import create_app
from bot.clock import FrozenClock
from bot.config import Settings
from bot.core import create_core
from bot.store.migrate import upgrade
from bot.store.models import Case, Message, Note, Outbox, SlackRequestSeen
from bot.web.slack import BOLT_LOGGER, KEPT_FOR, TEXT_LIMIT
from tests.conftest import API_TOKEN, auth_header, log_events
from tests.support.fake_slack import FakeSlack
from tests.support.pg_server import PostgresServer
from tests.support.slack_harness import (
    AGENT,
    ALERTS,
    CUSTOMER,
    SIGNING_SECRET,
    SlackApp,
    Workspace,
    serve_slack,
    signed_headers,
    slack_config,
)

DM = "D" + CUSTOMER[1:]
# Words a customer might write, which must never reach a log line at INFO or above.
SECRET_WORDS = "my card number is taped under the keyboard"
TELLTALES = ("taped under", "keyboard")


def count(app: SlackApp, model: Any) -> int:
    with app.core.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def customer_words(app: SlackApp) -> list[str]:
    """The bodies of every message a customer sent, oldest first."""
    with app.core.sessions() as session:
        found = session.scalars(
            select(Message.body).where(Message.direction == "in").order_by(Message.id)
        )
        return list(found)


def stored(app: SlackApp) -> tuple[int, ...]:
    """How many rows a request could have added."""
    return tuple(count(app, model) for model in (Message, Case, Note, Outbox))


def dm_event(text: Any = "hello", **fields: Any) -> dict[str, Any]:
    ts = f"{time.time():.6f}"
    return {
        "type": "message",
        "channel": DM,
        "channel_type": "im",
        "user": CUSTOMER,
        "text": text,
        "ts": ts,
        "event_ts": ts,
    } | fields


def kept_body(app: SlackApp, ts: str) -> Message | None:
    with app.core.sessions() as session:
        return session.scalar(select(Message).where(Message.provider_id == f"{DM}:{ts}"))


def no_traceback(records: list[logging.LogRecord]) -> None:
    failed = [r for r in records if r.levelno >= logging.ERROR or r.exc_info]
    assert not failed, [r.getMessage() for r in failed]


def open_slack_case(workspace: Workspace) -> None:
    workspace.command(AGENT, f"new <@{CUSTOMER}|dana> Card declined abroad")


def update_modal(workspace: Workspace, fake_slack: FakeSlack) -> dict[str, Any]:
    """Case #1, reopened by its customer; the agent clicked Send update on the alert."""
    open_slack_case(workspace)
    workspace.command(AGENT, "resolve 1 We lifted the travel block.")
    workspace.dm(CUSTOMER, "still broken")
    [alert] = workspace.sent_to(ALERTS)
    workspace.click(AGENT, "alert_update", "1", channel=ALERTS, message=alert)
    view: dict[str, Any] = fake_slack.calls_to("views.open")[-1].params["view"]
    return view


def updates_queued(app: SlackApp) -> int:
    with app.core.sessions() as session:
        found = session.scalar(
            select(func.count()).select_from(Message).where(Message.template == "agent_update")
        )
    return int(found or 0)


# -- 1. nobody signed it: 401 before the body is read ------------------------------------------

ODD_BODIES = {
    "a JSON list": "[1,2,3]",
    "null": "null",
    "truncated JSON": '{"type": "event_callback", "event": {"type": "mess',
    "15,000 nested brackets": "[" * 15_000,
    "a form labelled JSON": "command=%2Fcase&text=help&user_id=UAGENT001",
}


@pytest.mark.parametrize("body", ODD_BODIES.values(), ids=ODD_BODIES.keys())
def test_an_unsigned_odd_body_gets_401_and_no_traceback(
    workspace: Workspace, caplog: pytest.LogCaptureFixture, body: str
) -> None:
    before = stored(workspace.app)
    with caplog.at_level(logging.INFO):
        response = requests.post(
            workspace.endpoint,
            data=body.encode(),
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert stored(workspace.app) == before
    no_traceback(caplog.records)


@pytest.mark.parametrize(
    ("stamp", "signature"),
    [
        ("soon", "v0=" + "0" * 64),
        ("²", "v0=" + "0" * 64),
        ("9" * 5000, "v0=" + "0" * 64),
        ("now", "v0=ÿ"),
        ("now", None),
    ],
    ids=["words", "superscript-two", "5000-digits", "non-ascii-signature", "no-signature"],
)
def test_signature_headers_slack_never_sends_get_401(
    workspace: Workspace, caplog: pytest.LogCaptureFixture, stamp: str, signature: str | None
) -> None:
    body = json.dumps({"type": "event_callback", "event": dm_event(SECRET_WORDS)})
    headers = {"X-Slack-Request-Timestamp": str(int(time.time())) if stamp == "now" else stamp}
    if signature is not None:
        headers["X-Slack-Signature"] = signature
    with caplog.at_level(logging.INFO):
        response = requests.post(
            workspace.endpoint,
            data=body.encode(),
            headers={"Content-Type": "application/json"} | headers,
            timeout=10,
        )
    assert response.status_code == 401
    assert count(workspace.app, Message) == 0
    no_traceback(caplog.records)


def test_a_body_that_is_not_utf8_gets_401(workspace: Workspace) -> None:
    """Slack signs UTF-8 text; slack_sdk's verifier would raise on other bytes."""
    raw = b'{"type": "event_callback", "text": "\xff\xfe"}'
    signed = hmac.new(SIGNING_SECRET.encode(), b"v0:%d:" % int(time.time()) + raw, "sha256")
    response = requests.post(
        workspace.endpoint,
        data=raw,
        headers={
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": str(int(time.time())),
            "X-Slack-Signature": "v0=" + signed.hexdigest(),
        },
        timeout=10,
    )
    assert response.status_code == 401
    assert count(workspace.app, Message) == 0


@pytest.mark.parametrize("secret", ["   ", "\t"])
def test_a_blank_signing_secret_is_not_set_up_not_a_500(
    database_url: str, clock: FrozenClock, secret: str
) -> None:
    with FakeSlack() as fake:
        settings = Settings(
            database_url=database_url,
            api_token=API_TOKEN,
            slack_bot_token=fake.token,
            slack_signing_secret=secret,
            slack_api_url=fake.url,
        )
        core = create_core(slack_config(), settings, clock=clock)
        try:
            body = "command=%2Fcase&text=help&user_id=UAGENT001"
            response = (
                create_app(core=core)
                .test_client()
                .post(
                    "/slack/events",
                    data=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded"}
                    | signed_headers(body, secret="x"),
                )
            )
        finally:
            core.engine.dispose()
    assert response.status_code == 503
    assert "SLACK_SIGNING_SECRET" in response.get_json()["error"]["message"]


# -- 1. signed, but bolt cannot read it: 400 -------------------------------------------------


@pytest.mark.parametrize("body", ODD_BODIES.values(), ids=ODD_BODIES.keys())
def test_a_signed_body_that_is_not_a_slack_object_gets_400(
    workspace: Workspace, caplog: pytest.LogCaptureFixture, body: str
) -> None:
    with caplog.at_level(logging.INFO):
        response = workspace.post(body, "application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_body"
    no_traceback(caplog.records)


@pytest.mark.parametrize(
    "body",
    [
        {"type": "event_callback", "authorizations": "not a list", "event": dm_event()},
        {"type": "event_callback", "user": 5, "event": dm_event()},
        {"type": "event_callback", "event": "a string"},
        {"type": "event_callback", "event": None},
        {"type": "block_actions", "user": {"id": AGENT}, "actions": []},
        {"type": "block_actions", "user": {"id": AGENT}, "actions": ["alert_assign"]},
        {"type": "block_actions", "user": {"id": AGENT}, "actions": [{"action_id": 7}]},
        {"type": "view_submission", "user": {"id": AGENT}, "view": "case_update"},
        {"type": "view_submission", "view": {"callback_id": "x", "type": "workflow_step"}},
        {"type": "shortcut", "callback_id": "x", "response_urls": "nowhere"},
    ],
)
def test_a_signed_body_with_parts_that_are_not_slack_s_gets_400(
    workspace: Workspace, caplog: pytest.LogCaptureFixture, body: dict[str, Any]
) -> None:
    form = urlencode({"payload": json.dumps(body)})
    with caplog.at_level(logging.INFO):
        as_json = workspace.post(json.dumps(body), "application/json")
        as_form = workspace.post(form, "application/x-www-form-urlencoded")
    assert (as_json.status_code, as_form.status_code) == (400, 400), (as_json.text, as_form.text)
    assert count(workspace.app, Message) == 0
    no_traceback(caplog.records)


# -- 2. odd events: 200 (Slack would only retry an error), ignored, never garbage ------------


def test_a_real_dm_is_kept_verbatim(workspace: Workspace) -> None:
    text = "Still nothing 🙁\n\tline two <@U999> & \u202e¿qué? 名前 \r\n" + "x" * 3000
    event = dm_event(text)
    assert workspace.event(event).status_code == 200
    kept = kept_body(workspace.app, event["ts"])
    assert kept is not None and kept.body == text and kept.address == CUSTOMER


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("text", {"a": 1}),
        ("text", ["hello"]),
        ("text", 42),
        ("text", "half a pair \ud800 here"),
        ("text", "a NUL \x00 here"),
        ("text", "a bell \x07 here"),
        ("user", [CUSTOMER]),
        ("user", {"id": CUSTOMER}),
        ("user", "UCUST0001; DROP"),
        ("user", "C0CHANNEL1"),
        ("channel", ["D1"]),
        ("ts", 1763900000.0001),
        ("ts", "1763900000.1:extra"),
    ],
)
def test_a_dm_event_slack_never_sends_is_answered_200_and_not_stored(
    workspace: Workspace, caplog: pytest.LogCaptureFixture, field: str, value: Any
) -> None:
    before = stored(workspace.app)
    with caplog.at_level(logging.INFO):
        response = workspace.event(dm_event(**{field: value}))
    assert response.status_code == 200
    assert stored(workspace.app) == before
    no_traceback(caplog.records)
    assert any("ignored Slack event" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "files", ["a string", [1, "x", None], {"url_private": "https://x"}, 7], ids=repr
)
def test_files_that_are_not_file_objects_are_left_out_and_the_words_kept(
    workspace: Workspace, files: Any
) -> None:
    event = dm_event("here is the photo", files=files)
    assert workspace.event(event).status_code == 200
    kept = kept_body(workspace.app, event["ts"])
    assert kept is not None and kept.body == "here is the photo"
    assert (kept.media_count, kept.media_urls) == (0, None)


def test_file_objects_beside_odd_ones_are_kept(workspace: Workspace) -> None:
    photo = {"id": "F1", "url_private": "https://files.slack.com/p.png"}
    event = dm_event("", subtype="file_share", files=["junk", photo, {"url_private": 5}])
    assert workspace.event(event).status_code == 200
    kept = kept_body(workspace.app, event["ts"])
    assert kept is not None and kept.media_count == 2
    assert kept.media_urls == ["https://files.slack.com/p.png"]


# -- 2. odd commands, clicks and modals: 4xx or the agent told why, never garbage ------------


@pytest.mark.parametrize("odd", ["\x00", "\x1b[31m", "\x08"], ids=["nul", "escape", "backspace"])
def test_a_case_subject_no_keyboard_types_is_refused_with_the_usage_line(
    workspace: Workspace, odd: str
) -> None:
    answer = workspace.command(AGENT, f"new <@{CUSTOMER}|dana> Card{odd} declined")
    assert "Usage: `/case new" in answer["text"] and "no keyboard types" in answer["text"]
    assert count(workspace.app, Case) == 0


def test_a_note_with_nul_is_refused_and_a_tab_is_kept(workspace: Workspace) -> None:
    open_slack_case(workspace)
    refused = workspace.command(AGENT, "note 1 checked\x00 the line")
    assert "Usage: `/case note" in refused["text"]
    assert count(workspace.app, Note) == 0
    workspace.command(AGENT, "note 1 checked\tthe line")
    with workspace.app.core.sessions() as session:
        assert session.scalars(select(Note.text)).all() == ["checked\tthe line"]


def test_a_json_command_whose_text_is_not_text_gets_400(workspace: Workspace) -> None:
    body = {"command": "/case", "user_id": AGENT, "text": {"new": "case"}}
    response = workspace.post(json.dumps(body), "application/json")
    assert response.status_code == 400
    assert count(workspace.app, Case) == 0


@pytest.mark.parametrize(
    "metadata",
    ["", "not json", "[1, 2]", "{}", '{"case": "abc"}', '{"case": 1.5}', '{"case": 10e30}'],
)
def test_modal_metadata_that_is_not_ours_gets_400_and_sends_nothing(
    workspace: Workspace, fake_slack: FakeSlack, metadata: str
) -> None:
    view = update_modal(workspace, fake_slack) | {"private_metadata": metadata}
    before = updates_queued(workspace.app)
    response = workspace.submit(AGENT, view, "An engineer comes tomorrow.")
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "view.private_metadata"
    assert updates_queued(workspace.app) == before


def test_modal_text_over_the_limit_is_refused_under_the_input(
    workspace: Workspace, fake_slack: FakeSlack
) -> None:
    view = update_modal(workspace, fake_slack)
    too_long = workspace.submit(AGENT, view, "x" * (TEXT_LIMIT + 1))
    assert too_long.status_code == 200 and too_long.json()["response_action"] == "errors"
    assert f"at most {TEXT_LIMIT}" in too_long.json()["errors"]["text"]
    assert updates_queued(workspace.app) == 0
    at_the_limit = workspace.submit(AGENT, view, "y" * TEXT_LIMIT)
    assert at_the_limit.status_code == 200 and not at_the_limit.text.strip()
    assert updates_queued(workspace.app) == 1


@pytest.mark.parametrize("text", ["fixed\x00 now", "fixed \ud800 now"])
def test_modal_text_no_keyboard_types_is_refused_under_the_input(
    workspace: Workspace, fake_slack: FakeSlack, text: str
) -> None:
    view = update_modal(workspace, fake_slack)
    response = workspace.submit(AGENT, view, text)
    assert response.status_code == 200 and response.json()["response_action"] == "errors"
    assert "no keyboard types" in response.json()["errors"]["text"]
    assert updates_queued(workspace.app) == 0


def test_a_modal_input_that_is_not_text_gets_400(
    workspace: Workspace, fake_slack: FakeSlack
) -> None:
    view = update_modal(workspace, fake_slack)
    payload = {
        "type": "view_submission",
        "user": {"id": AGENT},
        "view": {
            "callback_id": "case_update",
            "private_metadata": view["private_metadata"],
            "state": {"values": {"text": {"text": {"value": {"not": "text"}}}}},
        },
    }
    assert workspace.interact(payload).status_code == 400
    assert updates_queued(workspace.app) == 0


def click_payload(user: Any, action_id: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": user},
        "container": {"type": "message", "channel_id": DM, "message_ts": "1700000000.000101"},
        "trigger_id": "trigger-1",
        "actions": [
            {"action_id": action_id, "value": value, "action_ts": f"{time.time():.6f}"},
        ],
    } | extra


@pytest.mark.parametrize(
    "payload",
    [
        click_payload(CUSTOMER, "customer_confirm", {"case": 1}),
        click_payload(["U1"], "customer_confirm", "1"),
        click_payload(CUSTOMER, "customer_confirm", "1", container={"channel_id": ["D1"]}),
        click_payload(AGENT, "alert_assign", "two"),
        click_payload(AGENT, "alert_assign", "²"),
        click_payload(AGENT, "alert_update", "1", trigger_id=None),
        click_payload(AGENT, "alert_assign", "99999999999999999999999"),
    ],
)
def test_a_click_slack_never_sends_gets_400_and_changes_nothing(
    workspace: Workspace, payload: dict[str, Any]
) -> None:
    open_slack_case(workspace)
    before = (stored(workspace.app), log_events(workspace.app.core, 1))
    response = workspace.interact(payload)
    assert response.status_code == 400, response.text
    assert (stored(workspace.app), log_events(workspace.app.core, 1)) == before


def test_a_score_button_with_an_odd_value_keeps_the_button_s_own_score(
    workspace: Workspace,
) -> None:
    response = workspace.interact(click_payload(CUSTOMER, "customer_rate_4", "1:<b>junk</b>"))
    assert response.status_code == 200
    assert customer_words(workspace.app) == ["4"]


# -- 3. a replayed command or click acts once --------------------------------------------------


def replay(response: requests.Response) -> requests.Response:
    """The same bytes with the same headers, as someone who caught the request would send."""
    sent = response.request
    return requests.post(sent.url or "", data=sent.body, headers=dict(sent.headers), timeout=10)


def test_a_replayed_command_is_answered_200_and_does_nothing(workspace: Workspace) -> None:
    first = workspace.command_response(AGENT, f"new <@{CUSTOMER}|dana> Card declined abroad")
    assert first.status_code == 200 and "Opened #1" in first.text
    copies = [replay(first) for _ in range(3)]
    assert [(c.status_code, c.text) for c in copies] == [(200, "")] * 3
    assert count(workspace.app, Case) == 1
    assert log_events(workspace.app.core, 1).count("case_opened") == 1


def test_four_concurrent_copies_of_a_command_open_one_case(workspace: Workspace) -> None:
    body = urlencode(
        {
            "command": "/case",
            "user_id": AGENT,
            "team_id": "T0000001",
            "text": f"new <@{CUSTOMER}|dana> Card declined abroad",
        }
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded"} | signed_headers(body)
    answers = all_at_once(
        4, lambda: requests.post(workspace.endpoint, data=body, headers=headers, timeout=10)
    )
    assert sorted(a.text == "" for a in answers) == [False, True, True, True]
    assert all(a.status_code == 200 for a in answers)
    assert count(workspace.app, Case) == 1


def test_a_replayed_modal_submission_sends_one_update(
    workspace: Workspace, fake_slack: FakeSlack
) -> None:
    view = update_modal(workspace, fake_slack)
    first = workspace.submit(AGENT, view, "An engineer comes tomorrow at 9.")
    assert first.status_code == 200
    assert replay(first).status_code == 200
    assert updates_queued(workspace.app) == 1


def test_a_replayed_click_acts_once(workspace: Workspace, fake_slack: FakeSlack) -> None:
    open_slack_case(workspace)
    alert = {"channel_id": ALERTS, "message_ts": "1700000000.000101"}
    first = workspace.interact(click_payload("USUPER001", "alert_assign", "1", container=alert))
    assert first.status_code == 200
    case = workspace.app.client.get("/api/v1/cases/1", headers=auth_header()).get_json()
    assert case["assignee"] == "USUPER001"
    assert replay(first).status_code == 200
    notes = [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("thread_ts")]
    assert len(notes) == 1 and "took #1" in notes[0].params["text"]


def test_events_keep_their_own_deduplication_and_stay_out_of_the_store(
    workspace: Workspace,
) -> None:
    event = dm_event("is it fixed?")
    first = workspace.event(event, event_id="Ev0001")
    assert first.status_code == 200
    after_first = stored(workspace.app)
    assert replay(first).status_code == 200
    assert stored(workspace.app) == after_first
    assert customer_words(workspace.app) == ["is it fixed?"]
    assert count(workspace.app, SlackRequestSeen) == 0


def test_signatures_past_the_window_are_deleted_as_new_ones_come_in(
    workspace: Workspace,
) -> None:
    now = datetime.now(UTC)
    with workspace.app.core.engine.begin() as connection:
        connection.execute(
            insert(SlackRequestSeen),
            [
                {"signature": "v0=" + "1" * 64, "seen_at": now - KEPT_FOR - timedelta(seconds=5)},
                {"signature": "v0=" + "2" * 64, "seen_at": now - timedelta(minutes=1)},
            ],
        )
    response = workspace.command_response(AGENT, "help")
    assert response.status_code == 200
    with workspace.app.core.sessions() as session:
        kept = set(session.scalars(select(SlackRequestSeen.signature)))
    assert kept == {"v0=" + "2" * 64, response.request.headers["X-Slack-Signature"]}


def all_at_once(n: int, call: Callable[[], requests.Response]) -> list[requests.Response]:
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda _: call(), range(n)))


def test_concurrent_copies_of_a_command_open_one_case_on_postgres(
    pg_server: PostgresServer, clock: FrozenClock
) -> None:
    url = pg_server.create_database(f"keepposted_{uuid.uuid4().hex[:16]}")
    upgrade(url)
    with FakeSlack() as fake, serve_slack(url, clock, fake) as app:
        slack = Workspace(app, fake)
        body = urlencode(
            {
                "command": "/case",
                "user_id": AGENT,
                "team_id": fake.team_id,
                "text": f"new <@{CUSTOMER}|dana> Card declined abroad",
            }
        )
        headers = {"Content-Type": "application/x-www-form-urlencoded"} | signed_headers(body)
        answers = all_at_once(
            8, lambda: requests.post(slack.endpoint, data=body, headers=headers, timeout=10)
        )
        assert [a.status_code for a in answers] == [200] * 8
        assert sorted(a.text == "" for a in answers) == [False] + [True] * 7
        assert count(app, Case) == 1
        # The same odd bodies PostgreSQL would refuse outright never reach it.
        refused = slack.command(AGENT, f"new <@{CUSTOMER}|dana> Card\x00 declined")
        assert "no keyboard types" in refused["text"]
        assert slack.event(dm_event("a NUL \x00 here")).status_code == 200
        assert count(app, Case) == 1 and customer_words(app) == []


# -- 4. no customer's words in bolt's log lines above DEBUG ------------------------------------


def words_logged(records: list[logging.LogRecord]) -> list[str]:
    """The records at INFO or above that quote SECRET_WORDS, or any part of them."""
    shown = []
    for record in records:
        text = record.getMessage() + (record.exc_text or "")
        if record.levelno >= logging.INFO and any(part in text for part in TELLTALES):
            shown.append(f"{record.name}: {text[:200]}")
    return shown


def test_a_rejected_request_leaves_its_words_out_of_the_log(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        forged = workspace.dm(CUSTOMER, SECRET_WORDS, secret="not-the-secret")
        stale = workspace.dm(CUSTOMER, SECRET_WORDS, timestamp=int(time.time()) - 6 * 60)
    assert (forged.status_code, stale.status_code) == (401, 401)
    assert any("refused a Slack request" in r.getMessage() for r in caplog.records)
    assert not words_logged(caplog.records)


def test_bolt_s_own_lines_about_a_request_leave_its_words_out(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    """A legacy dialog submission no listener takes: bolt warns with what was submitted."""
    payload = {
        "type": "dialog_submission",
        "callback_id": "old_dialog",
        "user": {"id": CUSTOMER},
        "submission": {"comment": SECRET_WORDS},
    }
    with caplog.at_level(logging.DEBUG):
        response = workspace.interact(payload)
    assert response.status_code == 404  # bolt's answer to a request nothing listens for
    unhandled = [r for r in caplog.records if r.getMessage().startswith("Unhandled request")]
    assert unhandled and unhandled[0].levelno == logging.WARNING
    assert not words_logged(caplog.records)


def test_a_traceback_through_bolt_s_logger_keeps_where_but_not_what(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    """What bolt's default error handler writes: the exception's message may quote the body."""
    bolt = logging.getLogger(BOLT_LOGGER)
    with caplog.at_level(logging.DEBUG):
        try:
            int(SECRET_WORDS)
        except ValueError as exc:
            bolt.exception("Failed to run listener function (error: %s)", exc)
        bolt.debug("request body: %s", SECRET_WORDS)  # DEBUG is asked for, and keeps it
    failed, debug = [r for r in caplog.records if r.name == BOLT_LOGGER]
    assert failed.getMessage().startswith("Failed to run listener function")
    where = failed.exc_text or ""
    assert "ValueError" in where and "int(SECRET_WORDS)" in where  # the line, not the value
    assert not words_logged(caplog.records)
    assert SECRET_WORDS in debug.getMessage()


def test_a_command_whose_text_says_payload_is_still_a_command(workspace: Workspace) -> None:
    """bolt alone reads a form holding the word "payload" as an empty interaction (a 404)."""
    open_slack_case(workspace)
    answer = workspace.command(AGENT, "update 1 The payload of the new router firmware is in.")
    assert "#1" in json.dumps(answer), answer
    assert "The payload of the new router firmware is in." in log_update_texts(workspace)


def log_update_texts(workspace: Workspace) -> list[str]:
    with workspace.app.core.sessions() as session:
        return list(session.scalars(select(Case.latest_update)))
