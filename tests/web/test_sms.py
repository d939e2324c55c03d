"""Whole SMS journeys over real HTTP: signed webhooks into the app, the real twilio Client out to
the fake Twilio, and signed status callbacks back."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.clock import FrozenClock
from bot.domain import OutboxKind
from bot.store.models import Case, Message, Outbox
from bot.worker import tick
from tests.conftest import (
    SMS_FROM,
    LiveApp,
    Phone,
    auth_header,
    later,
    log_events,
    open_case,
    serve_live,
)
from tests.support.fake_twilio import FakeTwilio

MARIA = "+12125550101"


def _case(live: LiveApp, **fields: Any) -> dict[str, Any]:
    return open_case(live.client, auth_header(), **fields)


def _message(live: LiveApp, provider_id: str) -> Message:
    with live.core.sessions() as session:
        message = session.scalar(select(Message).where(Message.provider_id == provider_id))
        assert message is not None
        return message


def _message_by_sid(live: LiveApp, sid: str) -> Message:
    with live.core.sessions() as session:
        message = session.scalar(select(Message).where(Message.provider_id == sid))
        assert message is not None
        return message


def _case_row(live: LiveApp, case_id: int) -> Case:
    with live.core.sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case


def _resolve(live: LiveApp, case_id: int) -> None:
    response = live.client.post(
        f"/api/v1/cases/{case_id}/resolve",
        json={"resolution": "We replaced the line card."},
        headers=auth_header(),
    )
    assert response.status_code == 200, response.get_json()


def test_updates_on_cadence_then_yes_closes_the_case(
    live: LiveApp, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    phone = Phone(live, fake_twilio, MARIA)
    case = _case(live)  # P2: first update after 2h, then every 8h
    assert phone.inbox() == []

    later(clock, live.core, hours=2)
    [first] = fake_twilio.wait_for(1)
    assert first.to == MARIA and first.from_ == SMS_FROM
    assert "Next update by" in first.body
    assert first.validity_period == 3600  # a stale interim update is dropped, not sent late
    assert first.status_callback == f"{live.url}/sms/status?m={_message(live, first.sid).id}"

    later(clock, live.core, hours=8)
    assert len(fake_twilio.wait_for(2)) == 2

    _resolve(live, case["id"])
    [ask] = phone.inbox()[-1:]
    assert "Reply YES" in ask
    request = fake_twilio.messages[-1]
    assert request.validity_period is None  # a confirmation request must arrive, however late

    replies = phone.texts("YES")
    assert any("closed" in reply for reply in replies), replies
    assert _case_row(live, case["id"]).status == "closed"
    assert log_events(live.core, case["id"]) == [
        "case_opened",
        "interim_sent",
        "interim_sent",
        "resolution_proposed",
        "confirmation_requested",
        "customer_message",
        "confirmed",
    ]
    [thanks] = phone.texts("5")
    assert "5" in thanks
    assert log_events(live.core, case["id"])[-1] == "csat_received"


def test_the_webhook_only_stores_and_the_worker_answers(
    live: LiveApp, fake_twilio: FakeTwilio
) -> None:
    phone = Phone(live, fake_twilio, MARIA)
    _case(live)
    response = phone.post("STATUS", sid="SM" + "ab" * 16)
    assert response.status_code == 200 and "<Message" not in response.text
    stored = _message_by_sid(live, "SM" + "ab" * 16)
    assert stored.handled_at is None and stored.body == "STATUS"  # kept before any answer
    assert fake_twilio.messages == []

    [answer] = phone.inbox()  # the worker's next run
    assert "being worked on" in answer
    sent = fake_twilio.messages[-1]
    assert sent.status_callback == f"{live.url}/sms/status?m={_message(live, sent.sid).id}"
    assert _message_by_sid(live, "SM" + "ab" * 16).intent == "status"


def test_one_customers_texts_are_answered_in_order(live: LiveApp, fake_twilio: FakeTwilio) -> None:
    phone = Phone(live, fake_twilio, MARIA)
    case = _case(live)
    _resolve(live, case["id"])
    phone.inbox()
    for text in ("YES", "5"):  # both arrive before the worker runs
        assert phone.post(text).status_code == 200
    replies = phone.inbox()
    assert "closed" in replies[0] and "5" in replies[-1]
    assert log_events(live.core, case["id"])[-1] == "csat_received"


def test_reopen_reopens_the_case_and_alerts_the_team(
    live: LiveApp, fake_twilio: FakeTwilio
) -> None:
    phone = Phone(live, fake_twilio, MARIA)
    case = _case(live)
    _resolve(live, case["id"])
    replies = phone.texts("No, it is still broken. REOPEN")
    assert replies and "open again" in replies[0]
    assert _case_row(live, case["id"]).status == "open"
    assert "reopen_requested" in log_events(live.core, case["id"])
    with live.core.sessions() as session:
        alert = session.scalars(select(Outbox).where(Outbox.kind == OutboxKind.ALERT)).one()
    assert "still broken" in alert.body


def test_status_and_help_are_answered(live: LiveApp, fake_twilio: FakeTwilio) -> None:
    phone = Phone(live, fake_twilio, MARIA)
    case = _case(live, subject="Router keeps rebooting")
    [status] = phone.texts("STATUS")
    assert f"#{case['id']}" in status and "Router keeps rebooting" in status
    [help_] = phone.texts("HELP")
    assert "Acme support" in help_ and "1-800-555-0199" in help_ and "STOP" in help_
    [info] = phone.texts("info")
    assert info == help_


def test_stop_mid_case_pauses_sms_and_start_resumes(
    live: LiveApp, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    phone = Phone(live, fake_twilio, MARIA)
    case = _case(live)
    later(clock, live.core, hours=2)
    assert len(phone.inbox()) == 1

    [confirmation] = phone.texts("STOP")
    assert "no more texts" in confirmation
    assert "opted_out" in log_events(live.core, case["id"])
    later(clock, live.core, hours=8)
    assert phone.inbox() == []  # nothing is sent to an opted-out number
    assert phone.texts("STOP") == []  # one confirmation, not one per STOP
    [help_] = phone.texts("HELP")  # HELP is always answered
    assert "Acme support" in help_

    [welcome] = phone.texts("START")
    assert "again" in welcome
    assert log_events(live.core, case["id"]).count("opted_in") == 1
    later(clock, live.core, hours=8)  # due at 04:00 in New York: held for quiet hours
    later(clock, live.core, hours=4)
    assert len(phone.inbox()) == 1


def test_after_stop_updates_go_to_the_contacts_other_channel(
    live: LiveApp, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    phone = Phone(live, fake_twilio, MARIA)
    _case(live, contact={"phone": MARIA, "slack_user_id": "U0MARIA"})
    phone.texts("STOP")
    later(clock, live.core, hours=2)
    assert phone.inbox() == []
    with live.core.sessions() as session:
        channels = session.scalars(
            select(Message.channel).where(Message.template == "interim")
        ).all()
    assert channels == ["slack"]


def test_advanced_opt_out_leaves_the_answer_to_twilio(
    database_url: str, clock: FrozenClock, fake_twilio: FakeTwilio
) -> None:
    with serve_live(database_url, clock, fake_twilio, advanced_opt_out=True) as live:
        phone = Phone(live, fake_twilio, MARIA)
        case = _case(live)
        assert phone.texts("STOP") == []
        assert phone.texts("HELP") == []
        assert phone.texts("UNSTOP") == []
        assert Phone(live, fake_twilio, "+12125550199").texts("HELP") == []  # a stranger too
        events = log_events(live.core, case["id"])
        assert [e for e in events if e.startswith("opted")] == ["opted_out", "opted_in"]


def test_messaging_service_sender(
    database_url: str, clock: FrozenClock, fake_twilio: FakeTwilio
) -> None:
    service = "MG" + "0" * 32
    with serve_live(
        database_url, clock, fake_twilio, **{"from": None, "messaging_service_sid": service}
    ) as live:
        _case(live, priority="P1")
        later(clock, live.core, minutes=30)
        [sent] = fake_twilio.wait_for(1)
        assert sent.messaging_service_sid == service and sent.from_ is None


def test_quiet_hours_hold_sms_until_morning(
    live: LiveApp, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    phone = Phone(live, fake_twilio, MARIA)
    _case(live, priority="P1", contact={"phone": MARIA, "timezone": "America/New_York"})
    later(clock, live.core, hours=11, minutes=30)  # 21:30 in New York: an update is due
    assert phone.inbox() == []
    later(clock, live.core, hours=5)  # 02:30
    assert phone.inbox() == []
    later(clock, live.core, hours=5, minutes=35)  # 08:05
    [morning] = phone.inbox()
    assert "Next update by" in morning


# -- keepposted simulate sms -------------------------------------------------------------------


def _work_until(live: LiveApp, stop: threading.Event) -> None:
    """The server's worker, running beside it as `keepposted dev` runs one."""
    while not stop.wait(0.05):
        tick(live.core, "test")


