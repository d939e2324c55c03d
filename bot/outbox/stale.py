"""No stale updates: an interim update still waiting when its news is old is dropped at once,
in the transaction that made it old, rather than sent late beside the news that replaced it.

Old news is an update still queued when the case's next update (or a delay notice) is queued,
or when the case leaves the state it spoke of: resolved, waiting, paused, closed. A row a
worker has claimed but not handed to the provider is dropped too (its hand-over then finds it
skipped and sends nothing); one already handed is on its way and is left alone.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from bot.domain import MessageStatus, OutboxKind, OutboxStatus
from bot.store.models import Message, Outbox

# Queueing one of these makes the case's waiting interim updates old news.
REPLACES_UPDATES = frozenset({OutboxKind.INTERIM, OutboxKind.DELAY_NOTICE})


def _waiting() -> tuple[ColumnElement[bool], ...]:
    """Interim updates that have not left yet."""
    return (
        Outbox.kind == OutboxKind.INTERIM,
        Outbox.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)),
        Outbox.handed_at.is_(None),
    )


def drop_pending_updates(session: Session, case_id: int | None, why: str) -> int:
    """Skip the case's interim updates that have not left yet; returns how many."""
    if case_id is None:
        return 0
    noted = _noted(session)
    if case_id in noted.without_waiting:
        return 0
    unsent = (Outbox.case_id == case_id, *_waiting())
    # A select flushes the session first. The worker queues a batch of cases' updates in one
    # transaction, and a flush before each case's look wrote the batch one case at a time, most
    # of the cost of queueing an update: only a case whose own update may be unwritten needs it.
    with nullcontext() if case_id in noted.queued else session.no_autoflush:
        rows = session.execute(
            select(Outbox.id, Outbox.message_id).where(*unsent).with_for_update()
        ).all()
    if not rows:
        return 0
    session.execute(
        update(Outbox)
        .where(Outbox.id.in_([row.id for row in rows]), *unsent)  # a hand-over may have won
        .values(status=OutboxStatus.SKIPPED, lease_until=None, last_error=why)
    )
    messages = [row.message_id for row in rows if row.message_id is not None]
    if messages:
        session.execute(
            update(Message)
            .where(Message.id.in_(messages), Message.status == MessageStatus.QUEUED)
            .values(status=MessageStatus.SKIPPED)
        )
    return len(rows)


@dataclass
class _Noted:
    """What this transaction knows of its cases' waiting updates (kept in session.info)."""

    transaction: object
    # Cases whose interim update this transaction queued: the session may hold it unwritten,
    # so a look for their waiting updates must flush first.
    queued: set[int] = field(default_factory=set)
    # Cases `look_ahead` found without a waiting update, and that have not queued one since.
    without_waiting: set[int] = field(default_factory=set)


NOTED = "keepposted_waiting_updates"


def _noted(session: Session) -> _Noted:
    transaction = session.get_transaction()
    noted = session.info.get(NOTED)
    if not isinstance(noted, _Noted) or noted.transaction is not transaction:
        noted = session.info[NOTED] = _Noted(transaction)
    return noted


def queued_update(session: Session, case_id: int | None) -> None:
    """Note an interim update the session will write at its next flush (bot/outbox/queue.py)."""
    if case_id is not None:
        noted = _noted(session)
        noted.queued.add(case_id)
        noted.without_waiting.discard(case_id)  # it has one now


def look_ahead(session: Session, case_ids: list[int]) -> None:
    """Read in one query which of these cases, locked by the caller, have interim updates
    waiting (and lock those), so that queueing the others' next updates looks no further: the
    worker queues a batch of due cases in one transaction, and a look per case was a round
    trip per case. Holds until the transaction ends."""
    if not case_ids:
        return
    with session.no_autoflush:  # the batch's own updates are not queued yet
        waiting = set(
            session.scalars(
                select(Outbox.case_id)
                .where(Outbox.case_id.in_(case_ids), *_waiting())
                .with_for_update()
            )
        )
    _noted(session).without_waiting.update(set(case_ids) - waiting)
