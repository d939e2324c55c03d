"""At a sender's limit people come first: a customer's answer before confirmation requests,
notices and interim updates, oldest first within a class; a reply queued while a batch is being
sent takes the next slot; team alerts ride their own lane; an interim update the case has moved
past is dropped in the transaction that made it stale. Injected clock, fake providers, no sleeps:
a paced channel here records the order in which it was asked for slots."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain import SYSTEM, MessageStatus, OutboxKind, OutboxStatus
from bot.engine import actions
from bot.engine.contacts import Address
from bot.outbox.priority import URGENCY, Urgency, urgency_of
from bot.outbox.queue import enqueue
from bot.outbox.sender import send_due
from bot.store.models import Case, Message, Outbox
from bot.worker import advance_due_updates
from channels.base import OutboundMessage, SendResult
from tests.conftest import open_case
from tests.support.fakes import FakeChannel

WAIT = 10.0  # seconds an event may take before the test calls it lost (never reached when ok)


@dataclass
class PacedFake(FakeChannel):
    """A paced provider's fake: records each request for a send slot, in order, and may run
    something at a given slot (a customer texting while the batch is being sent); its slots
    (`gate_turn`) or its sends (`gate_send`) may hold until an event is set."""

    slots: list[str] = field(default_factory=list)
    at_slot: dict[int, Callable[[], None]] = field(default_factory=dict)
    gate_turn: threading.Event | None = None
    gate_send: threading.Event | None = None
    sent_event: threading.Event = field(default_factory=threading.Event)

    def wait_turn(self, message: OutboundMessage) -> None:
        self.slots.append(message.body)
        action = self.at_slot.get(len(self.slots))
        if action is not None:
            action()
        if self.gate_turn is not None:
            self.gate_turn.wait(WAIT)

    def send(self, message: OutboundMessage) -> SendResult:
        if self.gate_send is not None:
            self.gate_send.wait(WAIT)
        result = super().send(message)
        self.sent_event.set()
        return result


@pytest.fixture
def channels() -> dict[str, FakeChannel]:
    return {name: PacedFake(name) for name in ("sms", "slack")} | {
        "webchat": FakeChannel("webchat")
    }


def _paced(channels: dict[str, FakeChannel], name: str = "sms") -> PacedFake:
    channel = channels[name]
    assert isinstance(channel, PacedFake)
    return channel


def _queue(core: Core, kind: OutboxKind, body: str, *, to: str, after: float = 0.0) -> None:
    """Queue one SMS of `kind`, due `after` seconds from now (no case: the pure outbox order)."""
    now = core.clock.now()
    with core.sessions.begin() as session:
        enqueue(
            session,
            address=Address("sms", to),
            body=body,
            template="test",
            kind=kind,
            now=now,
            not_before=now + timedelta(seconds=after),
        )


def _number(n: int) -> str:
    return f"+1212555{n:04d}"


def _backlog(core: Core, updates: int) -> None:
    for n in range(updates):
        _queue(core, OutboxKind.INTERIM, f"update {n}", to=_number(n))


def _send_all(core: Core) -> int:
    """Send runs until one sends nothing: a run claims only what a paced line can send in it
    (bot/outbox/sender.py), so a backlog takes several. Returns how many were sent."""
    sent = 0
    while (report := send_due(core, "test")).sent:
        sent += report.sent
    return sent


def test_every_kind_has_a_class_and_the_order_is_people_first() -> None:
    assert set(URGENCY) == set(OutboxKind)
    order = [
        OutboxKind.REPLY,
        OutboxKind.CONFIRM_REQUEST,
        OutboxKind.DELAY_NOTICE,
        OutboxKind.INTERIM,
    ]
    assert [urgency_of(kind) for kind in order] == sorted(urgency_of(kind) for kind in order)
    assert urgency_of(OutboxKind.REMINDER) == urgency_of(OutboxKind.CONFIRM_REQUEST)
    assert urgency_of(OutboxKind.CLOSING_NOTICE) == urgency_of(OutboxKind.DELAY_NOTICE)
    assert urgency_of(OutboxKind.ALERT) == Urgency.TEAM


def test_the_row_stores_its_class_also_when_queued_without_one(core: Core) -> None:
    _queue(core, OutboxKind.REPLY, "answer", to=_number(1))
    now = core.clock.now()
    with core.sessions.begin() as session:  # as bot/engine/alerts.py queues an alert
        session.add(
            Outbox(
                kind=OutboxKind.ALERT,
                channel="slack",
                address="#alerts",
                body="alert",
                not_before=now,
                created_at=now,
            )
        )
    with core.sessions() as session:
        stored = {
            kind: rank for kind, rank in session.execute(select(Outbox.kind, Outbox.priority))
        }
    assert stored == {OutboxKind.REPLY: Urgency.ANSWER, OutboxKind.ALERT: Urgency.TEAM}


def test_under_a_backlog_of_updates_the_reply_goes_first(
    core: Core, channels: dict[str, FakeChannel]
) -> None:
    _backlog(core, 40)
    _queue(core, OutboxKind.REPLY, "your case is open", to=_number(500))
    assert _send_all(core) == 41
    assert _paced(channels).slots[0] == "your case is open"


def test_classes_go_in_order(core: Core, channels: dict[str, FakeChannel]) -> None:
    # Queued least urgent first, so the queue's own order would be the reverse.
    for n, kind in enumerate(
        [
            OutboxKind.INTERIM,
            OutboxKind.CLOSING_NOTICE,
            OutboxKind.DELAY_NOTICE,
            OutboxKind.REMINDER,
            OutboxKind.CONFIRM_REQUEST,
            OutboxKind.REPLY,
        ]
    ):
        _queue(core, kind, str(kind), to=_number(n))
    _send_all(core)
    assert _paced(channels).slots == [
        "reply",
        "reminder",
        "confirm_request",
        "closing_notice",
        "delay_notice",
        "interim",
    ]


def test_oldest_first_within_a_class(
    core: Core, channels: dict[str, FakeChannel], clock: FrozenClock
) -> None:
    _queue(core, OutboxKind.INTERIM, "due last", to=_number(1), after=30)
    _queue(core, OutboxKind.INTERIM, "due first", to=_number(2), after=10)
    _queue(core, OutboxKind.INTERIM, "due second", to=_number(3), after=20)
    _queue(core, OutboxKind.INTERIM, "due second too, queued later", to=_number(4), after=20)
    clock.advance(timedelta(minutes=1))
    send_due(core, "test")
    assert _paced(channels).slots == [
        "due first",
        "due second",
        "due second too, queued later",
        "due last",
    ]


def test_a_reply_queued_while_a_batch_is_sent_takes_the_next_slot(
    core: Core, channels: dict[str, FakeChannel]
) -> None:
    """The batch of updates is claimed; the customer texts while the first is waiting for its
    slot; the answer goes in the slot after it, not after the whole batch."""
    _backlog(core, 50)
    sms = _paced(channels)
    sms.at_slot[1] = lambda: _queue(core, OutboxKind.REPLY, "the answer", to=_number(900))
    assert _send_all(core) == 51
    assert sms.slots[:2] == ["update 0", "the answer"]
    assert sms.slots[2:] == [f"update {n}" for n in range(1, 50)]


def test_a_customers_messages_still_go_in_class_order_one_at_a_time(
    core: Core, channels: dict[str, FakeChannel]
) -> None:
    _queue(core, OutboxKind.INTERIM, "update", to=_number(1))
    _queue(core, OutboxKind.REPLY, "answer", to=_number(1))
    send_due(core, "test")
    assert channels["sms"].bodies_to(_number(1)) == ["answer", "update"]


def _alert(core: Core) -> None:
    now = core.clock.now()
    with core.sessions.begin() as session:
        session.add(
            Outbox(
                kind=OutboxKind.ALERT,
                channel="slack",
                address="#alerts",
                body="alert",
                not_before=now,
                created_at=now,
            )
        )


def test_an_alert_does_not_wait_for_sms_pacing(
    core: Core, channels: dict[str, FakeChannel]
) -> None:
    """Every SMS slot holds until the alert is on Slack: it can only be there if it did not
    queue behind them."""
    slack, sms = _paced(channels, "slack"), _paced(channels)
    sms.gate_turn = slack.sent_event
    _backlog(core, 20)
    _alert(core)
    assert _send_all(core) == 21
    assert [m.body for m in slack.sent] == ["alert"]
    assert len(sms.sent) == 20


def test_sms_does_not_wait_for_a_slow_slack_post(
    core: Core, channels: dict[str, FakeChannel]
) -> None:
    """The Slack post holds until an SMS has gone: it can only go if SMS did not wait for it."""
    slack, sms = _paced(channels, "slack"), _paced(channels)
    slack.gate_send = sms.sent_event
    _alert(core)
    _queue(core, OutboxKind.REPLY, "answer", to=_number(1))
    report = send_due(core, "test")
    assert report.sent == 2
    assert [m.body for m in sms.sent] == ["answer"]


# -- no stale updates --------------------------------------------------------------------------


def _case_with_update_queued(
    core: Core, clock: FrozenClock, client: FlaskClient, auth: dict[str, str]
) -> int:
    """A P2 case (first update after 2 h) whose first interim update is queued, not yet sent."""
    case_id = int(open_case(client, auth)["id"])
    send_due(core, "test")  # whatever opening the case sends
    clock.advance(timedelta(hours=2))
    assert advance_due_updates(core) == 1
    assert _interims(core) == [OutboxStatus.PENDING]
    return case_id


def _interims(core: Core) -> list[OutboxStatus]:
    with core.sessions() as session:
        return list(
            session.scalars(
                select(Outbox.status).where(Outbox.kind == OutboxKind.INTERIM).order_by(Outbox.id)
            )
        )


def _skipped_messages(core: Core) -> int:
    with core.sessions() as session:
        return len(
            session.scalars(select(Message).where(Message.status == MessageStatus.SKIPPED)).all()
        )


def _move(core: Core, case_id: int, move: Callable[..., None], **fields: object) -> None:
    with core.sessions.begin() as session:
        case = actions.get_case(session, case_id, lock=True)
        move(session, core, case, actor=SYSTEM, now=core.clock.now(), **fields)


def _pause(session: Session, core: Core, case: Case, *, actor: str, now: datetime) -> None:
    actions.pause(session, case, actor=actor, now=now)  # the one move that needs no core


@pytest.mark.parametrize(
    ("move", "fields"),
    [
        (actions.resolve, {"resolution": "We replaced the line card."}),
        (actions.put_waiting, {"reason": "third_party"}),
        (_pause, {}),
        (actions.close, {}),
    ],
    ids=["resolved", "waiting", "paused", "closed"],
)
def test_a_queued_update_is_dropped_when_the_case_moves_on(
    core: Core,
    clock: FrozenClock,
    client: FlaskClient,
    auth: dict[str, str],
    channels: dict[str, FakeChannel],
    move: Callable[..., None],
    fields: dict[str, object],
) -> None:
    case_id = _case_with_update_queued(core, clock, client, auth)
    _move(core, case_id, move, **fields)
    assert _interims(core) == [OutboxStatus.SKIPPED]  # in the move's own transaction
    assert _skipped_messages(core) == 1
    send_due(core, "test")
    assert "interim" not in [m.kind for m in channels["sms"].sent]


def test_a_queued_update_is_replaced_by_the_next_one(
    core: Core,
    clock: FrozenClock,
    client: FlaskClient,
    auth: dict[str, str],
    channels: dict[str, FakeChannel],
) -> None:
    _case_with_update_queued(core, clock, client, auth)
    clock.advance(timedelta(hours=8))
    assert advance_due_updates(core) == 1
    assert _interims(core) == [OutboxStatus.SKIPPED, OutboxStatus.PENDING]
    send_due(core, "test")
    assert [m.kind for m in channels["sms"].sent].count("interim") == 1  # not two back to back


def test_an_update_queued_in_the_same_transaction_is_replaced_too(
    core: Core, clock: FrozenClock, client: FlaskClient, auth: dict[str, str]
) -> None:
    """The look for a case's waiting updates skips the session's flush unless the session
    holds one of the case's updates still unwritten: then it must see it."""
    case_id = int(open_case(client, auth)["id"])
    now = core.clock.now()
    with core.sessions.begin() as session:
        for body in ("older news", "newer news"):
            enqueue(
                session,
                address=Address("sms", _number(1)),
                body=body,
                template="interim",
                kind=OutboxKind.INTERIM,
                now=now,
                case_id=case_id,
            )
    with core.sessions() as session:
        rows = session.execute(
            select(Outbox.body, Outbox.status).where(Outbox.kind == OutboxKind.INTERIM)
        ).all()
    assert sorted(rows) == [
        ("newer news", OutboxStatus.PENDING),
        ("older news", OutboxStatus.SKIPPED),
    ]


