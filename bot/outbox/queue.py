"""Queueing a message: its Message row and its outbox row, in the transaction that wants it
sent; bot/outbox/sender.py sends it later. What it says was rendered by bot/engine/messages.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.domain import Direction, MessageStatus, OutboxKind
from bot.engine.contacts import Address
from bot.outbox.priority import urgency_of
from bot.outbox.stale import REPLACES_UPDATES, drop_pending_updates, queued_update
from bot.store.models import Message, Outbox


def enqueue(
    session: Session,
    *,
    address: Address,
    body: str,
    template: str,
    kind: OutboxKind,
    now: datetime,
    case_id: int | None = None,
    contact_id: int | None = None,
    to_opted_out: bool = False,
    not_before: datetime | None = None,
    blocks: list[dict[str, Any]] | None = None,
    due_at: datetime | None = None,
) -> Message:
    """Store an outbound message and its outbox row; the sender job does the sending. A new
    update or delay notice replaces the case's interim update still waiting (bot/outbox/stale.py).
    """
    if kind in REPLACES_UPDATES:
        drop_pending_updates(session, case_id, f"replaced by a newer {kind} before it went out")
    message = Message(
        case_id=case_id,
        contact_id=contact_id,
        channel=address.channel,
        direction=Direction.OUT,
        address=address.to,
        body=body,
        status=MessageStatus.QUEUED,
        template=template,
        at=now,
    )
    session.add(
        Outbox(
            message=message,  # the unit of work inserts both in order, batched with others
            case_id=case_id,
            kind=kind,
            priority=int(urgency_of(kind)),
            channel=address.channel,
            address=address.to,
            body=body,
            blocks=blocks,
            to_opted_out=to_opted_out,
            not_before=not_before or now,
            created_at=now,
            due_at=due_at or now,
        )
    )
    if kind == OutboxKind.INTERIM:
        queued_update(session, case_id)
    return message
