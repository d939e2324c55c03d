"""What the web chat page shows of a case: its status, what the customer may answer, and the
public timeline. The timeline is every message the customer and the team exchanged about the
case on any channel; alerts and notes are never messages, so they can never show here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import Core
from bot.domain import CaseStatus, Direction, MessageStatus
from bot.engine.contacts import reach
from bot.engine.messages import contact_locale, customer_context
from bot.render import format_when
from bot.store.models import Case, Contact, Message, Outbox
from bot.store.records import iso
from channels.catalog import ChannelName
from channels.webchat import page_words
from flows.confirmation import in_csat_window, in_reopen_window
from flows.interim import contact_zone

# Outbound messages show once they left the outbox (a failed text still shows here: the page
# is where the customer can read it anyway); queued and skipped ones do not.
SHOWN_OUTBOUND = (
    MessageStatus.SENT,
    MessageStatus.SIMULATED,
    MessageStatus.DELIVERED,
    MessageStatus.READ,
    MessageStatus.UNDELIVERED,
    MessageStatus.FAILED,
)
# A message younger than this may still be joined by an older id whose transaction has not
# committed yet; the cursor waits behind it, so polling never skips one.
SETTLE = timedelta(seconds=30)
PAGE = 500


@dataclass
class Timeline:
    messages: list[dict[str, Any]]
    cursor: int  # the next poll asks for ids after this; nothing at or below it can still appear


def case_view(core: Core, case: Case) -> dict[str, Any]:
    """The status card: where the case stands, in the customer's own time zone. The next update
    is when it really reaches them on the channel it goes out on (after that channel's quiet
    hours), as every message says it."""
    address = reach(case.contact)
    channel = address.channel if address else ChannelName.WEBCHAT
    context = customer_context(case, case.contact, core, with_link=False, channel=channel)
    locale = contact_locale(case.contact, core)
    view = context["case"]
    return {
        "label": view["label"],
        "subject": case.subject,
        "title": core.templates.render(ChannelName.WEBCHAT, "case_title", context, locale=locale),
        "status": view["status"],
        "status_text": core.templates.render(
            ChannelName.WEBCHAT, "status_text", context, locale=locale
        ),
        "eta_text": view["eta"],
        "eta_missed": view["eta_missed"],  # the time we gave has passed: the card says so
        "next_update_text": view["next_update"],
        "resolution": view["resolution"],
        "lang": locale,  # the page's <html lang>, so browsers and screen readers speak it
    }


def answer_state(core: Core, case: Case, now: datetime) -> dict[str, Any]:
    """Which buttons the page offers: Confirm/Reopen, the 1-5 score, or a late Reopen."""
    awaiting = None
    if case.status == CaseStatus.RESOLVED:
        awaiting = "confirmation"
    elif case.status == CaseStatus.CLOSED and in_csat_window(case, core.config, now):
        awaiting = "rating"
    can_reopen = (
        awaiting is None
        and case.status == CaseStatus.CLOSED
        and in_reopen_window(case, core.config, now)
    )
    return {"awaiting": awaiting, "can_reopen": can_reopen}


def timeline(session: Session, core: Core, case: Case, after: int, now: datetime) -> Timeline:
    """The case's public messages with ids after `after`, oldest first, and the next cursor."""
    rows = session.execute(
        select(Message, Outbox.sent_at)
        .outerjoin(Outbox, Outbox.message_id == Message.id)
        .where(Message.case_id == case.id, Message.id > after)
        .order_by(Message.id)
        .limit(PAGE)
    ).all()
    authors = message_authors(core, case.contact)
    zone = str(contact_zone(case.contact, core.config))
    locale = contact_locale(case.contact, core)
    shown, cursor, settled = [], after, True
    for message, sent_at in rows:
        visible = message.direction == Direction.IN or message.status in SHOWN_OUTBOUND
        if visible:
            shown.append(message_view(message, sent_at, authors, zone, locale))
        # The cursor moves past a message only once whether it shows can no longer change.
        still_open = message.status == MessageStatus.QUEUED or message.at > now - SETTLE
        settled = settled and not still_open
        if settled:
            cursor = message.id
    return Timeline(shown, cursor)


@dataclass(frozen=True)
class Authors:
    """Who each message is shown as written by: the customer reads their own messages as
    "You" in their language (page_words.json.j2), the team's as the program's name."""

    customer: str
    team: str


def message_authors(core: Core, contact: Contact) -> Authors:
    words = page_words(core.templates, core.config, contact_locale(contact, core))
    return Authors(customer=words["you"], team=core.config.program.name)


def message_view(
    message: Message,
    sent_at: datetime | None,
    authors: Authors,
    zone: str,
    locale: str | None = None,
) -> dict[str, Any]:
    at = sent_at or message.at  # a text held for quiet hours shows when it really went out
    from_customer = message.direction == Direction.IN
    return {
        "id": message.id,
        "from": "customer" if from_customer else "team",
        "author": authors.customer if from_customer else authors.team,
        "body": message.body,
        "at": iso(at),
        "at_text": format_when(at, zone, locale),
    }


def hold_poster(session: Session, contact_id: int) -> None:
    """Lock the contact's row until the transaction ends, so that one contact's posts are
    counted against the rate limit and stored one after another (PostgreSQL; on SQLite the
    write transaction, begun with BEGIN IMMEDIATE, already holds every other writer back)."""
    session.execute(select(Contact.id).where(Contact.id == contact_id).with_for_update())


def recent_posts(session: Session, address: str, since: datetime) -> list[datetime]:
    """When this web chat contact posted since `since`: the rate limit counts these."""
    return list(
        session.scalars(
            select(Message.at)
            .where(
                Message.channel == ChannelName.WEBCHAT,
                Message.direction == Direction.IN,
                Message.address == address,
                Message.at >= since,
            )
            .order_by(Message.at)
        )
    )


def stored_post(session: Session, provider_id: str) -> Message | None:
    """The customer's post with this id, when the page already sent it once."""
    return session.scalar(
        select(Message).where(
            Message.channel == ChannelName.WEBCHAT, Message.provider_id == provider_id
        )
    )
