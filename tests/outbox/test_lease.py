"""Short leases, renewed while the worker lives: a dead worker's rows are back within one lease,
a live one keeps its rows as long as it works on them, a row whose lease lapsed never goes to
the provider, and a paced backlog claims only what it can send in one run, so an answer on
another channel waits one run at most. Injected clock, fake providers, no sleeps."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain import OutboxKind, OutboxStatus
from bot.engine.contacts import Address
from bot.outbox.lease import Leases, hand_over_margin
from bot.outbox.queue import enqueue
from bot.outbox.sender import _claim, recover_expired_leases, run_seconds, send_due
from bot.store.models import Outbox
from channels.base import OutboundMessage
from tests.support.fakes import FakeChannel

WAIT = 10.0  # seconds an event may take before the test calls it lost (never reached when ok)


@dataclass
class SlotFake(FakeChannel):
    """A paced fake at one message a second (a long code's rate) that may run something when
    its n-th send slot is asked for (the clock moving on, a customer writing in on another
    channel) and records the slots' order."""

    slots: list[str] = field(default_factory=list)
    at_slot: dict[int, Callable[[], object]] = field(default_factory=dict)
    rate: float = 1.0

    def line_rate(self) -> float | None:
        return self.rate

    def wait_turn(self, message: OutboundMessage) -> None:
        self.slots.append(message.body)
        action = self.at_slot.get(len(self.slots))
        if action is not None:
            action()


@pytest.fixture
def channels() -> dict[str, FakeChannel]:
    return {"sms": SlotFake("sms"), "slack": SlotFake("slack"), "webchat": FakeChannel("webchat")}


def _sms(channels: dict[str, FakeChannel]) -> SlotFake:
    sms = channels["sms"]
    assert isinstance(sms, SlotFake)
    return sms


def _queue(core: Core, body: str, *, to: str, kind: OutboxKind = OutboxKind.INTERIM) -> int:
    now = core.clock.now()
    channel = "webchat" if to.startswith("contact:") else "sms"
    with core.sessions.begin() as session:
        message = enqueue(
            session,
            address=Address(channel, to),
            body=body,
            template="test",
            kind=kind,
            now=now,
            not_before=now,
        )
        session.flush()
        return session.scalars(select(Outbox.id).where(Outbox.message_id == message.id)).one()


def _row(core: Core, row_id: int) -> Outbox:
    with core.sessions() as session:
        row = session.get(Outbox, row_id)
        assert row is not None
        return row


def _claimed_by(core: Core, worker: str) -> list[int]:
    with core.sessions.begin() as session:
        return [row.id for row in _claim(session, core, core.clock.now(), worker)]


def test_the_defaults_are_a_short_lease_renewed_three_times_over(core: Core) -> None:
    worker = core.config.worker
    assert worker.lease == timedelta(seconds=15) and worker.renew_every == timedelta(seconds=5)
    assert run_seconds(core) == 5.0  # a run fits in half a lease: no renewal needed for it


def test_a_live_workers_lease_is_renewed_past_its_first_end(core: Core, clock: FrozenClock) -> None:
    row_id = _queue(core, "update", to="+12125550101")
    [claimed] = _claimed_by(core, "alive")
    first_end = _row(core, claimed).lease_until
    leases = Leases(core, "alive")
    leases.hold([row_id])
    lease = core.config.worker.lease
    for _ in range(4):  # a minute of heartbeats, each well inside the lease
        clock.advance(core.config.worker.renew_every)
        assert leases.renew() == 1
    assert recover_expired_leases(core, clock.now()) == 0
    row = _row(core, row_id)
    assert first_end is not None and clock.now() > first_end  # the first lease would be out
    assert (row.status, row.lease_owner) == (OutboxStatus.SENDING, "alive")
    assert row.lease_until == clock.now() + lease
    leases.drop([row_id])  # the run is done with it: no longer renewed
    assert leases.renew() == 0


def test_a_dead_workers_rows_are_sent_by_another_after_one_short_lease(
    core: Core, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> None:
    _queue(core, "update", to="+12125550101")
    assert len(_claimed_by(core, "dead")) == 1  # then SIGKILL: no heartbeat renews it
    lease = core.config.worker.lease
    clock.advance(lease / 2)
    assert send_due(core, "alive").sent == 0  # still the dead worker's
    clock.advance(lease / 2 + timedelta(seconds=1))
    report = send_due(core, "alive")
    assert (report.abandoned, report.sent) == (1, 1)
    assert channels["sms"].bodies_to("+12125550101") == ["update"]
    with core.sessions() as session:
        row = session.scalars(select(Outbox)).one()
    assert (row.status, row.lease_owner, row.attempts) == (OutboxStatus.SENT, "alive", 1)


def test_a_lease_that_ran_out_is_not_renewed(core: Core, clock: FrozenClock) -> None:
    row_id = _queue(core, "update", to="+12125550101")
    _claimed_by(core, "stalled")
    leases = Leases(core, "stalled")
    leases.hold([row_id])
    clock.advance(core.config.worker.lease + timedelta(seconds=1))  # its heartbeat stalled
    assert leases.renew() == 0  # out is out: the row is the next recovery's
    assert recover_expired_leases(core, clock.now()) == 1
    assert _row(core, row_id).status == OutboxStatus.PENDING


@pytest.mark.parametrize(
    "late", ["past its end", "inside the margin"], ids=["lapsed", "nearly-lapsed"]
)
def test_a_row_whose_lease_lapsed_is_never_handed_over(
    core: Core, clock: FrozenClock, channels: dict[str, FakeChannel], late: str
) -> None:
    """The send waits for its slot while no renewal gets through (the database away, the
    heartbeat stalled): by its turn the lease is out, or too nearly out to cover the send.
    The row is not handed over; the next run recovers it and sends it once."""
    row_id = _queue(core, "update", to="+12125550101")
    worker = core.config.worker
    wait = worker.lease + timedelta(seconds=1)
    if late == "inside the margin":
        wait = worker.lease - hand_over_margin(worker) / 2
    _sms(channels).at_slot[1] = lambda: clock.advance(wait)
    report = send_due(core, "stalled")
    assert (report.sent, report.skipped) == (0, 1)
    assert channels["sms"].sent == []
    assert _row(core, row_id).handed_at is None  # never left: free to go again
    clock.advance(worker.lease)
    report = send_due(core, "other")
    assert (report.abandoned, report.sent) == (1, 1)
    assert channels["sms"].bodies_to("+12125550101") == ["update"]
    assert _row(core, row_id).attempts == 1


def test_a_paced_line_claims_only_what_it_can_send_in_one_run(
    core: Core, channels: dict[str, FakeChannel]
) -> None:
    """At 1 message a second and 5-second runs a number claims 5 rows; the others stay queued
    and unleased, free for the next run or another worker."""
    for n in range(40):
        _queue(core, f"update {n}", to=f"+1212555{n:04d}")
    report = send_due(core, "test")
    share = int(_sms(channels).rate * run_seconds(core))
    assert report.sent == share == 5
    with core.sessions() as session:
        left = session.scalars(select(Outbox).where(Outbox.status == OutboxStatus.PENDING)).all()
    assert len(left) == 40 - share
    assert {(row.lease_owner, row.attempts) for row in left} == {(None, 0)}


def test_an_sms_backlog_does_not_delay_a_web_chat_answer_beyond_one_run(
    core: Core, channels: dict[str, FakeChannel]
) -> None:
    """A customer writes on the web chat while a run is sending a backlog of texts: the run
    ends after the few texts its line can send, and the next one answers them first."""
    for n in range(200):
        _queue(core, f"update {n}", to=f"+1212555{n:04d}")
    sms = _sms(channels)
    sms.at_slot[1] = lambda: _queue(core, "answer", to="contact:7", kind=OutboxKind.REPLY)
    first = send_due(core, "test")
    assert first.sent == len(sms.sent) == 5  # not the whole backlog
    assert channels["webchat"].sent == []  # queued after this run's claim
    second = send_due(core, "test")
    assert [m.body for m in channels["webchat"].sent] == ["answer"]
    assert second.sent == 1 + 5


def test_the_heartbeat_renews_in_its_own_thread_until_stopped(
    core: Core, clock: FrozenClock
) -> None:
    row_id = _queue(core, "update", to="+12125550101")
    _claimed_by(core, "alive")
    worker = core.config.worker.model_copy(update={"renew_every": timedelta(milliseconds=10)})
    core.config = core.config.model_copy(update={"worker": worker})
    beats = threading.Semaphore(0)

    class Counted(Leases):
        def renew(self, now: datetime | None = None) -> int:
            renewed = super().renew(now)
            beats.release()
            return renewed

    leases = Counted(core, "alive")
    leases.hold([row_id])
    clock.advance(timedelta(seconds=10))
    leases.start()
    try:
        assert beats.acquire(timeout=WAIT) and beats.acquire(timeout=WAIT)  # it keeps beating
    finally:
        leases.stop()
    assert _row(core, row_id).lease_until == clock.now() + worker.lease
