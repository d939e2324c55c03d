"""What agents, the API, the CLI, the worker and customers do to a case. Each action checks the
transition, changes the case, writes the log and queues messages in the caller's transaction:
nothing is sent here.

This module is the one writer of a case's status (`open_case` gives a new case its first one). Every
move is a function here: `put_waiting`, `resolve`, `confirm`, `request_reopen`/`reopen`, `close` and
`auto_close`, each with the fields and log entries that belong to it. Agents' tools call them
directly. A customer's words are read by the conversation in flows/confirmation.py, whose handlers
only decide: they return the status the case moves to, and bot/engine/inbound.py hands that decision
to `move_for_customer`, which picks the move. So changing a transition means changing it here, and
nothing else can overwrite it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain import (
    CUSTOMER,
    PRIORITIES,
    AlertKind,
    CaseStatus,
    CloseReason,
    LogEvent,
    NoteKind,
    OutboxKind,
)
from bot.engine.alerts import queue_alert
from bot.engine.contacts import find_or_create, reach
from bot.engine.messages import contact_locale, customer_context, queue_to_contact, render_message
from bot.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from bot.ledger import chain as log
from bot.outbox.stale import drop_pending_updates
from bot.render import FALLBACK_CHANNEL, format_span
from bot.store.models import MAX_ID, AuditEvent, Case, Contact, Message, Note, NoteRevision
from channels.catalog import ChannelName
from channels.segments import Segments, count_segments, describe
from flows.interim import (
    first_update_at,
    following_update_at,
    gets_updates,
)

if TYPE_CHECKING:
    from bot.core import Core  # annotations only: the engine must not load the registry

OPEN_STATES = (CaseStatus.OPEN, CaseStatus.WAITING)


def audit(
    session: Session, *, actor: str, action: str, case_id: int | None, at: datetime, **detail: Any
) -> None:
    session.add(AuditEvent(at=at, actor=actor, action=action, case_id=case_id, detail=detail))


def get_case(session: Session, case_id: int, *, lock: bool = False) -> Case:
    if not 0 < case_id <= MAX_ID:  # beyond any id the database can hold
        raise NotFound(f"case #{case_id} does not exist", field="id")
    query = select(Case).where(Case.id == case_id)
    case = session.scalar(query.with_for_update() if lock else query)
    if case is None:
        raise NotFound(f"case #{case_id} does not exist", field="id")
    return case


def _require(case: Case, action: str, *allowed: CaseStatus) -> None:
    if case.status not in allowed:
        raise InvalidTransition(case.id, str(case.status), action)


def open_case(
    session: Session,
    core: Core,
    *,
    subject: str,
    contact: dict[str, Any],
    actor: str,
    now: datetime,
    priority: str = "P3",
    category: str | None = None,
    ref: str | None = None,
    assignee: str | None = None,
    eta: datetime | None = None,
) -> Case:
    subject = (subject or "").strip()
    if not subject:
        raise InvalidInput("a case needs a subject", field="subject")
    if len(subject) > 300:
        raise InvalidInput("the subject is longer than 300 characters", field="subject")
    if priority not in PRIORITIES:
        raise InvalidInput(f"priority must be one of {', '.join(PRIORITIES)}", field="priority")
    if ref and session.scalar(select(Case.id).where(Case.ref == ref)) is not None:
        raise Conflict(f"a case with ref {ref!r} already exists", field="ref")
    person: Contact = find_or_create(session, core.config, now=now, **contact)
    case = Case(
        subject=subject,
        priority=priority,
        category=category or None,
        ref=ref or None,
        assignee=assignee,
        eta=eta,
        contact=person,
        status=CaseStatus.OPEN,
        paused=False,
        reopen_count=0,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    case.next_update_at = first_update_at(case, core.config, now)
    log.append(
        session,
        event=LogEvent.CASE_OPENED,
        at=now,
        actor=actor,
        case_id=case.id,
        detail={
            "subject": subject,
            "priority": priority,
            "category": category,
            "ref": ref,
            "assignee": assignee,
        },
    )
    audit(session, actor=actor, action="case_opened", case_id=case.id, at=now)
    return case


def send_update(
    session: Session, core: Core, case: Case, *, text: str, actor: str, now: datetime
) -> Message | None:
    """`/case update`: send the agent's words now and restart the cadence. Returns the queued
    message, or None when the customer cannot be reached on any channel."""
    _require(case, "sent an update", *OPEN_STATES)
    if not text.strip():
        raise InvalidInput("the update has no text", field="text")
    case.latest_update = text.strip()
    if gets_updates(case):
        case.next_update_at = following_update_at(case, core.config, now)
    sent = fit_sms(
        core,
        case,
        template="agent_update",
        field="text",
        text=case.latest_update,
        put=lambda context, words: context.update(text=words),
    )
    message = queue_to_contact(
        session,
        core,
        contact=case.contact,
        case=case,
        template="agent_update",
        kind=OutboxKind.INTERIM,
        now=now,
        extra={"text": sent},
    )
    _touch(session, case, actor, "update_sent", now)
    return message


LINK_CUT = "... "  # between the cut text and the chat link; three dots stay GSM-7 ("…" is not)


def fit_sms(
    core: Core,
    case: Case,
    *,
    template: str,
    field: str,
    text: str,
    put: Callable[[dict[str, Any], str], None],
) -> str:
    """The agent's `text` as the customer's SMS may carry it, checked before anything is sent.

    When the contact is reached by SMS, `template` is rendered with `text` (placed in the
    context by `put`) as the outbox would render it, and counted: over
    `channels.sms.max_segments` is refused (InvalidInput, a 422 naming `field`), or with
    `channels.sms.long_text: link` the text is cut at a word and ends with the chat link. A
    contact reached on another channel gets `text` whole: segments are an SMS cost.
    """
    contact = case.contact
    address = reach(contact)
    if address is None or address.channel != ChannelName.SMS:
        return text
    base = customer_context(case, contact, core, channel=address.channel)
    locale = contact_locale(contact, core)  # the customer's wording is what gets counted

    def counted(words: str) -> Segments:
        context = base | {"case": dict(base["case"])}  # `put` may write into the case
        put(context, words)
        rendered = render_message(core, address.channel, template, context, locale=locale)
        return count_segments(rendered.body)

    sms = core.config.channels.sms
    whole = counted(text)
    if whole.segments <= sms.max_segments:
        return text
    link = str(base["case"]["webchat_url"])
    if sms.long_text == "link" and link:
        cut = _cut_to_fit(text, link, lambda words: counted(words).segments <= sms.max_segments)
        if cut is not None:
            return cut
    raise InvalidInput(
        f"{field}: the customer's SMS would take {describe(whole)}; "
        f"channels.sms.max_segments allows {sms.max_segments}. "
        + _shorten_hint(whole, sms.long_text == "link" and not link),
        field=field,
    )


def _shorten_hint(whole: Segments, no_link: bool) -> str:
    if no_link:
        return "Shorten it: it cannot be cut to the chat link, as web chat links are off."
    if whole.encoding == "UCS-2":
        return "Shorten it, or leave out the characters that make it UCS-2."
    return "Shorten it."


def _cut_to_fit(text: str, link: str, fits: Callable[[str], bool]) -> str | None:
    """The longest cut of `text` at a word, ended with `link`, that `fits`; None when not
    even its first word does. The count only grows with the cut, so bisect the word ends."""
    ends = [i for i in range(1, len(text)) if text[i].isspace() and not text[i - 1].isspace()]
    low, high, best = 0, len(ends) - 1, None
    while low <= high:
        middle = (low + high) // 2
        candidate = f"{text[: ends[middle]]}{LINK_CUT}{link}"
        if fits(candidate):
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def _case_with(core: Core, case: Case, **values: Any) -> dict[str, Any]:
    """Template context that shows the case with `values` in place of its own."""
    return {"case": customer_context(case, case.contact, core)["case"] | values}


def put_waiting(
    session: Session,
    core: Core,
    case: Case,
    *,
    reason: str,
    actor: str,
    now: datetime,
    eta: datetime | None = None,
) -> None:
    """Move to `waiting`, tell the customer why at once, and restart the cadence."""
    _require(case, "put on waiting", *OPEN_STATES)
    if reason not in core.config.waiting_reasons:
        known = ", ".join(core.config.waiting_reasons)
        raise InvalidInput(
            f"unknown waiting reason {reason!r}; use one of: {known}", field="reason"
        )
    case.status, case.waiting_reason = CaseStatus.WAITING, reason
    drop_pending_updates(session, case.id, "the case started waiting")
    if eta is not None:
        case.eta, case.eta_missed_at = eta, None
    own = f"delay_{reason}"
    template = own if core.templates.has(FALLBACK_CHANNEL, own) else "delay_notice"
    queue_to_contact(
        session,
        core,
        contact=case.contact,
        case=case,
        template=template,
        kind=OutboxKind.DELAY_NOTICE,
        now=now,
        extra={"reason": reason},
    )
    if not case.paused:
        case.next_update_at = following_update_at(case, core.config, now)
    _touch(session, case, actor, "waiting", now, reason=reason)


def set_eta(session: Session, case: Case, *, eta: datetime, actor: str, now: datetime) -> None:
    _require(case, "given an ETA", *OPEN_STATES)
    case.eta, case.eta_missed_at = eta, None
    _touch(session, case, actor, "eta_set", now, eta=eta.isoformat())


def set_cadence(
    session: Session, core: Core, case: Case, *, every: timedelta, actor: str, now: datetime
) -> None:
    if every < timedelta(minutes=1):
        raise InvalidInput("a cadence shorter than 1m would flood the customer", field="every")
    if case.status == CaseStatus.CLOSED:  # a closed case gets no updates to space out
        raise InvalidTransition(case.id, str(case.status), "given a cadence")
    case.cadence_every_s = int(every.total_seconds())
    if gets_updates(case):
        case.next_update_at = following_update_at(case, core.config, now)
    _touch(session, case, actor, "cadence_set", now, every_s=case.cadence_every_s)


def pause(session: Session, case: Case, *, actor: str, now: datetime) -> None:
    _require(case, "paused", *OPEN_STATES)
    if case.paused:
        raise Conflict(f"updates for {case.label} are already paused", field="paused")
    case.paused, case.next_update_at = True, None
    drop_pending_updates(session, case.id, "updates were paused")
    _touch(session, case, actor, "paused", now)


def resume(session: Session, core: Core, case: Case, *, actor: str, now: datetime) -> None:
    _require(case, "resumed", *OPEN_STATES)
    if not case.paused:
        raise Conflict(f"updates for {case.label} are not paused", field="paused")
    case.paused = False
    case.next_update_at = following_update_at(case, core.config, now)
    _touch(session, case, actor, "resumed", now)


def resolve(
    session: Session, core: Core, case: Case, *, resolution: str, actor: str, now: datetime
) -> None:
    """Propose the case as fixed and ask the customer to confirm."""
    _require(case, "resolved", *OPEN_STATES)
    if not resolution.strip():
        raise InvalidInput("say what was done: the resolution is empty", field="resolution")
    case.status, case.resolution, case.resolved_at = CaseStatus.RESOLVED, resolution.strip(), now
    drop_pending_updates(session, case.id, "the case was resolved")
    case.next_update_at = None
    case.confirmation_requested_at = case.reminder_sent_at = case.confirm_due_at = None
    case.clarified_in = None
    sent = fit_sms(
        core,
        case,
        template="confirm_request",
        field="resolution",
        text=resolution.strip(),
        put=lambda context, words: context["case"].update(resolution=words),
    )
    log.append(
        session,
        event=LogEvent.RESOLUTION_PROPOSED,
        at=now,
        actor=actor,
        case_id=case.id,
        detail={"resolution": case.resolution},
    )
    queue_to_contact(
        session,
        core,
        contact=case.contact,
        case=case,
        template="confirm_request",
        kind=OutboxKind.CONFIRM_REQUEST,
        now=now,
        # The whole resolution stays on the case; only a cut one goes in the SMS.
        extra=None if sent == resolution.strip() else _case_with(core, case, resolution=sent),
    )
    _touch(session, case, actor, "resolved", now)


def confirm(
    session: Session,
    core: Core,
    case: Case,
    *,
    actor: str,
    now: datetime,
    message_id: int | None = None,
    channel: str | None = None,
) -> None:
    """The customer says it is fixed: log it and close. Thanking them and asking for a score
    (when CSAT is on) is the conversation's answer, in flows/confirmation.py."""
    _require(case, "confirmed", CaseStatus.RESOLVED)
    log.append(
        session,
        event=LogEvent.CONFIRMED,
        at=now,
        actor=actor,
        case_id=case.id,
        channel=channel,
        message_id=message_id,
    )
    _close(case, CloseReason.CONFIRMED, now)


