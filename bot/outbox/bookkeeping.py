"""A send run's writes, committed together: the hand-over marks and the records of sent messages.

Each send costs two writes: the row is marked handed to the provider just before it goes (which
decides what a crash mid-send does, bot/outbox/sender.py), and once the provider has taken it,
the row is marked sent, its message gets the provider's id and the case's log an entry. Done one
transaction each, they were most of a worker's CPU per message. Here a send thread asks for its
hand-over and waits, and hands its result over without waiting; one writer thread writes
whatever hand-overs have gathered meanwhile in one transaction (a group commit), then answers
them. Records keep no one waiting, so they wait to be many (RECORDS_AT_ONCE, or RECORDS_LINGER)
and go in a transaction of their own, in a few statements whatever their number. At one message
a second each write is one row, as soon as it comes.

At most once stays at most once: a row is handed over only once that mark is committed, and a
sent message whose record has not been written yet is held, its lease renewed, until it is
(`close` waits for every record before the run lets go of its rows). What the batching changes
is how many sent messages a worker that dies leaves in doubt: those whose records were still
gathering, besides the ones in flight.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import BindParameter, Connection, Table, bindparam, case, func, select, update

from bot.domain import SYSTEM, LogEvent, MessageStatus, OutboxKind, OutboxStatus
from bot.ledger import chain as log
from bot.outbox.lease import Leases, hand_over_margin
from bot.store.db import retry_unreachable, unreachable
from bot.store.models import Case, Message, Outbox
from channels.base import SendResult

if TYPE_CHECKING:
    from bot.core import Core  # annotations only: the engine must not load the registry

logger = logging.getLogger(__name__)

SENT_EVENTS = {
    OutboxKind.INTERIM: LogEvent.INTERIM_SENT,
    OutboxKind.DELAY_NOTICE: LogEvent.DELAY_NOTICE_SENT,
    OutboxKind.CONFIRM_REQUEST: LogEvent.CONFIRMATION_REQUESTED,
    OutboxKind.REMINDER: LogEvent.REMINDER_SENT,
}


# The kinds whose sending starts the case's confirmation clock.
ASKING = (OutboxKind.CONFIRM_REQUEST, OutboxKind.REMINDER)

# The statements of the bookkeeping, built once: they are the database's own, without the
# ORM's, since a worker runs them hundreds of times a second.
_outbox = cast(Table, Outbox.__table__)
_messages = cast(Table, Message.__table__)
_cases = cast(Table, Case.__table__)
_ROWS: BindParameter[Any] = bindparam("rows", expanding=True)
_HAND_OVER = (
    update(_outbox)
    .where(
        _outbox.c.id.in_(_ROWS),
        _outbox.c.status == OutboxStatus.SENDING,
        _outbox.c.lease_owner == bindparam("worker"),
        _outbox.c.lease_until > bindparam("lease_left_after"),
    )
    .values(handed_at=bindparam("now"))
    .returning(_outbox.c.id, _outbox.c.lease_until)
)
# What the record of a sent row needs to know of it and its message; not a row already marked
# sent (by a retried commit that had gone through).
_TO_RECORD = (
    select(
        _outbox.c.id,
        _outbox.c.kind,
        _outbox.c.case_id,
        _outbox.c.message_id,
        _outbox.c.channel,
        _outbox.c.address,
        _messages.c.template,
    )
    .select_from(_outbox.outerjoin(_messages, _messages.c.id == _outbox.c.message_id))
    .where(_outbox.c.id.in_(_ROWS), _outbox.c.status != OutboxStatus.SENT)
    .order_by(_outbox.c.id)
)
_ROW_SENT = (
    update(_outbox)
    .where(_outbox.c.id.in_(_ROWS))
    .values(status=OutboxStatus.SENT, sent_at=bindparam("now"), lease_until=None)
)
# An alert's id is kept on its row, for the edits that follow it.
_ALERT_POSTED = (
    update(_outbox)
    .where(_outbox.c.id == bindparam("row"))
    .values(provider_id=bindparam("provider"))
)
# A message the provider took: sent, unless a status report came first and moved it on; its
# provider id kept, unless that report brought it.
_MESSAGE_SENT = (
    update(_messages)
    .where(_messages.c.id == bindparam("message"))
    .values(
        status=case(
            (
                _messages.c.status == MessageStatus.QUEUED,
                bindparam("reached", type_=_messages.c.status.type),
            ),
            else_=_messages.c.status,
        ),
        provider_id=func.coalesce(_messages.c.provider_id, bindparam("provider")),
    )
)


# Records of sent messages keep no one waiting, so they are written once this many have
# gathered, or once the oldest has waited this long: more to a transaction. A worker that dies
# leaves the messages it sent but had not recorded in doubt (marked failed by the lease
# recovery, though they may have reached the customer): with those in flight, at most this
# many and twice `send_threads` (README, Running at scale).
RECORDS_AT_ONCE = 16
RECORDS_LINGER = 0.025  # seconds


@dataclass
class _HandOver:
    row_id: int
    done: threading.Event
    until: datetime | None = None  # the lease's end once handed; None: the row must not go


@dataclass(frozen=True)
class _Sent:
    row_id: int
    result: SendResult
    lease_until: datetime  # its lease's end as the hand-over read it


class Bookkeeper:
    """The writer of one send run (see top). `hand_over` and `sent` are called from the run's
    send threads; `close` once they are done."""

    def __init__(self, core: Core, worker_id: str, leases: Leases) -> None:
        self.core, self.worker_id, self.leases = core, worker_id, leases
        self._hand_overs: list[_HandOver] = []
        self._sent: list[_Sent] = []
        self._first_sent_at = 0.0  # when the oldest record not yet written came
        self._closing = False
        self._error: BaseException | None = None
        self._changed = threading.Condition()
        self._writer = threading.Thread(target=self._write_all, name="outbox-writer", daemon=True)
        self._writer.start()

    def hand_over(self, row_id: int) -> datetime | None:
        """Mark the row as going to the provider now, if this worker still holds its lease with
        a renewal's worth of it left (renewals may be failing: the database away); returns the
        lease's end once the mark is committed, None when the row must not go (its lease is
        out or nearly, or it was dropped since the claim)."""
        asked = _HandOver(row_id, threading.Event())
        with self._changed:
            self._hand_overs.append(asked)
            self._changed.notify()
        asked.done.wait()
        return asked.until

    def sent(self, row_id: int, result: SendResult, lease_until: datetime) -> None:
        """The provider took the row's message: record it with the next batch."""
        with self._changed:
            if not self._sent:
                self._first_sent_at = time.monotonic()
            self._sent.append(_Sent(row_id, result, lease_until))
            self._changed.notify()

    def close(self) -> None:
        """Wait until everything asked is written; raise what recording failed with, if it did
        (the rows concerned are then left to lease recovery, as a crash would leave them)."""
        with self._changed:
            self._closing = True
            self._changed.notify()
        self._writer.join()
        if self._error is not None:
            raise self._error

    # -- the writer thread ---------------------------------------------------------------------

    def _write_all(self) -> None:
        while True:
            with self._changed:
                while not self._due():
                    self._changed.wait(self._linger_left())
                hand_overs, self._hand_overs = self._hand_overs, []
                sent: list[_Sent] = []
                if self._records_due():
                    sent, self._sent = self._sent, []
                if not (hand_overs or sent):
                    return  # closing, and everything is written
            try:
                self._write(hand_overs, sent)
            except Exception as exc:  # a bug: keep answering, so no send thread waits forever
                logger.exception("outbox bookkeeping failed")
                self._error = self._error or exc
            finally:
                for asked in hand_overs:
                    asked.done.set()

    def _due(self) -> bool:
        """Time to write: a send thread waits for its hand-over, records are due, or the run is
        ending (with everything written, the writer then stops)."""
        return bool(self._hand_overs) or self._closing or self._records_due()

    def _records_due(self) -> bool:
        """Records keep no one waiting, so they wait to be many (RECORDS_AT_ONCE), until the
        oldest has waited RECORDS_LINGER, or the run ends."""
        if not self._sent:
            return False
        return self._closing or len(self._sent) >= RECORDS_AT_ONCE or self._linger_left() == 0.0

    def _linger_left(self) -> float | None:
        if not self._sent:
            return None  # nothing to record: wait for a request
        return max(0.0, self._first_sent_at + RECORDS_LINGER - time.monotonic())

    def _write(self, hand_overs: list[_HandOver], sent: list[_Sent]) -> None:
        try:
            with self.core.engine.begin() as connection:
                self._mark_handed(connection, hand_overs)
                _record_sent(connection, self.core, sent)
            return
        except Exception as exc:
            for asked in hand_overs:
                asked.until = None  # not committed: the row does not go (its lease lapses)
            if not sent:
                if not unreachable(exc):
                    logger.exception("marking outbox rows handed over failed")
                return
            problem = exc
        # The messages have gone whatever the database does next, so their records wait out a
        # database restart, until the first of their leases ends (later if renewed meanwhile),
        # rather than turning a sent message into a lost or a repeated one; and one record
        # that cannot be written must not take the batch's others with it.
        batches = [sent] if unreachable(problem) else [[one] for one in sent]
        for batch in batches:
            try:
                retry_unreachable(
                    partial(self._record_alone, batch),
                    deadline=min(
                        self.leases.deadline(one.row_id, one.lease_until) for one in batch
                    ),
                    what="recording sent messages",
                )
            except Exception as exc:
                logger.exception("recording %d sent message(s) failed", len(batch))
                self._error = self._error or exc

    def _record_alone(self, sent: list[_Sent]) -> None:
        with self.core.engine.begin() as connection:
            _record_sent(connection, self.core, sent)

    def _mark_handed(self, connection: Connection, hand_overs: list[_HandOver]) -> None:
        if not hand_overs:
            return
        now = self.core.clock.now()
        handed = connection.execute(
            _HAND_OVER,
            {
                "rows": [asked.row_id for asked in hand_overs],
                "worker": self.worker_id,
                "lease_left_after": now + hand_over_margin(self.core.config.worker),
                "now": now,
            },
        )
        until: dict[int, datetime] = {row_id: lease_until for row_id, lease_until in handed}
        for asked in hand_overs:
            asked.until = until.get(asked.row_id)


