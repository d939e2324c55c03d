"""Contacts: finding them, reaching them, and their per-channel opt-out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import Config, check_locale, check_timezone
from bot.errors import Conflict, InvalidInput
from bot.phones import locale_for_number, to_e164, zone_for_number
from bot.render import language_of
from bot.store.models import Contact
from channels.catalog import channel_names, traits
from channels.webchat import contact_of_address, webchat_address
from flows.vocabulary import DEFAULT_LANGUAGES


@dataclass(frozen=True)
class Address:
    channel: str
    to: str


def address_on(contact: Contact, channel: str) -> str | None:
    """The contact's address on a channel: the column its traits name, or the contact itself
    for a channel without one (the web chat page is always there)."""
    field = traits(channel).address_field
    if field is None:
        return webchat_address(contact.id)
    value = getattr(contact, field)
    return str(value) if value else None


def addresses(contact: Contact) -> list[Address]:
    """Every way to reach the contact, preferred channel first."""
    found = [
        Address(channel, to)
        for channel in channel_names()
        if (to := address_on(contact, channel)) is not None
    ]
    found.sort(key=lambda a: a.channel != contact.channel)
    return found


def can_receive(contact: Contact, channel: str) -> bool:
    """False once the contact left the channel or its provider said the address is dead."""
    return channel not in contact.opted_out and channel not in (contact.unreachable or ())


def reach(contact: Contact) -> Address | None:
    """Where a proactive message goes: the preferred channel unless the contact left it."""
    for address in addresses(contact):
        if can_receive(contact, address.channel):
            return address
    return None


def find_by_address(session: Session, channel: str, sender: str) -> Contact | None:
    """The contact behind an inbound address, row-locked for the rest of the transaction.

    Locking the contact (before any case) makes concurrent messages from one person, such as
    STOP on two channels at once, decide and write opt-outs one after the other.
    """
    field = traits(channel).address_field
    if field is not None:
        query = select(Contact).where(getattr(Contact, field) == sender)
    elif (contact_id := contact_of_address(sender)) is not None:
        query = select(Contact).where(Contact.id == contact_id)
    else:
        return None
    return session.scalar(query.with_for_update())


def find_or_create(
    session: Session,
    config: Config,
    *,
    now: datetime,
    name: str | None = None,
    phone: str | None = None,
    slack_user_id: str | None = None,
    channel: str | None = None,
    timezone: str | None = None,
    locale: str | None = None,
) -> Contact:
    """The contact with this phone or Slack id, created (or completed) from what is given."""
    e164 = to_e164(phone, config.default_region, field="contact.phone") if phone else None
    if not e164 and not slack_user_id:
        raise InvalidInput("a contact needs a phone or a slack_user_id", field="contact")
    if channel is not None and channel not in channel_names():
        raise InvalidInput(
            f"channel must be one of {', '.join(channel_names())}", field="contact.channel"
        )
    if timezone is not None:
        try:
            check_timezone(timezone)  # the same check config.yaml gets
        except ValueError as exc:
            raise InvalidInput(str(exc), field="contact.timezone") from None
    if locale:
        try:
            locale = check_locale(locale)  # one spelling, as template file names use
        except ValueError as exc:
            raise InvalidInput(str(exc), field="contact.locale") from None
    contact = None
    if e164:
        contact = session.scalar(select(Contact).where(Contact.phone == e164))
    if contact is None and slack_user_id:
        contact = session.scalar(select(Contact).where(Contact.slack_user_id == slack_user_id))
    phone_changed = contact is not None and bool(e164) and contact.phone != e164
    if contact is None:
        contact = Contact(
            phone=e164,
            slack_user_id=slack_user_id,
            channel=channel or _first_channel(e164, slack_user_id),
            opted_out=[],
            created_at=now,
        )
        session.add(contact)
    for column, value, field in (
        (Contact.phone, e164, "contact.phone"),
        (Contact.slack_user_id, slack_user_id, "contact.slack_user_id"),
    ):
        if value and contact.id is not None:
            other = session.scalar(
                select(Contact.id).where(column == value, Contact.id != contact.id)
            )
            if other is not None:
                raise Conflict(f"{value} already belongs to another contact", field=field)
    for attr, value in (
        ("name", name),
        ("timezone", timezone),
        ("locale", locale),
        ("channel", channel),
        ("phone", e164),
        ("slack_user_id", slack_user_id),
    ):
        if value:
            setattr(contact, attr, value)
    _settle_zone(contact, config, given=timezone, phone_changed=phone_changed)
    _settle_locale(contact, config, given=locale, phone_changed=phone_changed)
    if phone_changed and contact.unreachable:  # a new number: its channels may reach it again
        contact.unreachable = [c for c in contact.unreachable if traits(c).address_field != "phone"]
    session.flush()
    return contact


def _settle_zone(
    contact: Contact, config: Config, *, given: str | None, phone_changed: bool
) -> None:
    """A zone given by a client wins for good. With none, the number says where the contact
    most likely is (bot/phones.py): a +61 mobile is in Sydney, a 415 number in Los Angeles, so
    quiet hours are the customer's own, not the ops zone's (a US contact centre in New York
    would otherwise text California at 05:00). A number spanning zones (a toll-free one) takes
    the ops zone when it is one of them. Only an inferred zone follows a new number."""
    if given:
        contact.timezone_inferred = False
    elif contact.phone and (
        contact.timezone is None or (phone_changed and contact.timezone_inferred)
    ):
        zone = zone_for_number(contact.phone, prefer=config.timezone)
        contact.timezone, contact.timezone_inferred = zone, zone is not None


def _settle_locale(
    contact: Contact, config: Config, *, given: str | None, phone_changed: bool
) -> None:
    """A locale given by a client (the CRM) wins for good. With none, a number from a country
    whose language keepposted speaks, other than the program's, gets that language (`es-MX`
    for +52) before the customer has written a word; their own words may correct it later
    (bot/engine/inbound.py). Only an inferred locale follows a new number."""
    if given:
        contact.locale_inferred = False
        return
    if not contact.phone or not (
        contact.locale is None or (phone_changed and contact.locale_inferred)
    ):
        return
    locale = locale_for_number(contact.phone, DEFAULT_LANGUAGES)
    if locale is not None and language_of(locale) == language_of(config.program.locale):
        locale = None  # the program's own language: its default locale already applies
    contact.locale, contact.locale_inferred = locale, locale is not None


def _first_channel(phone: str | None, slack_user_id: str | None) -> str:
    """A new contact's preferred channel: the first registered one its addresses reach."""
    given = {"phone": phone, "slack_user_id": slack_user_id}
    return next(name for name in channel_names() if given.get(traits(name).address_field or ""))


def set_opted_out(contact: Contact, channel: str, opted_out: bool) -> bool:
    """Record the contact leaving or rejoining a channel; True when anything changed."""
    current = set(contact.opted_out)
    wanted = current | {channel} if opted_out else current - {channel}
    if wanted == current:
        return False
    contact.opted_out = sorted(wanted)  # a new list, so SQLAlchemy sees the change
    return True


def set_unreachable(contact: Contact, channel: str) -> bool:
    """Stop sending on a channel whose address cannot get messages; True when it changed."""
    current = set(contact.unreachable or ())
    if channel in current:
        return False
    contact.unreachable = sorted(current | {channel})
    return True