def request_reopen(
    session: Session,
    core: Core,
    case: Case,
    *,
    words: str,
    now: datetime,
    message_id: int | None,
    channel: str | None,
    actor: str,
    upset: float | None = None,
) -> None:
    """The customer says it is not fixed: log their words, reopen, and alert the assignee
    (and the supervisors when `upset` carries a strongly negative sentiment score)."""
    log.append(
        session,
        event=LogEvent.REOPEN_REQUESTED,
        at=now,
        actor=actor,
        case_id=case.id,
        channel=channel,
        message_id=message_id,
        detail={"words": words},
    )
    reopen(session, core, case, actor=actor, now=now)
    queue_alert(session, core, case=case, kind=AlertKind.REOPEN, now=now, words=words, upset=upset)


def move_for_customer(
    session: Session,
    core: Core,
    case: Case,
    to: CaseStatus,
    *,
    message: Message,
    now: datetime,
    upset: float | None = None,
) -> bool:
    """Apply what the customer's conversation decided (a handler's return in
    flows/confirmation.py): closed is their YES (`confirm`), open is their REOPEN
    (`request_reopen`); the status the case is already in changes nothing. No other move is a
    customer's to make. Returns True when the move itself alerted the team (a reopen does)."""
    if to == case.status:
        return False
    if to == CaseStatus.CLOSED:
        confirm(
            session,
            core,
            case,
            actor=CUSTOMER,
            now=now,
            message_id=message.id,
            channel=message.channel,
        )
        return False
    if to == CaseStatus.OPEN:
        request_reopen(
            session,
            core,
            case,
            words=message.body,
            now=now,
            message_id=message.id,
            channel=message.channel,
            actor=CUSTOMER,
            upset=upset,
        )
        return True
    raise InvalidTransition(case.id, str(case.status), f"moved to {to} by the customer")


