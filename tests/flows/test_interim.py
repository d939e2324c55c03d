"""Interim updates: cadence, quiet hours, delay notices, missed ETAs, pauses. Time travels; no
test sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.config import Config, QuietHours
from bot.core import Core
from bot.render import Templates
from bot.store.models import Case, LogEntry
from flows.interim import cadence_of, eta_missed, quiet_hours_end
from tests.conftest import START, Customer, later, open_case
from tests.support.fakes import FakeChannel

NEW_YORK = ZoneInfo("America/New_York")
NIGHT = QuietHours(start=time(21), end=time(8))


def at_new_york(hour: int, minute: int = 0, day: int = 23) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=NEW_YORK).astimezone(UTC)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (at_new_york(20, 59), None),
        (at_new_york(21, 0), at_new_york(8, 0, day=24)),
        (at_new_york(23, 30), at_new_york(8, 0, day=24)),
        (at_new_york(3, 0), at_new_york(8, 0)),
        (at_new_york(8, 0), None),
    ],
)
def test_quiet_hours_end_in_the_contacts_zone(local: datetime, expected: datetime | None) -> None:
    assert quiet_hours_end(local, NEW_YORK, NIGHT) == expected


def test_quiet_hours_across_a_daylight_saving_change() -> None:
    # The night of 7-8 March 2026 loses an hour in New York; 08:00 is still 08:00 local.
    night = datetime(2026, 3, 8, 2, 30, tzinfo=UTC)  # 21:30 EST on 7 March
    end = quiet_hours_end(night, NEW_YORK, NIGHT)
    assert end is not None and end.astimezone(NEW_YORK).hour == 8
    assert end == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)  # 08:00 EDT


def test_quiet_hours_off_and_same_day_windows() -> None:
    assert quiet_hours_end(at_new_york(23), NEW_YORK, QuietHours(enabled=False)) is None
    lunch = QuietHours(start=time(12), end=time(13))
    assert quiet_hours_end(at_new_york(12, 30), NEW_YORK, lunch) == at_new_york(13)


def fake_case(**fields: Any) -> Any:
    base = {
        "cadence_every_s": None,
        "priority": "P3",
        "category": None,
        "status": "open",
        "eta": None,
        "eta_missed_at": None,
    }
    return SimpleNamespace(**(base | fields))


def test_cadence_category_beats_priority_beats_default(config: Config) -> None:
    assert cadence_of(fake_case(priority="P2"), config).every == timedelta(hours=8)
    assert cadence_of(fake_case(priority="P2", category="outage"), config).first == timedelta(
        minutes=15
    )
    assert cadence_of(fake_case(priority="P4"), config).every == timedelta(hours=24)
    assert cadence_of(fake_case(cadence_every_s=600), config).every == timedelta(minutes=10)


def test_eta_missed_only_once_and_only_while_open() -> None:
    eta = START
    assert eta_missed(fake_case(eta=eta), START)
    assert not eta_missed(fake_case(eta=eta, eta_missed_at=START), START)
    assert not eta_missed(fake_case(eta=eta, status="resolved"), START)
    assert not eta_missed(fake_case(eta=eta + timedelta(seconds=1)), START)


@pytest.fixture
def maria(core: Core, channels: dict[str, FakeChannel]) -> Customer:
    return Customer(core, channels, "+12125550101")


def interim_count(core: Core, case_id: int) -> int:
    with core.sessions() as session:
        return len(
            session.scalars(
                select(LogEntry.seq).where(
                    LogEntry.case_id == case_id, LogEntry.event == "interim_sent"
                )
            ).all()
        )


def test_updates_arrive_on_the_cadence(
    client: FlaskClient, auth: dict[str, str], core: Core, clock: FrozenClock, maria: Customer
) -> None:
    case = open_case(client, auth, priority="P1")  # first after 30m, then every 2h
    assert case["next_update_at"] == "2026-11-23T15:30:00Z"
    later(clock, core, minutes=29)
    assert maria.inbox() == []
    later(clock, core, minutes=1)
    first = maria.inbox()[0]
    assert first.startswith(f"Update on case #{case['id']} (Internet down)")
    assert "Next update by Mon 23 Nov, 12:30 EST." in first  # 17:30 UTC, in Maria's zone
    later(clock, core, hours=1, minutes=59)
    assert maria.inbox() == []
    later(clock, core, minutes=1)
    assert len(maria.inbox()) == 1
    assert interim_count(core, case["id"]) == 2


def test_a_worker_that_was_down_sends_one_catch_up_update(
    client: FlaskClient, auth: dict[str, str], core: Core, clock: FrozenClock, maria: Customer
) -> None:
    case = open_case(client, auth, priority="P1")
    later(clock, core, hours=5)  # the worker was down: three updates were due
    assert len(maria.inbox()) == 1
    with core.sessions() as session:
        row = session.get(Case, case["id"])
        assert row is not None and row.next_update_at == clock.now() + timedelta(hours=2)


def test_sms_waits_for_the_end_of_the_contacts_quiet_hours(
    client: FlaskClient, auth: dict[str, str], core: Core, clock: FrozenClock, maria: Customer
) -> None:
    clock.set(at_new_york(20, 0))
    open_case(
        client,
        auth,
        priority="P1",
        contact={"name": "Maria", "phone": "+12125550101", "timezone": "America/New_York"},
    )
    later(clock, core, minutes=30)  # 20:30: sent, promising the next after the quiet hours
    assert "Next update by Tue 24 Nov, 08:00 EST." in maria.inbox()[0]
    later(clock, core, hours=2)  # 22:30: quiet, moved to 08:00
    assert maria.inbox() == []
    later(clock, core, hours=9, minutes=29)  # 07:59
    assert maria.inbox() == []
    later(clock, core, minutes=1)  # 08:00
    assert len(maria.inbox()) == 1


def test_quiet_hours_follow_the_contacts_own_zone(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    clock: FrozenClock,
    channels: dict[str, FakeChannel],
) -> None:
    clock.set(at_new_york(15, 0))  # 21:00 in Paris
    open_case(
        client, auth, priority="P1", contact={"phone": "+33612345678", "timezone": "Europe/Paris"}
    )
    later(clock, core, minutes=30)
    assert channels["sms"].bodies_to("+33612345678") == []


def test_waiting_sends_the_reasons_notice_at_once_and_restarts_the_cadence(
    client: FlaskClient, auth: dict[str, str], core: Core, clock: FrozenClock, maria: Customer
) -> None:
    case = open_case(client, auth)
    clock.advance(timedelta(hours=1))
    response = client.post(
        f"/api/v1/cases/{case['id']}/wait",
        json={"reason": "compliance_check", "eta": "2d"},
        headers=auth,
    )
    assert response.get_json()["next_update_at"] == "2026-11-24T00:00:00Z"  # now + 8h
    assert "required compliance check" in maria.inbox()[0]
    later(clock, core, hours=8)
    assert "still waiting on a compliance check" in maria.inbox()[0]
    with core.sessions() as session:
        logged = session.scalars(select(LogEntry.event).where(LogEntry.case_id == case["id"])).all()
    assert "delay_notice_sent" in logged


def test_a_waiting_reason_from_config_uses_its_own_notice(
    client: FlaskClient, auth: dict[str, str], core: Core, maria: Customer
) -> None:
    object.__setattr__(
        core.config,
        "waiting_reasons",
        {
            **core.config.waiting_reasons,
            "parts": type(core.config.waiting_reasons["outage"])(
                label="a part", notice="Case {{ case.label }}: the part is on order."
            ),
        },
    )
    core.templates = Templates(core.config)
    case = open_case(client, auth)
    client.post(f"/api/v1/cases/{case['id']}/wait", json={"reason": "parts"}, headers=auth)
    assert maria.inbox() == [f"Case #{case['id']}: the part is on order."]


def test_a_passed_eta_tells_the_customer_and_alerts_once(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    clock: FrozenClock,
    maria: Customer,
    channels: dict[str, FakeChannel],
) -> None:
    open_case(client, auth, eta="90m", assignee="U0AGENT")
    later(clock, core, minutes=89)
    assert maria.inbox() == []
    later(clock, core, minutes=1)
    assert "taking longer than the time we gave you" in maria.inbox()[0]
    later(clock, core, seconds=1)
    alerts = [m.body for m in channels["slack"].sent if "passed its ETA" in m.body]
    assert len(alerts) == 1 and "<@U0AGENT>" in alerts[0]
    later(clock, core, minutes=10)
    assert maria.inbox() == []


def test_agent_update_sends_now_and_restarts_the_cadence(
    client: FlaskClient, auth: dict[str, str], core: Core, clock: FrozenClock, maria: Customer
) -> None:
    case = open_case(client, auth)  # P2: first after 2h, then 8h
    clock.advance(timedelta(hours=1))
    client.post(
        f"/api/v1/cases/{case['id']}/updates",
        json={"text": "The engineer is on site."},
        headers=auth,
    )
    assert maria.inbox() == [f"Update on case #{case['id']}: The engineer is on site."]
    later(clock, core, hours=7, minutes=59)
    assert maria.inbox() == []
    later(clock, core, minutes=1)
    assert "Latest: The engineer is on site." in maria.inbox()[0]


def test_no_updates_while_paused_resolved_or_closed(
    core: Core,
    clock: FrozenClock,
    maria: Customer,
) -> None:
    from bot.engine import actions

    now = clock.now()
    with core.sessions.begin() as session:
        paused = actions.open_case(
            session, core, subject="A", contact={"phone": "+12125550101"}, actor="agent:U1", now=now
        )
        actions.pause(session, paused, actor="agent:U1", now=now)
        done = actions.open_case(
            session, core, subject="B", contact={"phone": "+12125550101"}, actor="agent:U1", now=now
        )
        actions.close(session, core, done, actor="agent:U1", now=now)
        ids = (paused.id, done.id)
    later(clock, core, days=3)
    assert [m for m in maria.inbox() if "is now closed" not in m] == []  # B's closing notice only
    with core.sessions.begin() as session:
        case = actions.get_case(session, ids[0])
        actions.resume(session, core, case, actor="agent:U1", now=clock.now())
    later(clock, core, hours=24)
    assert len(maria.inbox()) == 1


def test_a_failed_interim_is_logged_and_alerted_and_a_retryable_one_retried(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    clock: FrozenClock,
    channels: dict[str, FakeChannel],
    maria: Customer,
) -> None:
    case = open_case(client, auth, priority="P1")
    channels["sms"].fail_next(2, retryable=True, code="429")
    later(clock, core, minutes=30)
    assert maria.inbox() == []
    later(clock, core, minutes=1)
    later(clock, core, minutes=1)
    assert len(maria.inbox()) == 1  # third try went through
    channels["sms"].fail_next(1, retryable=False, code="30003")
    later(clock, core, hours=2)
    later(clock, core, seconds=1)
    with core.sessions() as session:
        failed = session.scalars(
            select(LogEntry).where(
                LogEntry.case_id == case["id"], LogEntry.event == "interim_failed"
            )
        ).all()
    assert len(failed) == 1 and failed[0].detail["error_code"] == "30003"
    assert any("could not be delivered" in m.body for m in channels["slack"].sent)


def test_an_interim_update_is_not_resent_after_a_crash_mid_send(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    clock: FrozenClock,
    channels: dict[str, FakeChannel],
) -> None:
    """A row a dead worker had handed to the provider may have reached it: interim updates
    are not sent twice; a confirmation request is (it must never be lost)."""
    from bot.outbox.sender import _claim
    from bot.store.models import Outbox
    from bot.worker import advance_due_updates

    interim = open_case(client, auth, priority="P1")
    asked = open_case(client, auth, ref="X", contact={"phone": "+12125550102"})
    client.post(f"/api/v1/cases/{asked['id']}/resolve", json={"resolution": "Done."}, headers=auth)
    clock.advance(timedelta(minutes=30))
    advance_due_updates(core)
    with core.sessions.begin() as session:
        for row in _claim(session, core, clock.now(), "doomed-worker"):
            row.handed_at = clock.now()  # it was handing them over, then it died
    later(clock, core, minutes=3)  # the lease ran out
    assert channels["sms"].bodies_to("+12125550101") == []
    assert len(channels["sms"].bodies_to("+12125550102")) == 1
    with core.sessions() as session:
        statuses = dict(
            session.execute(select(Outbox.kind, Outbox.status).where(Outbox.kind != "alert")).all()
        )
        events = session.scalars(
            select(LogEntry.event).where(LogEntry.case_id == interim["id"])
        ).all()
    assert statuses == {"interim": "failed", "confirm_request": "sent"}
    assert "interim_failed" in events


def test_rows_a_dead_worker_claimed_but_never_handed_over_are_sent_once(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    clock: FrozenClock,
    channels: dict[str, FakeChannel],
) -> None:
    """Claimed, not yet handed to the provider, then the worker died: nothing left, so when
    the lease runs out the update goes back to the queue and is sent, once."""
    from bot.outbox.sender import _claim
    from bot.store.models import Outbox
    from bot.worker import advance_due_updates

    open_case(client, auth, priority="P1")
    clock.advance(timedelta(minutes=30))
    advance_due_updates(core)
    with core.sessions.begin() as session:
        assert len(_claim(session, core, clock.now(), "doomed-worker")) == 1  # then it dies
    lease = core.config.worker.lease.total_seconds()
    later(clock, core, seconds=lease / 2)  # still leased: nobody touches it
    assert channels["sms"].bodies_to("+12125550101") == []
    later(clock, core, seconds=lease)  # the lease ran out
    later(clock, core, seconds=1)
    assert len(channels["sms"].bodies_to("+12125550101")) == 1
    with core.sessions() as session:
        row = session.scalars(select(Outbox).where(Outbox.kind == "interim")).one()
    assert (row.status, row.attempts) == ("sent", 1)