def _record_sent(connection: Connection, core: Core, sent: list[_Sent]) -> None:
    """Mark the rows sent, their messages sent with the provider's ids and the cases' logs
    told, a statement for each of those, whatever the batch's size (rows are this worker's
    by their leases; the log's chain heads are locked together, in a fixed order, so that two
    workers never wait on each other's). A confirmation request or reminder also starts its
    case's confirmation clock: the case asked once its customer really has been."""
    if not sent:
        return
    results = {one.row_id: one.result for one in sent}
    rows = connection.execute(_TO_RECORD, {"rows": list(results)}).all()
    if not rows:
        return
    now = core.clock.now()
    connection.execute(_ROW_SENT, {"rows": [row.id for row in rows], "now": now})
    if alerts := [row for row in rows if row.message_id is None]:
        connection.execute(
            _ALERT_POSTED,
            [{"row": row.id, "provider": results[row.id].provider_id} for row in alerts],
        )
    if messages := [row for row in rows if row.message_id is not None]:
        connection.execute(
            _MESSAGE_SENT,
            [
                {
                    "message": row.message_id,
                    "reached": (
                        MessageStatus.SIMULATED if results[row.id].simulated else MessageStatus.SENT
                    ),
                    "provider": results[row.id].provider_id,
                }
                for row in messages
            ],
        )
    logged = [row for row in rows if row.kind in SENT_EVENTS and row.case_id is not None]
    log.append_many(
        connection,
        [
            {
                "event": SENT_EVENTS[row.kind],
                "at": now,
                "actor": SYSTEM,
                "case_id": row.case_id,
                "channel": row.channel,
                "message_id": row.message_id,
                "detail": {
                    "template": row.template,
                    "to": row.address,
                    "simulated": results[row.id].simulated,
                },
            }
            for row in logged
        ],
    )
    _start_confirmation_clocks(connection, core, [row for row in logged if row.kind in ASKING], now)


def _start_confirmation_clocks(
    connection: Connection, core: Core, rows: list[Any], now: datetime
) -> None:
    timings = core.config.confirmation
    for row in rows:
        if row.kind == OutboxKind.CONFIRM_REQUEST:
            connection.execute(
                update(_cases)
                .where(_cases.c.id == row.case_id, _cases.c.confirmation_requested_at.is_(None))
                .values(confirmation_requested_at=now, confirm_due_at=now + timings.reminder_after)
            )
        else:
            connection.execute(
                update(_cases)
                .where(_cases.c.id == row.case_id)
                .values(
                    reminder_sent_at=now,
                    confirm_due_at=now + (timings.auto_close_after - timings.reminder_after),
                )
            )
