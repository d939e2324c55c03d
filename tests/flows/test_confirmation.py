"""The confirmation flow as conversations: a customer's words in, the bot's answers out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain import LogEvent
from bot.store.models import Message
from tests.conftest import (
    Customer,
    case_of,
    later,
    log_events,
    open_case,
    resolved_case,
    verify_dialog,
)
from tests.support.fakes import FakeChannel

PHONE = "+12125550101"


@pytest.fixture
def maria(core: Core, channels: dict[str, FakeChannel]) -> Customer:
    return Customer(core, channels, PHONE)


def test_yes_closes_the_case_thanks_and_asks_for_a_score(
    client: FlaskClient, auth: dict[str, str], core: Core, maria: Customer
) -> None:
    case_id = resolved_case(client, auth)
    assert "Reply YES if this is fixed or REOPEN if not." in maria.inbox()[-1]
    verify_dialog(
        maria,
        [
            ("Yes, all working. Thanks!", ["Thank you for confirming", "Reply with a number"]),
            ("4", ["Thanks for your feedback (4/5)"]),
        ],
    )
    case = case_of(core, case_id)
    assert (case.status, case.close_reason, case.csat_score) == ("closed", "confirmed", 4)
    assert log_events(core, case_id) == [
        "case_opened",
        "resolution_proposed",
        "confirmation_requested",
        "customer_message",
        "confirmed",
        "customer_message",
        "csat_received",
    ]


def test_low_score_alerts_the_team(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    maria: Customer,
    channels: dict[str, FakeChannel],
) -> None:
    resolved_case(client, auth)
    maria.says("YES")
    maria.says("1")
    assert any("CSAT score of 1/5" in m.body for m in channels["slack"].sent)


def test_reopen_returns_the_case_alerts_with_the_words_and_resumes_updates(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    clock: FrozenClock,
    maria: Customer,
    channels: dict[str, FakeChannel],
) -> None:
    case_id = resolved_case(client, auth, assignee="U0AGENT")
    verify_dialog(maria, [("no, the internet is still down", ["is open again"])])
    case = case_of(core, case_id)
    assert (case.status, case.reopen_count) == ("open", 1)
    alert = channels["slack"].sent[-1]
    assert alert.to == "#alerts"
    assert "no, the internet is still down" in alert.body and "<@U0AGENT>" in alert.body
    assert log_events(core, case_id)[-3:] == ["customer_message", "reopen_requested", "reopened"]
    later(clock, core, hours=2)  # P2 first_after: the cadence resumes
    assert "Update on case" in maria.inbox()[-1]


def test_no_answer_gets_one_reminder_then_auto_closes(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    clock: FrozenClock,
    maria: Customer,
) -> None:
    case_id = resolved_case(client, auth)
    maria.inbox()
    later(clock, core, hours=23)
    assert maria.inbox() == []
    later(clock, core, hours=1)
    assert "Is case" in maria.inbox()[0]
    later(clock, core, hours=47)
    assert case_of(core, case_id).status == "resolved"
    later(clock, core, hours=1, seconds=1)
    assert case_of(core, case_id).status == "closed"
    # One reminder only; then the customer is told the case closed and how to reopen it.
    [closing] = maria.inbox()
    assert "is now closed, as we did not hear back" in closing and "REOPEN within 7 days" in closing
    assert log_events(core, case_id)[-2:] == ["reminder_sent", "auto_closed"]


def test_a_case_is_never_auto_closed_without_the_customer_being_asked(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    clock: FrozenClock,
    channels: dict[str, FakeChannel],
) -> None:
    channels["sms"].fail_next(1, retryable=False, code="30006")
    case_id = resolved_case(client, auth)
    later(clock, core, days=10)
    later(clock, core, seconds=1)  # the alert about the failure goes out on the next run
    assert case_of(core, case_id).status == "resolved"
    assert LogEvent.AUTO_CLOSED not in log_events(core, case_id)
    assert LogEvent.INTERIM_FAILED in log_events(core, case_id)
    assert any("could not be delivered" in m.body for m in channels["slack"].sent)


def test_reopen_after_closing_works_inside_the_window_only(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    clock: FrozenClock,
    maria: Customer,
) -> None:
    first = resolved_case(client, auth, ref="A-1")
    maria.says("YES")
    clock.advance(timedelta(days=6))
    verify_dialog(maria, [("REOPEN", ["is open again"])])
    assert case_of(core, first).status == "open"

    second = resolved_case(client, auth, ref="A-2", subject="Slow speeds")
    maria.says(f"YES {second}")
    clock.advance(timedelta(days=8))
    verify_dialog(maria, [(f"REOPEN {second}", ["closed too long ago"])])
    assert case_of(core, second).status == "closed"


def test_unclear_reply_is_kept_flagged_and_clarified_once_per_status(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    maria: Customer,
    channels: dict[str, FakeChannel],
) -> None:
    case_id = resolved_case(client, auth)
    verify_dialog(
        maria,
        [
            ("can you call me tomorrow at 5", ["Sorry, we did not understand"]),
            ("hmm", []),
        ],
    )
    with core.sessions() as session:
        kept = session.scalars(
            select(Message.body).where(Message.case_id == case_id, Message.direction == "in")
        ).all()
    assert kept == ["can you call me tomorrow at 5", "hmm"]
    alerts = [m.body for m in channels["slack"].sent]
    assert sum("can you call me tomorrow at 5" in a for a in alerts) == 1
    assert case_of(core, case_id).status == "resolved"


def test_several_cases_awaiting_confirmation_are_asked_which(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    maria: Customer,
) -> None:
    one = resolved_case(client, auth, ref="Z-1", subject="Internet down")
    two = resolved_case(client, auth, ref="Z-2", subject="Double charge")
    verify_dialog(
        maria,
        [
            ("yes", [f"#{one} Internet down\n#{two} Double charge"]),
            (f"yes #{two}", [f"Case #{two} is now closed", "Reply with a number"]),
        ],
    )
    assert case_of(core, one).status == "resolved"
    assert case_of(core, two).status == "closed"


def test_status_and_help(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    maria: Customer,
) -> None:
    open_case(client, auth, eta="2026-11-24T17:00:00Z")
    verify_dialog(
        maria,
        [
            ("STATUS", ["is being worked on. Expected by Tue 24 Nov, 12:00 EST"]),
            (
                "help",
                [
                    "Acme support: updates about your support case. Call 1-800-555-0199. "
                    "Reply STOP to stop texts"
                ],
            ),
        ],
    )


def test_stop_opts_out_and_nothing_more_is_texted_until_start(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    clock: FrozenClock,
    maria: Customer,
    channels: dict[str, FakeChannel],
) -> None:
    case_id = int(open_case(client, auth)["id"])
    verify_dialog(maria, [("STOP", ["no more texts"])])
    later(clock, core, hours=3)
    assert maria.inbox() == []  # the update went to the web chat page instead
    assert channels["webchat"].sent[-1].body.startswith("Update on case")
    verify_dialog(maria, [("START", ["again"])])
    later(clock, core, hours=8)  # due at 21:00 in New York: quiet hours hold it
    assert maria.inbox() == []
    later(clock, core, hours=11)  # 08:00 in New York
    assert "Update on case" in maria.inbox()[-1]
    assert [e for e in log_events(core, case_id) if e.startswith("opted")] == [
        "opted_out",
        "opted_in",
    ]


def test_a_repeated_webhook_is_stored_and_acted_on_once(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    maria: Customer,
) -> None:
    case_id = resolved_case(client, auth)
    first = maria.says("YES", sid="SM-duplicate")
    again = maria.says("YES", sid="SM-duplicate")
    assert not first.duplicate and again.duplicate
    with core.sessions() as session:
        count = session.scalar(
            select(func.count()).select_from(Message).where(Message.provider_id == "SM-duplicate")
        )
    assert count == 1
    assert log_events(core, case_id).count("confirmed") == 1


def test_unknown_sender_is_kept_and_answered_once_a_day(
    core: Core,
    channels: dict[str, FakeChannel],
    clock: FrozenClock,
) -> None:
    stranger = Customer(core, channels, "+12125550199")
    verify_dialog(
        stranger,
        [
            ("hello?", ["could not find an open case"]),
            ("is anyone there", []),
        ],
    )
    clock.advance(timedelta(hours=25))
    verify_dialog(stranger, [("hello again", ["could not find an open case"])])
    with core.sessions() as session:
        kept = session.scalars(
            select(Message.body).where(Message.address == "+12125550199", Message.direction == "in")
        ).all()
        assert kept == ["hello?", "is anyone there", "hello again"]
        assert (
            session.scalar(
                select(func.count()).select_from(Message).where(Message.case_id.is_not(None))
            )
            == 0
        )


def test_media_without_text_and_very_long_text_are_kept(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    maria: Customer,
) -> None:
    case_id = resolved_case(client, auth)
    maria.says("", media=1)
    essay = "The connection drops every evening. " * 200
    maria.says(essay)
    with core.sessions() as session:
        bodies = session.scalars(
            select(Message.body).where(Message.case_id == case_id, Message.direction == "in")
        ).all()
    assert bodies == ["", essay]
    assert case_of(core, case_id).status == "resolved"


def test_stop_from_an_unknown_number_is_remembered_for_later_cases(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    clock: FrozenClock,
    channels: dict[str, FakeChannel],
) -> None:
    stranger = Customer(core, channels, "+12125550177")
    verify_dialog(stranger, [("STOP", ["no more texts"]), ("HELP", ["Acme support"])])
    open_case(client, auth, contact={"name": "Late", "phone": "+1 212 555 0177"})
    later(clock, core, hours=3)
    assert stranger.inbox() == []  # the case's updates do not text a number that said STOP
    contact = client.get("/api/v1/cases/1", headers=auth).get_json()["contact"]
    assert contact["opted_out"] == ["sms"]


def test_help_from_an_unknown_number_is_always_answered(
    core: Core,
    channels: dict[str, FakeChannel],
) -> None:
    stranger = Customer(core, channels, "+12125550188")
    verify_dialog(
        stranger,
        [
            ("hi", ["could not find an open case"]),
            ("HELP", ["Acme support: updates about your support case"]),
            ("help", ["Acme support: updates about your support case"]),
        ],
    )