def test_an_update_already_handed_to_the_provider_is_left_alone(
    core: Core, clock: FrozenClock, client: FlaskClient, auth: dict[str, str]
) -> None:
    """Once handed over it may have reached the customer: the record must say so."""
    case_id = _case_with_update_queued(core, clock, client, auth)
    with core.sessions.begin() as session:
        row = session.scalars(select(Outbox).where(Outbox.kind == OutboxKind.INTERIM)).one()
        row.status, row.handed_at = OutboxStatus.SENDING, core.clock.now()
    _move(core, case_id, actions.resolve, resolution="Fixed.")
    assert _interims(core) == [OutboxStatus.SENDING]


def test_the_slot_of_an_update_dropped_while_it_waited_goes_to_the_next_row(
    core: Core,
    clock: FrozenClock,
    client: FlaskClient,
    auth: dict[str, str],
    channels: dict[str, FakeChannel],
) -> None:
    """At the carrier's limit a slot spent on an update that will not go is capacity lost: the
    case resolves while its update waits for its slot, so the slot goes to the next message,
    the confirmation request the resolve queued."""
    case_id = _case_with_update_queued(core, clock, client, auth)
    _queue(core, OutboxKind.INTERIM, "first", to=_number(900), after=-60)
    _queue(core, OutboxKind.INTERIM, "last", to=_number(901))
    sms = _paced(channels)  # slots: "first", then the case's update, during which it resolves
    sms.at_slot[2] = lambda: _move(core, case_id, actions.resolve, resolution="Fixed.")
    report = send_due(core, "test")
    assert _interims(core)[0] == OutboxStatus.SKIPPED
    # The second slot was the update's: the confirmation request went in it, with no wait of
    # its own, before "last" (sends run side by side, so the order they end in is not this).
    assert sms.slots[0] == "first" and sms.slots[1].startswith("Update on case #1")
    assert sms.slots[2] == "last"
    [asked] = [m.body for m in sms.sent if m.body not in ("first", "last")]
    assert asked.startswith("Case #1 (Internet down) should now be fixed")
    assert len(sms.sent) == 3  # one slot for each message that really went
    assert report.skipped == 1