def reopen(session: Session, core: Core, case: Case, *, actor: str, now: datetime) -> None:
    _require(case, "reopened", CaseStatus.RESOLVED, CaseStatus.CLOSED)
    case.status, case.paused, case.waiting_reason = CaseStatus.OPEN, False, None
    case.reopen_count += 1
    # The fix that did not hold is no longer what we did; its `resolution_proposed` entry in
    # the log keeps it.
    case.resolution = None
    case.resolved_at = case.closed_at = case.close_reason = None
    case.confirmation_requested_at = case.reminder_sent_at = case.confirm_due_at = None
    case.csat_requested_at = case.csat_score = None
    case.clarified_in = None
    case.next_update_at = first_update_at(case, core.config, now)
    log.append(
        session,
        event=LogEvent.REOPENED,
        at=now,
        actor=actor,
        case_id=case.id,
        detail={"reopen_count": case.reopen_count},
    )
    _touch(session, case, actor, "reopened", now)


def close(session: Session, core: Core, case: Case, *, actor: str, now: datetime) -> None:
    """An agent closes the case without the customer's word (e.g. the ticket was withdrawn)."""
    _require(case, "closed", CaseStatus.OPEN, CaseStatus.WAITING, CaseStatus.RESOLVED)
    log.append(session, event=LogEvent.CLOSED, at=now, actor=actor, case_id=case.id)
    _close(case, CloseReason.AGENT, now)
    drop_pending_updates(session, case.id, "the case was closed")
    _tell_closed(session, core, case, now)
    _touch(session, case, actor, "closed", now)


