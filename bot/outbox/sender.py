"""The sender: hands queued outbox rows (bot/outbox/queue.py) to their channels' senders.

Any number of workers share the outbox: each claims a batch with `FOR UPDATE SKIP LOCKED` and a
lease, and marks each row `handed_at` just before giving it to the provider. What a crash mid-send
does depends on that mark and on the kind of message. A row whose lease ran out unhanded never
left, and simply goes back to the queue. A handed one may or may not have reached the provider:
an interim update or delay notice is then marked failed and not resent (the next one comes on
cadence, and no customer gets the same update twice), while a confirmation request, reminder or
reply is sent again (a repeat is better than a case that auto-closes without the customer ever
being asked). README, "Running at scale", states this per kind of message.

Leases are short and renewed while the worker lives (bot/outbox/lease.py), so a dead worker's
rows are back in the queue within one lease. A run is short too (`worker.run_for`): a paced line
claims about what it can send in that time, so the next run, a moment later, picks up whatever
came meanwhile on any channel, and a worker that dies mid-run holds little.

Rows are claimed most urgent first (bot/outbox/priority.py: a customer's answer before
confirmation requests, notices and then interim updates), and each channel sends its share in
that order, re-checking for more urgent rows before each paced send (bot/outbox/lanes.py).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import BindParameter, ColumnElement, bindparam, exists, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from bot.domain import (
    AT_MOST_ONCE,
    PROACTIVE,
    CaseStatus,
    MessageStatus,
    OutboxKind,
    OutboxStatus,
)
from bot.engine.contacts import can_receive
from bot.errors import ChannelError
from bot.outbox import edits
from bot.outbox.bookkeeping import Bookkeeper
from bot.outbox.delivery import record_failure
from bot.outbox.lanes import ChannelLane, Claimed, Look
from bot.outbox.lease import Leases
from bot.outbox.priority import Urgency
from bot.store.db import retry_unreachable
from bot.store.models import Message, Outbox
from channels.base import OutboundMessage
from channels.catalog import traits
from flows.interim import UPDATING_STATES

if TYPE_CHECKING:
    from bot.core import Core  # annotations only: the engine must not load the registry


# A paced line claims at least this many rows a run, whatever its rate says: a rate known only
# roughly (a messaging service's) should not leave the line idle between runs.
AT_LEAST_PER_LINE = 3
# A lane looks for dropped and more urgent rows after every slot (ChannelLane.look), except on a
# line this fast, where a slot is worth less than the look's millisecond of CPU: there it looks
# every LOOK_EVERY_ON_FAST_LINES, so an answer waits that much longer at most, and a dropped
# update found only at its hand-over costs one of its hundreds of slots a second.
FAST_LINE = 50.0  # messages a second
LOOK_EVERY_ON_FAST_LINES = 0.02  # seconds

OUTCOMES = ("sent", "failed", "retried", "skipped", "abandoned")


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    abandoned: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, outcome: str) -> None:
        with self._lock:  # every channel's send threads report here
            setattr(self, outcome, getattr(self, outcome) + 1)

    @property
    def handled(self) -> int:
        """Rows this run settled one way or another: none means nothing was due."""
        return self.sent + self.failed + self.retried + self.skipped

    def merge(self, other: SendReport) -> None:
        for name in OUTCOMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def backoff(
    attempts: int,
    first: timedelta = timedelta(seconds=2),
    rand: Callable[[], float] = random.random,
) -> timedelta:
    """Exponential backoff with equal jitter: about `first`, then twice that, and so on, each
    between half and all of its ceiling (so retries from many workers spread out), capped at
    10 minutes."""
    ceiling = min(first.total_seconds() * 2.0 ** (attempts - 1), 600.0)
    return timedelta(seconds=ceiling / 2 + rand() * ceiling / 2)


def _claim(
    session: Session,
    core: Core,
    now: datetime,
    worker_id: str,
    *only: ColumnElement[bool],
    limit: int | None = None,
    fits: Callable[[list[Outbox]], list[Outbox]] | None = None,
) -> list[Outbox]:
    """Lease due rows, the most urgent class first and the oldest due first within it
    (ix_outbox_claim); `only` narrows them (one channel's more urgent rows), `fits` keeps
    those of the batch that can go now (the others are left as they were, and their row locks
    go with this transaction)."""
    rows = list(
        session.scalars(
            select(Outbox)
            .where(*_queued_due(now), *only)
            .order_by(Outbox.priority, Outbox.not_before, Outbox.id)
            .limit(limit or core.config.worker.batch_size)
            .with_for_update(skip_locked=True)
            # The checks before sending read each row's message, contact and case: load the
            # batch's in three queries rather than three per row.
            .options(
                selectinload(Outbox.message).selectinload(Message.contact),
                selectinload(Outbox.case),
            )
        )
    )
    if fits is not None:
        rows = fits(rows)
    for row in rows:
        row.status = OutboxStatus.SENDING
        row.lease_owner = worker_id
        row.lease_until = now + core.config.worker.lease
        row.handed_at = None
        row.attempts += 1
    return rows


def recover_expired_leases(core: Core, now: datetime) -> int:
    """Rows left `sending` by a worker that died or stalled: back to the queue if they never
    left; if they were handed to the provider, resend, or fail an interim update (see top)."""
    with core.sessions.begin() as session:
        rows = list(
            session.scalars(
                select(Outbox)
                .where(Outbox.status == OutboxStatus.SENDING, Outbox.lease_until < now)
                .with_for_update(skip_locked=True)
                .options(selectinload(Outbox.message))
            )
        )
        for row in rows:
            if row.handed_at is not None and row.kind in AT_MOST_ONCE:
                _fail(
                    session,
                    core,
                    row,
                    now,
                    "the worker stopped while handing it to the provider; not resent so the "
                    "customer never gets the same update twice",
                    error_code="lease_expired",
                )
                continue
            if row.handed_at is None:  # never tried: this attempt does not count
                row.attempts = max(row.attempts - 1, 0)
            row.status, row.lease_owner, row.lease_until = OutboxStatus.PENDING, None, None
            row.handed_at = None
        return len(rows)


def run_seconds(core: Core) -> float:
    """How long one send run may hand rows over: `worker.run_for`, and at most half the lease,
    so the rows a run holds stay covered by their claim's own lease even when no renewal gets
    through (the database away)."""
    worker = core.config.worker
    return min(worker.run_for.total_seconds(), worker.lease.total_seconds() / 2)


def send_while_due(core: Core, worker_id: str, leases: Leases | None = None) -> SendReport:
    """Send runs back to back while they find work, for up to one lease: the worker's send job.

    A run is short (`run_seconds`), and a pause between two runs would leave a paced number
    idle while texts wait: at the carrier's limit that is capacity lost for good. The bound
    hands the job back to the scheduler now and then, so a worker that is asked to stop does so
    within a lease even under a backlog that never ends."""
    total = SendReport()
    stop_at = time.monotonic() + core.config.worker.lease.total_seconds()
    while True:
        report = send_due(core, worker_id, leases)
        total.merge(report)
        if report.handled == 0 or time.monotonic() >= stop_at:
            return total


def send_due(core: Core, worker_id: str = "worker", leases: Leases | None = None) -> SendReport:
    """Claim due outbox rows, send each through its channel, and record what happened.

    `leases` is the worker's heartbeat (bot/outbox/lease.py); without one the run's leases
    are not renewed, which a run inside half a lease does not need."""
    report = SendReport()
    leases = leases or Leases(core, worker_id)
    report.abandoned = recover_expired_leases(core, core.clock.now())
    with core.sessions.begin() as session:
        now = core.clock.now()
        rows = _claim(session, core, now, worker_id, fits=partial(_what_lines_can_send, core))
        claimed = _ready(session, core, rows, now, report)
    held = [row.row_id for row in claimed]
    leases.hold(held)
    books = Bookkeeper(core, worker_id, leases)
    try:
        try:
            _send_claimed(core, claimed, worker_id, report, leases, held, books)
        finally:
            books.close()  # every sent message recorded before its row is let go
    finally:
        leases.drop(held)  # sent, failed, handed back or given up on: no longer renewed
    return report


def _line(core: Core, outbound: OutboundMessage) -> tuple[str, str]:
    """The lane a message is sent on: its channel, and for a paced one the line it leaves on
    (an SMS pool's number for its recipient)."""
    channel = outbound.channel
    return channel, core.channels[channel].line_of(outbound) if traits(channel).paced else channel


def _what_lines_can_send(core: Core, rows: list[Outbox]) -> list[Outbox]:
    """Of the due rows, most urgent first, each paced line's first few: about what it sends in
    one run. The rest stay queued, unleased, for the next run or another worker. Unpaced
    channels take the whole batch."""
    seconds = run_seconds(core)
    taken: Counter[tuple[str, str]] = Counter()
    fitting = []
    for row in rows:
        rate = core.channels[row.channel].line_rate() if traits(row.channel).paced else None
        if rate is None:
            fitting.append(row)
            continue
        line = _line(core, _outbound(row))
        if taken[line] < max(AT_LEAST_PER_LINE, math.ceil(rate * seconds)):
            taken[line] += 1
            fitting.append(row)
    return fitting


def _ready(
    session: Session, core: Core, rows: list[Outbox], now: datetime, report: SendReport
) -> list[Claimed]:
    """The claimed rows that should go now; the others are skipped or held back."""
    claimed = []
    for row in rows:
        if _left_channel(row) or _overtaken(row) or edits.superseded(session, row):
            row.status, row.lease_until = OutboxStatus.SKIPPED, None
            if row.message is not None:
                row.message.status = MessageStatus.SKIPPED
            report.add("skipped")
        elif retry_at := edits.waits_for_post(session, row, now, core.config.worker.retry_backoff):
            _hold_back(row, retry_at)  # an edit needs the post's id, known once it is sent
        else:
            outbound = _outbound(row, edits.edited_message(session, row))
            claimed.append(Claimed(row.priority, row.not_before, row.id, outbound))
    return claimed


def _pull_urgent(
    core: Core,
    channel: str,
    worker_id: str,
    report: SendReport,
    leases: Leases,
    held: list[int],
    below: int,
) -> list[Claimed]:
    """Claim the channel's due rows of a class more urgent than `below`, queued since the run's
    claim. An answer due on another `line` of the pool is sent by this lane too, paced on its
    own line (answers are few, and taking it now beats leaving it to the next run). A read
    that locks nothing looks first, so the usual answer (none) costs one indexed query and no
    write lock; after a slot, the lane's `_look` has already asked."""
    now = core.clock.now()
    more_urgent = _more_urgent(channel, below)
    with core.readers() as session:
        found = session.scalar(select(Outbox.id).where(*_queued_due(now), *more_urgent).limit(1))
    if found is None:
        return []
    with core.sessions.begin() as session:
        rows = _claim(
            session, core, now, worker_id, *more_urgent, limit=core.config.worker.send_threads
        )
        pulled = _ready(session, core, rows, now, report)
    ids = [row.row_id for row in pulled]
    held.extend(ids)  # dropped with the run's own rows when it ends
    leases.hold(ids)
    return pulled


def _send_claimed(
    core: Core,
    claimed: list[Claimed],
    worker_id: str,
    report: SendReport,
    leases: Leases,
    held: list[int],
    books: Bookkeeper,
) -> None:
    """Each channel, and each number of an SMS pool (its `line_of`), sends its rows on its own
    (bot/outbox/lanes.py), so a pool's numbers each keep their own pace at once, in
    `send_threads` threads:
    a provider call takes a network round trip (Twilio's is some 100-300 ms), so one thread
    would cap a worker at a few messages a second.

    Pacing makes sends wait; what cannot go out within the run (`run_seconds`) is handed back
    for the next, and no row is handed over once its lease is close to its end (`_hand_over`),
    so no row is ever sent by a worker whose lease on it has run out. The hand-over marks and the
    records of sent messages are written in batches, by the run's `books`.
    """
    deadline = time.monotonic() + run_seconds(core)
    by_line: dict[tuple[str, str], list[Claimed]] = defaultdict(list)
    for row in claimed:
        by_line[_line(core, row.outbound)].append(row)

    def deliver(row: Claimed) -> None:
        report.add(_send_one(core, row.row_id, row.outbound, leases, books))

    lanes = [
        ChannelLane(
            rows,
            threads=core.config.worker.send_threads,
            paced=traits(channel).paced,
            wait_turn=core.channels[channel].wait_turn,
            deliver=deliver,
            release=partial(_release, core),
            pull_urgent=partial(_pull_urgent, core, channel, worker_id, report, leases, held),
            deadline=deadline,
            look=partial(_look, core, channel, report),
            look_every=_look_every(core, channel),
        )
        for (channel, line), rows in by_line.items()
    ]
    if len(lanes) == 1:
        lanes[0].run()
    elif lanes:
        with ThreadPoolExecutor(len(lanes), thread_name_prefix="channel") as pool:
            for done in [pool.submit(lane.run) for lane in lanes]:
                done.result()


def _send_one(
    core: Core, row_id: int, outbound: OutboundMessage, leases: Leases, books: Bookkeeper
) -> str:
    """Hand one row, whose turn has come (ChannelLane waits it), to its channel and record the
    outcome; returns the SendReport field."""
    channel = core.channels[outbound.channel]
    until = books.hand_over(row_id)
    if until is None:
        return "skipped"  # its lease is (nearly) out, or it was dropped: not ours to send
    try:
        result = channel.send(outbound)
    except ChannelError as exc:
        retried = retry_unreachable(
            partial(_record_failure, core, row_id, exc),
            deadline=leases.deadline(row_id, until),
            what="recording a failed send",
        )
        return "retried" if retried else "failed"
    books.sent(row_id, result, until)
    return "sent"


def _look_every(core: Core, channel: str) -> float:
    rate = core.channels[channel].line_rate() if traits(channel).paced else None
    return LOOK_EVERY_ON_FAST_LINES if rate is not None and rate >= FAST_LINE else 0.0


def _look(core: Core, channel: str, report: SendReport, row: Claimed, below: int) -> Look:
    """One read once a paced row's slot has come (ChannelLane.look): is the row, if an interim
    update, still ours to send (`stale.drop_pending_updates` drops one whose case's next update
    came due, or that the case moved past; at the carrier's limit a slot spent on it is lost,
    so the lane gives it to its next row), and is anything of a class more urgent than `below`
    queued on the channel since the claim. Other kinds are never dropped that way, and nothing
    is more urgent than an answer: with neither to ask, nothing is read."""
    interim = row.outbound.kind == OutboxKind.INTERIM
    if not interim and below <= Urgency.ANSWER:
        return Look(wanted=True, urgent_waiting=False)
    with core.reading.connect() as connection:
        status, urgent_waiting = connection.execute(
            _LOOK,
            {"row": row.row_id, "now": core.clock.now(), "channel": channel, "below": below},
        ).one()
    wanted = status == OutboxStatus.SENDING or not interim
    if not wanted:
        report.add("skipped")
    return Look(wanted=wanted, urgent_waiting=bool(urgent_waiting))


def _more_urgent(
    channel: str | BindParameter[str], below: int | BindParameter[int]
) -> tuple[ColumnElement[bool], ...]:
    """The channel's rows of a class more urgent than `below`."""
    return Outbox.channel == channel, Outbox.priority < below


def _queued_due(now: datetime | BindParameter[datetime]) -> tuple[ColumnElement[bool], ...]:
    """Rows waiting to be claimed, due by `now`."""
    return Outbox.status == OutboxStatus.PENDING, Outbox.not_before <= now


# A paced lane's look (`_look`), built once: it runs after every slot.
_LOOK = select(
    select(Outbox.status).where(Outbox.id == bindparam("row")).scalar_subquery(),
    exists().where(
        *_queued_due(bindparam("now")),
        *_more_urgent(bindparam("channel"), bindparam("below")),
    ),
)


def _release(core: Core, row_ids: list[int]) -> None:
    """Give claimed rows back untried, for the next run."""
    with core.sessions.begin() as session:
        session.execute(
            update(Outbox)
            .where(Outbox.id.in_(row_ids), Outbox.status == OutboxStatus.SENDING)
            .values(
                status=OutboxStatus.PENDING,
                lease_owner=None,
                lease_until=None,
                attempts=Outbox.attempts - 1,
            )
        )


def _hold_back(row: Outbox, until: datetime) -> None:
    """Give a claimed row back untried, to be tried again at `until`."""
    row.status, row.lease_owner, row.lease_until = OutboxStatus.PENDING, None, None
    row.attempts, row.not_before = max(row.attempts - 1, 0), until


def _left_channel(row: Outbox) -> bool:
    """Nothing is sent to a channel the contact opted out of (or that the provider called dead)
    since the row was queued."""
    if row.message is None or row.message.contact is None:
        return False
    contact = row.message.contact
    if row.to_opted_out:  # the one confirmation of a STOP: still not to a dead number
        return row.channel in (contact.unreachable or ())
    return not can_receive(contact, row.channel)


def _overtaken(row: Outbox) -> bool:
    """A proactive message the case has moved past: no update to a closed case, no
    confirmation request after the customer already answered, no closing notice once the case
    is open again."""
    if row.kind not in PROACTIVE or row.case_id is None:
        return False
    case = row.case
    if case is None:
        return True
    if row.kind in (OutboxKind.CONFIRM_REQUEST, OutboxKind.REMINDER):
        return case.status != CaseStatus.RESOLVED
    if row.kind == OutboxKind.CLOSING_NOTICE:
        return case.status != CaseStatus.CLOSED  # reopened before the notice went out
    return case.status not in UPDATING_STATES


def _outbound(row: Outbox, edited: str | None = None) -> OutboundMessage:
    """What the channel gets; `edited`: the provider id of the message this row changes."""
    metadata: dict[str, Any] = {"blocks": row.blocks} if row.blocks else {}
    if edited is not None:
        metadata["edits"] = edited
    return OutboundMessage(
        channel=row.channel,
        to=row.address,
        body=row.body,
        message_id=row.message_id or 0,
        kind=str(row.kind),
        metadata=metadata,
    )


def _record_failure(core: Core, row_id: int, exc: ChannelError) -> bool:
    """Schedule a retry (True) or fail the row for good (False)."""
    now = core.clock.now()
    with core.sessions.begin() as session:
        row = session.get(Outbox, row_id, options=[joinedload(Outbox.message)])
        assert row is not None
        if row.status != OutboxStatus.SENDING:  # a retried commit that had gone through
            return row.status == OutboxStatus.PENDING
        # An interim update that may already be on its way is not tried again (see top).
        may_repeat = not (exc.maybe_sent and row.kind in AT_MOST_ONCE)
        if exc.retryable and may_repeat and row.attempts < core.config.worker.max_attempts:
            row.status, row.lease_until = OutboxStatus.PENDING, None
            row.not_before = now + backoff(row.attempts, core.config.worker.retry_backoff)
            row.last_error = exc.message
            return True
        _fail(session, core, row, now, exc.message, error_code=exc.error_code, problem=exc.problem)
        return False


def _fail(
    session: Session,
    core: Core,
    row: Outbox,
    now: datetime,
    reason: str,
    *,
    error_code: str | None,
    problem: str | None = None,
) -> None:
    row.status, row.lease_until, row.last_error = OutboxStatus.FAILED, None, reason
    message = row.message
    if message is None:  # an alert: nothing to tell the customer's case about
        return
    message.status = MessageStatus.FAILED
    message.error_code = error_code
    record_failure(
        session,
        core,
        message,
        kind=row.kind,
        now=now,
        reason=reason,
        error_code=error_code,
        problem=problem,
    )
