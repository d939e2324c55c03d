"""No stale updates: an interim update still waiting when its news is old is dropped at once,
in the transaction that made it old, rather than sent late beside the news that replaced it.

Old news is an update still queued when the case's next update (or a delay notice) is queued,
or when the case leaves the state it spoke of: resolved, waiting, paused, closed. A row a
worker has claimed but not handed to the provider is dropped too (its hand-over then finds it
skipped and sends nothing); one already handed is on its way and is left alone.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.domain import MessageStatus, OutboxKind, OutboxStatus
from bot.store.models import Message, Outbox

# Queueing one of these makes the case's waiting interim updates old news.
REPLACES_UPDATES = frozenset({OutboxKind.INTERIM, OutboxKind.DELAY_NOTICE})


def drop_pending_updates(session: Session, case_id: int | None, why: str) -> int:
    """Skip the case's interim updates that have not left yet; returns how many."""
    if case_id is None:
        return 0
    unsent = (
        Outbox.case_id == case_id,
        Outbox.kind == OutboxKind.INTERIM,
        Outbox.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)),
        Outbox.handed_at.is_(None),
    )
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
