"""What becomes of a text after it leaves: status callbacks, Twilio's errors, retries, dead
numbers and pacing, with the real twilio Client talking to the fake Twilio."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.domain import MessageStatus, OutboxKind, OutboxStatus
from bot.errors import ChannelError
from bot.outbox.sender import send_due
from bot.store.models import Case, Contact, LogEntry, Message, Outbox
from bot.worker import advance_due_updates
from channels.base import OutboundMessage
from channels.pacing import Pacer
from channels.segments import count_segments
from tests.conftest import (
    LiveApp,
    Phone,
    auth_header,
    later,
    log_events,
    open_case,
    serve_live,
)
from tests.support.fake_twilio import FakeTwilio, signed_post

MARIA = "+12125550101"


def _first_update(live: LiveApp, fake: FakeTwilio, clock: FrozenClock) -> tuple[int, str]:
    """Open a P2 case for Maria and let its first interim update go out; (case id, sid)."""
    case = open_case(live.client, auth_header())
    later(clock, live.core, hours=2)
    [sent] = fake.wait_for(1)
    return int(case["id"]), sent.sid


def _message(live: LiveApp, sid: str) -> Message:
    with live.core.sessions() as session:
        message = session.scalar(select(Message).where(Message.provider_id == sid))
        assert message is not None
        return message


def _contact(live: LiveApp) -> Contact:
    with live.core.sessions() as session:
        return session.scalars(select(Contact)).one()


def _alerts(live: LiveApp) -> list[str]:
    with live.core.sessions() as session:
        return list(session.scalars(select(Outbox.body).where(Outbox.kind == OutboxKind.ALERT)))


def _failure_details(live: LiveApp, case_id: int) -> list[dict[str, object]]:
    with live.core.sessions() as session:
        return [
            entry.detail or {}
            for entry in session.scalars(
                select(LogEntry).where(
                    LogEntry.case_id == case_id, LogEntry.event == "interim_failed"
                )
            )
        ]


# -- status callbacks --------------------------------------------------------------------------


def test_statuses_only_move_forward(
    live: LiveApp, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    _, sid = _first_update(live, fake_twilio, clock)
    assert _message(live, sid).status == MessageStatus.SENT
    assert fake_twilio.callback(sid, "delivered") == 200
    assert _message(live, sid).status == MessageStatus.DELIVERED
    for late in ("sent", "queued", "sending"):
        assert fake_twilio.callback(sid, late) == 200
        assert _message(live, sid).status == MessageStatus.DELIVERED  # never undone


def test_a_report_that_beats_the_senders_bookkeeping_still_lands(live: LiveApp) -> None:
    """Twilio can call back before the worker stored the sid: our id in the URL finds it."""
    open_case(live.client, auth_header(), priority="P1")
    with live.core.sessions.begin() as session:
        message = Message(
            channel="sms",
            direction="out",
            address=MARIA,
            body="hi",
            status="queued",
            at=live.core.clock.now(),
        )
        session.add(message)
        session.flush()
        message_id = message.id
    sid = "SM" + "c" * 32
    form = {"MessageSid": sid, "MessageStatus": "sent", "To": MARIA}
    url = f"{live.url}/sms/status?m={message_id}"
    assert signed_post(url, form, auth_token=live.core.settings.twilio_auth_token).ok
    stored = _message(live, sid)
    assert stored.id == message_id and stored.status == MessageStatus.SENT


def test_a_forged_status_callback_changes_nothing(
    live: LiveApp, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    _, sid = _first_update(live, fake_twilio, clock)
    form = {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "30006"}
    response = signed_post(f"{live.url}/sms/status", form, auth_token="not-the-token")
    assert response.status_code == 403
    assert _message(live, sid).status == MessageStatus.SENT
    assert _contact(live).unreachable == []


def test_a_report_about_an_unknown_message_is_acknowledged(live: LiveApp) -> None:
    form = {"MessageSid": "SM" + "d" * 32, "MessageStatus": "delivered"}
    token = live.core.settings.twilio_auth_token
    assert signed_post(f"{live.url}/sms/status", form, auth_token=token).status_code == 200


def test_undelivered_logs_the_error_code_and_alerts_once(
    live: LiveApp, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    case_id, sid = _first_update(live, fake_twilio, clock)
    fake_twilio.callback(sid, "undelivered", error_code=30003)
    fake_twilio.callback(sid, "undelivered", error_code=30003)  # Twilio may repeat itself
    fake_twilio.callback(sid, "failed", error_code=30003)
    message = _message(live, sid)
    assert message.status == MessageStatus.UNDELIVERED and message.error_code == "30003"
    [detail] = _failure_details(live, case_id)
    assert detail["error_code"] == "30003" and detail["kind"] == "interim"
    [alert] = _alerts(live)
    assert "30003" in alert
    assert _contact(live).unreachable == []  # 30003 (handset off) may pass: keep sending


def test_21610_marks_the_contact_opted_out(
    live: LiveApp, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    case_id, sid = _first_update(live, fake_twilio, clock)
    fake_twilio.callback(sid, "failed", error_code=21610)
    assert _contact(live).opted_out == ["sms"]
    assert log_events(live.core, case_id)[-2:] == ["opted_out", "interim_failed"]
    later(clock, live.core, hours=8, minutes=1)
    assert len(fake_twilio.messages) == 1  # the next update goes to the web chat page instead


@pytest.mark.parametrize("code", [30005, 30006])
def test_a_dead_number_gets_no_more_texts(
    live: LiveApp, fake_twilio: FakeTwilio, clock: FrozenClock, code: int
) -> None:
    _, sid = _first_update(live, fake_twilio, clock)
    fake_twilio.callback(sid, "undelivered", error_code=code)
    assert _contact(live).unreachable == ["sms"]
    Phone(live, fake_twilio, MARIA).texts("STATUS")  # a reply still goes back in TwiML
    later(clock, live.core, hours=8, minutes=1)
    assert len(fake_twilio.messages) == 1


def test_a_new_phone_number_clears_the_dead_one(
    live: LiveApp, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    contact = {"phone": MARIA, "slack_user_id": "U0MARIA"}
    open_case(live.client, auth_header(), contact=contact)
    later(clock, live.core, hours=2)
    fake_twilio.callback(fake_twilio.wait_for(1)[0].sid, "undelivered", error_code=30006)
    assert _contact(live).unreachable == ["sms"]
    open_case(live.client, auth_header(), contact={**contact, "phone": "+12125550199"})
    assert _contact(live).unreachable == []


def test_a_failed_confirmation_request_stops_the_clock(
    live: LiveApp, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    case = open_case(live.client, auth_header())
    response = live.client.post(
        f"/api/v1/cases/{case['id']}/resolve", json={"resolution": "Fixed"}, headers=auth_header()
    )
    assert response.status_code == 200
    later(clock, live.core, seconds=1)
    [ask] = fake_twilio.wait_for(1)
    fake_twilio.callback(ask.sid, "undelivered", error_code=30006)
    later(clock, live.core, hours=100)  # far beyond reminder and auto-close
    with live.core.sessions() as session:
        stored = session.get(Case, case["id"])
        assert stored is not None
        assert stored.status == "resolved"  # never auto-closed without asking
        assert stored.confirm_due_at is None
    [alert] = _alerts(live)
    assert "confirm_request" in alert and "30006" in alert


# -- Twilio's errors when sending --------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 503])
def test_429_and_5xx_are_retried_with_backoff(
    live: LiveApp, fake_twilio: FakeTwilio, clock: FrozenClock, status: int
) -> None:
    open_case(live.client, auth_header())
    fake_twilio.fail_next(status)
    later(clock, live.core, hours=2)
    assert fake_twilio.messages == [] and fake_twilio.attempts == 1
    with live.core.sessions() as session:
        row = session.scalars(select(Outbox)).one()
        assert row.status == OutboxStatus.PENDING and row.not_before > clock.now()
        assert str(status) in (row.last_error or "")
    later(clock, live.core, seconds=5)  # past the first backoff (1-2 s)
    assert len(fake_twilio.wait_for(1)) == 1


def test_a_send_refused_with_21610_opts_the_contact_out(
    live: LiveApp, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    case = open_case(live.client, auth_header())
    fake_twilio.fail_next(400, 21610)
    later(clock, live.core, hours=2)
    assert fake_twilio.attempts == 1  # not retried: it can never work
    assert _contact(live).opted_out == ["sms"]
    [detail] = _failure_details(live, int(case["id"]))
    assert detail["error_code"] == "21610"


def test_retries_give_up_after_max_attempts(
    live: LiveApp, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    case = open_case(live.client, auth_header())
    attempts = live.core.config.worker.max_attempts
    fake_twilio.fail_next(500, times=attempts)
    later(clock, live.core, hours=2)
    for _ in range(attempts):
        later(clock, live.core, minutes=15)
    assert fake_twilio.attempts == attempts and fake_twilio.messages == []
    assert len(_failure_details(live, int(case["id"]))) == 1
    assert len(_alerts(live)) == 1


def test_an_unreachable_twilio_is_retried_and_known_not_to_have_sent(live: LiveApp) -> None:
    channel = live.sms
    assert channel.client is not None
    channel.client.api.base_url = "http://127.0.0.1:9"  # the discard port: nothing listens
    with pytest.raises(ChannelError) as caught:
        channel.send(OutboundMessage("sms", MARIA, "hi", 1, "interim"))
    assert caught.value.retryable and not caught.value.maybe_sent


# -- pacing ------------------------------------------------------------------------------------


def test_each_sender_is_paced_to_its_segments_per_second(
    live: LiveApp, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    waits: list[float] = []
    live.sms.pacer = Pacer(2, clock=lambda: 100.0, sleep=waits.append)
    for number in range(3):
        open_case(live.client, auth_header(), contact={"phone": f"+1212555020{number}"})
    later(clock, live.core, hours=2)
    sent = fake_twilio.wait_for(3)
    # Two segments a second: each text waits for the segments sent before it.
    segments = [count_segments(message.body).segments for message in sent]
    assert waits == [segments[0] / 2, (segments[0] + segments[1]) / 2]


def test_the_pacer_lines_up_one_sender_and_leaves_others_alone() -> None:
    now = [0.0]
    waits: list[float] = []
    pacer = Pacer(4, clock=lambda: now[0], sleep=waits.append)
    assert [pacer.wait("+1555") for _ in range(3)] == [0.0, 0.25, 0.5]
    assert pacer.wait("+1666") == 0.0  # another sender has its own pace
    assert pacer.wait("+1555", cost=2) == 0.75
    now[0] = 10.0
    assert pacer.wait("+1555") == 0.0  # idle time is not saved up into a burst
    assert waits == [0.25, 0.5, 0.75]


@pytest.mark.slow
def test_a_paced_run_hands_back_what_it_cannot_send_inside_the_lease(
    database_url: str, clock: FrozenClock, fake_twilio: FakeTwilio
) -> None:
    with serve_live(database_url, clock, fake_twilio, mps=2) as live:
        lease = timedelta(seconds=1.2)  # a run may take slots within its first 0.6 s
        worker = live.core.config.worker.model_copy(update={"lease": lease})
        live.core.config = live.core.config.model_copy(update={"worker": worker})
        for number in range(4):
            open_case(live.client, auth_header(), contact={"phone": f"+1212555020{number}"})
        clock.advance(timedelta(hours=2))
        advance_due_updates(live.core)
        # Turns at 0, 0.5, 1 and 1.5 s: the third is asked for at 0.5 s, in time, and goes
        # at 1 s (the hand-over checks the lease left then); the fourth would be asked for at
        # 1 s, past the run's end, so it goes back without taking a slot.
        report = send_due(live.core, "test")
        assert report.sent == 3 and len(fake_twilio.messages) == 3
        with live.core.sessions() as session:
            [left] = session.scalars(select(Outbox).where(Outbox.status == "pending")).all()
            assert left.attempts == 0 and left.lease_owner is None
        assert send_due(live.core, "test").sent == 1
