"""Outbox rows that edit a message another row posted (`updates_id`): a coalesced alert's latest
state, sent with chat.update (bot/engine/alerts.py queues them). The message edited is the
newest one the chain posted: the alert itself, or the fresh post an edit made when Slack could
no longer edit the old one."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.domain import OutboxStatus
from bot.store.models import Outbox

# An edit a newer one of the same message replaces: the newer carries the latest state.
SUPERSEDING = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.SENT)


def superseded(session: Session, row: Outbox) -> bool:
    """An edit queued before another edit of the same message (one that failed a try and came
    back): sending it after the newer one would show an older state."""
    if row.updates_id is None:
        return False
    newer = session.scalar(
        select(Outbox.id)
        .where(
            Outbox.updates_id == row.updates_id,
            Outbox.id > row.id,
            Outbox.status.in_(SUPERSEDING),
        )
        .limit(1)
    )
    return newer is not None


def waits_for_post(
    session: Session, row: Outbox, now: datetime, wait: timedelta
) -> datetime | None:
    """When to try an edit again whose message is not posted yet (its post is queued or on its
    way), or while an older edit of it is on its way (two edits in flight at once could land
    in either order and show the older state last); None when it can go now."""
    if row.updates_id is None:
        return None
    post = session.get(Outbox, row.updates_id)
    if post is not None and post.status in (OutboxStatus.PENDING, OutboxStatus.SENDING):
        return max(now, post.not_before) + wait
    older_in_flight = session.scalar(
        select(Outbox.id)
        .where(
            Outbox.updates_id == row.updates_id,
            Outbox.id < row.id,
            Outbox.status == OutboxStatus.SENDING,
        )
        .limit(1)
    )
    return None if older_in_flight is None else now + wait


def edited_message(session: Session, row: Outbox) -> str | None:
    """The provider id of the message an edit changes; None when it has none to change (its post
    failed for good, or was sent before posts kept their ids), so the edit posts afresh."""
    if row.updates_id is None:
        return None
    return session.scalar(
        select(Outbox.provider_id)
        .where(
            or_(Outbox.id == row.updates_id, Outbox.updates_id == row.updates_id),
            Outbox.status == OutboxStatus.SENT,
            Outbox.provider_id.is_not(None),
        )
        .order_by(Outbox.sent_at.desc(), Outbox.id.desc())
        .limit(1)
    )
