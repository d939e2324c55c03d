"""What becomes of a message after it is handed over: provider status reports move it forward
(never back), a failure is logged and alerted, and an address the provider calls dead (opted
out, a landline, no such number) is never sent to again."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.domain import (
    PROACTIVE,
    SYSTEM,
    AddressProblem,
    AlertKind,
    CaseStatus,
    Direction,
    LogEvent,
    MessageStatus,
    OutboxKind,
)
from bot.engine.alerts import queue_alert
from bot.engine.contacts import set_opted_out, set_unreachable
from bot.ledger import chain as log
from bot.store.models import Case, Contact, Message, Outbox
from channels.base import DeliveryReport

if TYPE_CHECKING:
    from bot.core import Core  # annotations only: the engine must not load the registry

# How far along a message is. A report only ever moves a message to a higher rank, so a late
# `sent` never undoes `delivered`, and a repeated `failed` is not logged twice.
RANK = {
    MessageStatus.QUEUED: 1,
    MessageStatus.SENT: 2,
    MessageStatus.SIMULATED: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.UNDELIVERED: 3,
    MessageStatus.FAILED: 3,
    MessageStatus.READ: 4,
}
FAILED = frozenset({MessageStatus.FAILED, MessageStatus.UNDELIVERED})


def record_report(core: Core, report: DeliveryReport) -> bool:
    """Apply a provider's status report; True when it changed anything."""
    now = core.clock.now()
    with core.sessions.begin() as session:
        message = _reported_message(session, report)
        if message is None:
            return False
        message.provider_id = message.provider_id or report.provider_id
        status = MessageStatus(report.status)
        if RANK[status] <= RANK.get(message.status, 0):
            return False
        message.status = status
        if report.error_code:
            message.error_code = report.error_code
        if status in FAILED:
            kind = session.scalar(select(Outbox.kind).where(Outbox.message_id == message.id))
            record_failure(
                session,
                core,
                message,
                kind=kind or OutboxKind.REPLY,  # a message with no outbox row was a reply
                now=now,
                reason=f"the carrier reported the message {status}",
                error_code=report.error_code,
                problem=report.problem,
            )
        return True


def _reported_message(session: Session, report: DeliveryReport) -> Message | None:
    """Our message the report is about, locked: by provider id, or by our id when the report
    beat the sender's own bookkeeping (the provider id is then not stored yet)."""
    query = select(Message).where(
        Message.channel == report.channel, Message.direction == Direction.OUT
    )
    if report.message_id is not None:
        query = query.where(
            Message.id == report.message_id,
            or_(Message.provider_id.is_(None), Message.provider_id == report.provider_id),
        )
    else:
        query = query.where(Message.provider_id == report.provider_id)
    return session.scalar(query.with_for_update())


def record_failure(
    session: Session,
    core: Core,
    message: Message,
    *,
    kind: OutboxKind,
    now: datetime,
    reason: str,
    error_code: str | None,
    problem: str | None,
) -> None:
    """A message that will not arrive: stop using a dead address, log it and tell the team."""
    contact = message.contact
    if contact is not None and problem is not None:
        mark_address(session, contact, message.channel, AddressProblem(problem), now, error_code)
    case = session.get(Case, message.case_id) if message.case_id else None
    if case is None or kind not in PROACTIVE:
        return
    log.append(
        session,
        event=LogEvent.INTERIM_FAILED,
        at=now,
        actor=SYSTEM,
        case_id=case.id,
        channel=message.channel,
        message_id=message.id,
        detail={"kind": str(kind), "error": reason, "error_code": error_code},
    )
    if kind == OutboxKind.CONFIRM_REQUEST and case.status == CaseStatus.RESOLVED:
        # The customer was never asked: stop the clock so the case cannot auto-close unasked;
        # the alert below asks a person to reach them.
        case.confirmation_requested_at = case.confirm_due_at = None
    queue_alert(
        session,
        core,
        case=case,
        kind=AlertKind.DELIVERY_FAILED,
        now=now,
        error=reason + (f" (error {error_code})" if error_code else ""),
        kind_failed=str(kind),
    )


def mark_address(
    session: Session,
    contact: Contact,
    channel: str,
    problem: AddressProblem,
    now: datetime,
    error_code: str | None,
) -> None:
    if problem == AddressProblem.UNREACHABLE:
        set_unreachable(contact, channel)
        return
    change_opt_out(
        session,
        contact,
        channel,
        out=True,
        now=now,
        actor=SYSTEM,
        detail={"reason": "the carrier reports the number opted out", "error_code": error_code},
    )


def change_opt_out(
    session: Session,
    contact: Contact,
    channel: str,
    *,
    out: bool,
    now: datetime,
    actor: str,
    message_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> bool:
    """Record a contact leaving or rejoining a channel, on the log of each of their open cases
    (or the contact's own chain when none is open); True when anything changed."""
    if not set_opted_out(contact, channel, out):
        return False
    open_cases: list[Case | None] = list(
        session.scalars(
            select(Case).where(Case.contact_id == contact.id, Case.status != CaseStatus.CLOSED)
        )
    )
    for case in open_cases or [None]:
        log.append(
            session,
            event=LogEvent.OPTED_OUT if out else LogEvent.OPTED_IN,
            at=now,
            actor=actor,
            case_id=case.id if case else None,
            contact_id=contact.id,
            channel=channel,
            message_id=message_id,
            detail=detail,
        )
    return True