def revoke_webchat_links(session: Session, case: Case, *, actor: str, now: datetime) -> None:
    """Every web chat link handed out for the case stops working (a link sent to the wrong
    person, say); links made from now on carry the new version."""
    case.webchat_link_version += 1
    _touch(session, case, actor, "webchat_links_revoked", now)


def auto_close(session: Session, core: Core, case: Case, *, now: datetime, actor: str) -> None:
    _require(case, "auto-closed", CaseStatus.RESOLVED)
    log.append(
        session,
        event=LogEvent.AUTO_CLOSED,
        at=now,
        actor=actor,
        case_id=case.id,
        detail={
            "asked_at": case.confirmation_requested_at.isoformat()
            if case.confirmation_requested_at
            else None
        },
    )
    _close(case, CloseReason.AUTO_CLOSED, now)
    drop_pending_updates(session, case.id, "the case was closed")
    _tell_closed(session, core, case, now)


def _tell_closed(session: Session, core: Core, case: Case, now: datetime) -> None:
    """A case closed without the customer's YES: say so, and how to reopen it
    (`confirmation.closing_message`; <channel>/case_closed templates)."""
    if not core.config.confirmation.closing_message:
        return
    locale = contact_locale(case.contact, core)
    queue_to_contact(
        session,
        core,
        contact=case.contact,
        case=case,
        template="case_closed",
        kind=OutboxKind.CLOSING_NOTICE,
        now=now,
        extra={
            "close_reason": str(case.close_reason),
            "reopen_within": format_span(core.config.confirmation.reopen_window, locale),
        },
    )


