"""Queueing what we want a customer to hear: rendered through bot/render.py in the
transaction that wants it sent, one outbox row per message, sent later by bot/outbox/sender.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from bot.domain import (
    PROACTIVE,
    Direction,
    MessageStatus,
    OutboxKind,
)
from bot.engine.contacts import Address, reach
from bot.render import format_when
from bot.store.models import Case, Contact, Message, Outbox
from flows.interim import contact_zone, earliest_send, gets_updates

if TYPE_CHECKING:
    from bot.core import Core  # annotations only: the engine must not load the registry


def customer_context(
    case: Case | None, contact: Contact, core: Core, *, with_link: bool = True
) -> dict[str, Any]:
    """What customer templates may see: plain values, never an ORM object (so never a note).
    `with_link=False` skips signing a chat link nobody will read (the chat page itself)."""
    zone = str(contact_zone(contact, core.config))
    context: dict[str, Any] = {
        "program": core.config.program.model_dump(),
        "contact": {"name": contact.name or "", "first_name": (contact.name or "").split(" ")[0]},
    }
    if case is not None:
        reason = core.config.waiting_reasons.get(case.waiting_reason or "")
        context["case"] = {
            "id": case.id,
            "label": case.label,
            "ref": case.ref or "",
            "subject": case.subject,
            "status": str(case.status),
            "priority": case.priority,
            "waiting_reason": reason.label if reason else "",
            "eta": format_when(case.eta, zone),
            "resolution": case.resolution or "",
            "latest_update": case.latest_update or "",
            "next_update": "",  # filled in by queue_to_contact, which knows the channel
            # The case's web chat page; templates may offer it ("or reply at ...").
            "webchat_url": core.links.url(case) if core.links and with_link else "",
        }
    return context


def queue_to_contact(
    session: Session,
    core: Core,
    *,
    contact: Contact,
    case: Case | None,
    template: str,
    kind: OutboxKind,
    now: datetime,
    extra: dict[str, Any] | None = None,
    address: Address | None = None,
    to_opted_out: bool = False,
    due_at: datetime | None = None,
) -> Message | None:
    """Render a template for the contact and queue it; None when the contact cannot be reached.

    Replies go back where the customer wrote from (`address`); proactive messages go to the
    contact's preferred channel, after their quiet hours.
    """
    address = address or reach(contact)
    if address is None or (address.channel in contact.opted_out and not to_opted_out):
        return None
    context = customer_context(case, contact, core) | (extra or {})
    if case is not None and case.next_update_at is not None and gets_updates(case):
        # Promise the next update when it will really arrive: after any quiet hours.
        next_send = earliest_send(case.next_update_at, contact, address.channel, core.config)
        context["case"]["next_update"] = format_when(
            next_send, str(contact_zone(contact, core.config))
        )
    body = core.templates.render(address.channel, template, context)
    # Slack gets Block Kit (e.g. Confirm / Reopen buttons) where the channel has a layout for it.
    blocks = core.templates.render_blocks(address.channel, template, context | {"text": body})
    send_after = earliest_send(now, contact, address.channel, core.config)
    return enqueue(
        session,
        address=address,
        body=body,
        template=template,
        kind=kind,
        now=now,
        case_id=case.id if case else None,
        contact_id=contact.id,
        to_opted_out=to_opted_out,
        not_before=send_after if kind in PROACTIVE else now,
        blocks=blocks,
        due_at=due_at,
    )


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
    """Store an outbound message and its outbox row; the sender job does the sending."""
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
    return message
