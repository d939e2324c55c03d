"""The answer to STATUS: the case asked about, then one line for each of the contact's other
open cases, so a customer with two cases hears about both. On SMS the list is cut to what
`channels.sms.max_segments` allows ("...and 2 more")."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain import CaseStatus
from bot.engine.messages import contact_locale, customer_context, render_message
from bot.store.models import Case, Contact
from channels.catalog import ChannelName
from channels.segments import count_segments

if TYPE_CHECKING:
    from bot.core import Core  # annotations only: the engine must not load the registry

STILL_OPEN = (CaseStatus.OPEN, CaseStatus.WAITING, CaseStatus.RESOLVED)
MOST_LISTED = 20  # a contact with more open cases than this is a business account: see /admin


def other_cases(
    session: Session, core: Core, case: Case, contact: Contact, *, channel: str, at: datetime
) -> dict[str, Any]:
    """The `others` (and `more`, how many did not fit) the status template lists after `case`."""
    found = session.scalars(
        select(Case)
        .where(Case.contact_id == contact.id, Case.id != case.id, Case.status.in_(STILL_OPEN))
        .order_by(Case.id)
        .limit(MOST_LISTED)
    )
    others = [
        customer_context(other, contact, core, with_link=False, at=at)["case"] for other in found
    ]
    if channel != ChannelName.SMS:
        return {"others": others, "more": 0}
    base = customer_context(case, contact, core, channel=channel, at=at)
    locale, limit = contact_locale(contact, core), core.config.channels.sms.max_segments
    for shown in range(len(others), 0, -1):
        listed = {"others": others[:shown], "more": len(others) - shown}
        body = render_message(core, channel, "status", base | listed, locale=locale).body
        if count_segments(body).segments <= limit:
            return listed
    return {"others": [], "more": len(others)}