def _close(case: Case, reason: CloseReason, now: datetime) -> None:
    case.status, case.close_reason, case.closed_at = CaseStatus.CLOSED, str(reason), now
    case.next_update_at = case.confirm_due_at = None
    case.clarified_in = None
    case.updated_at = now


def assign(session: Session, case: Case, *, assignee: str, actor: str, now: datetime) -> None:
    case.assignee = assignee
    _touch(session, case, actor, "assigned", now, assignee=assignee)


def add_note(
    session: Session,
    case: Case,
    *,
    kind: str,
    text: str,
    author: str,
    now: datetime,
    tags: list[str] | None = None,
) -> Note:
    if kind not in {k.value for k in NoteKind}:
        kinds = ", ".join(k.value for k in NoteKind)
        raise InvalidInput(f"note kind must be one of: {kinds}", field="kind")
    if not text.strip():
        raise InvalidInput("the note has no text", field="text")
    note = Note(
        case_id=case.id,
        kind=kind,
        text=text.strip(),
        tags=sorted(set(tags or [])),
        author=author,
        created_at=now,
        updated_at=now,
    )
    session.add(note)
    session.flush()
    audit(session, actor=author, action="note_added", case_id=case.id, at=now, note_id=note.id)
    return note


def edit_note(
    session: Session,
    note: Note,
    *,
    text: str,
    editor: str,
    now: datetime,
    kind: str | None = None,
    tags: list[str] | None = None,
) -> Note:
    """Change a note; what it said before is kept as a revision, and the edit is audited."""
    if not text.strip():
        raise InvalidInput("the note has no text", field="text")
    if kind is not None and kind not in {k.value for k in NoteKind}:
        raise InvalidInput(f"note kind must be one of: {', '.join(NoteKind)}", field="kind")
    session.add(
        NoteRevision(
            note_id=note.id,
            kind=note.kind,
            text=note.text,
            tags=note.tags,
            edited_by=editor,
            edited_at=now,
        )
    )
    note.text, note.updated_at = text.strip(), now
    note.kind = kind or note.kind
    note.tags = sorted(set(tags)) if tags is not None else note.tags
    audit(
        session, actor=editor, action="note_edited", case_id=note.case_id, at=now, note_id=note.id
    )
    return note


def _touch(
    session: Session, case: Case, actor: str, action: str, now: datetime, **detail: Any
) -> None:
    case.updated_at = now
    audit(session, actor=actor, action=action, case_id=case.id, at=now, **detail)