def test_simulate_sms_plays_the_customer_against_a_running_server(
    live: LiveApp,
    fake_twilio: FakeTwilio,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"public_url: {live.url}\n", encoding="utf-8")
    case = _case(live)
    _resolve(live, case["id"])
    runner = CliRunner()
    monkeypatch.setenv("DATABASE_URL", live.core.settings.database_url)
    stop = threading.Event()
    worker = threading.Thread(target=_work_until, args=(live, stop))
    worker.start()

    def stop_worker() -> None:
        stop.set()
        worker.join()

    request.addfinalizer(stop_worker)

    monkeypatch.setenv("TWILIO_AUTH_TOKEN", fake_twilio.auth_token)
    result = runner.invoke(
        main, ["--config", str(config), "simulate", "sms", "(212) 555-0101", "YES"]
    )
    assert result.exit_code == 0, result.output
    assert "<- Thank you for confirming" in result.output
    assert _case_row(live, case["id"]).status == "closed"
    sid = ["--sid", "SM" + "9" * 32]
    for expected in ("<- Case", "already had"):  # the repeat of a MessageSid changes nothing
        result = runner.invoke(
            main, ["--config", str(config), "simulate", "sms", *sid, MARIA, "STATUS"]
        )
        assert result.exit_code == 0 and expected in result.output, result.output

    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "not-the-servers-token")
    result = runner.invoke(main, ["--config", str(config), "simulate", "sms", MARIA, "REOPEN"])
    assert result.exit_code == 1 and "403" in result.output
    stop.set()
    assert _case_row(live, case["id"]).status == "closed"

    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    result = runner.invoke(main, ["--config", str(config), "simulate", "sms", MARIA, "YES"])
    assert result.exit_code == 2 and "TWILIO_AUTH_TOKEN" in result.output
