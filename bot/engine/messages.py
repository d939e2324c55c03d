"""What a contact reads: the template context a customer template may see, the message
rendered for their channel (the one place a customer's message is rendered), and queueing it
for the right address at a decent hour. The outbox (bot/outbox/) only stores and sends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from bot.domain import PROACTIVE, OutboxKind
from bot.engine.contacts import Address, reach
from bot.outbox.queue import enqueue
from bot.render import format_when
from bot.store.models import Case, Contact, Message
from channels.catalog import ChannelName, traits
from channels.segments import transliterate
from flows.interim import contact_zone, earliest_send, gets_updates, update_goes_at
from flows.promise import promise_of

if TYPE_CHECKING:
    from bot.core import Core  # annotations only: the engine must not load the registry


def customer_context(
    case: Case | None,
    contact: Contact,
    core: Core,
    *,
    with_link: bool = True,
    channel: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """What customer templates may see: plain values, never an ORM object (so never a note).
    `with_link=False` skips signing a chat link nobody will read (the chat page itself).
    Given the `channel` the message goes out on, `case.next_update` says when the next update
    will really arrive there: at its turn after any quiet hours, as the worker will send it.

    The ETA and resolution are the case's promise (flows/promise.py) as of `at`, when the
    message is read (default now): `case.eta` is empty once the time has passed, and
    `case.eta_missed` then says we are late."""
    zone = str(contact_zone(contact, core.config))
    locale = contact_locale(contact, core)
    at = at or core.clock.now()
    context: dict[str, Any] = {
        "program": core.config.program.for_locale(locale),
        "contact": {"name": contact.name or "", "first_name": (contact.name or "").split(" ")[0]},
    }
    if case is not None:
        reason = core.config.waiting_reasons.get(case.waiting_reason or "")
        promise = promise_of(case, at)
        context["case"] = {
            "id": case.id,
            "label": case.label,
            "ref": case.ref or "",
            "subject": case.subject,
            "status": str(case.status),
            "priority": case.priority,
            "waiting_reason": reason.label if reason else "",
            "eta": format_when(promise.eta, zone, locale),
            "eta_missed": promise.eta_missed,
            "resolution": promise.resolution or "",
            "latest_update": case.latest_update or "",
            "next_update": "",
            # The case's web chat page; templates may offer it ("or reply at ...").
            "webchat_url": core.links.url(case) if core.links and with_link else "",
        }
        if channel is not None and case.next_update_at is not None and gets_updates(case):
            next_send = update_goes_at(case.next_update_at, contact, channel, core.config)
            context["case"]["next_update"] = format_when(next_send, zone, locale)
    return context


def contact_locale(contact: Contact, core: Core) -> str:
    """The language a contact reads: their own, else the program's."""
    return contact.locale or core.config.program.locale


@dataclass(frozen=True)
class Rendered:
    body: str
    blocks: list[dict[str, Any]] | None = None  # buttons and layout, where the channel has them


def render_message(
    core: Core,
    channel: str,
    template: str,
    context: dict[str, Any],
    *,
    locale: str | None = None,
) -> Rendered:
    """A contact's message for `template` on `channel` in `locale`: its text, and on a channel
    that carries buttons its Block Kit layout (Confirm / Reopen) when the channel has one.
    An SMS is transliterated to GSM-7 where `channels.sms.transliterate` asks for it, so what
    is stored, counted and sent is the same text."""
    body = core.templates.render(channel, template, context, locale=locale)
    if channel == ChannelName.SMS and core.config.channels.sms.transliterate:
        body = transliterate(body)
    if not traits(channel).buttons:
        return Rendered(body)
    blocks = core.templates.render_blocks(
        channel, template, context | {"text": body}, locale=locale
    )
    return Rendered(body, blocks)


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
    send_after = earliest_send(now, contact, address.channel, core.config)
    not_before = send_after if kind in PROACTIVE else now
    context = customer_context(case, contact, core, channel=address.channel, at=not_before)
    message = render_message(
        core,
        address.channel,
        template,
        context | (extra or {}),
        locale=contact_locale(contact, core),
    )
    return enqueue(
        session,
        address=address,
        body=message.body,
        template=template,
        kind=kind,
        now=now,
        case_id=case.id if case else None,
        contact_id=contact.id,
        to_opted_out=to_opted_out,
        not_before=not_before,
        blocks=message.blocks,
        due_at=due_at,
    )
