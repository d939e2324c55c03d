"""What /admin shows, read from the database: the case lists with their filters, and one case's
whole record (timeline, notes with their history, summary, log with its verification state and
the audit trail). Plain dicts and dataclasses; the templates only lay them out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.orm import Session, joinedload

from bot.core import Core
from bot.domain import CaseStatus, Direction
from bot.engine.summary import summarize
from bot.ledger.chain import verify_case
from bot.render import format_when
from bot.store.models import AuditEvent, Case, Contact, LogEntry, Message, Note, NoteRevision

PAGE_SIZE = 50
DUE_SOON = timedelta(hours=1)
OPEN_STATES = (CaseStatus.OPEN, CaseStatus.WAITING)


@dataclass(frozen=True)
class CaseView:
    """One of the lists a supervisor works from."""

    key: str
    title: str
    order: Any


VIEWS = {
    "open": CaseView("open", "Open", Case.updated_at.desc()),
    "waiting": CaseView("waiting", "Waiting", Case.updated_at.desc()),
    "due_soon": CaseView("due_soon", "Due soon", Case.next_update_at.asc()),
    "awaiting": CaseView("awaiting", "Awaiting confirmation", Case.confirmation_requested_at),
    "reopened": CaseView("reopened", "Reopened", Case.updated_at.desc()),
}


def _view_filter(view: str, now: datetime) -> ColumnElement[bool]:
    if view == "open":
        return Case.status == CaseStatus.OPEN
    if view == "waiting":
        return Case.status == CaseStatus.WAITING
    if view == "due_soon":  # the next interim update goes out within the hour (or is late)
        return and_(
            Case.status.in_(OPEN_STATES),
            Case.paused.is_(False),
            Case.next_update_at <= now + DUE_SOON,
        )
    if view == "awaiting":
        return Case.status == CaseStatus.RESOLVED
    if view == "reopened":  # the customer sent it back and it is not settled yet
        return and_(Case.reopen_count > 0, Case.status.in_(OPEN_STATES))
    return false()


@dataclass(frozen=True)
class CaseFilters:
    """The filters above every list; empty means any."""

    priority: str = ""
    category: str = ""
    assignee: str = ""
    channel: str = ""
    text: str = ""  # subject, ref, contact name or phone, or a case number

    @classmethod
    def from_args(cls, args: dict[str, str]) -> CaseFilters:
        return cls(**{name: args.get(name, "").strip()[:100] for name in cls.__dataclass_fields__})

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.priority:
            query = query.where(Case.priority == self.priority.upper())
        if self.category:
            query = query.where(Case.category == self.category)
        if self.assignee:
            query = query.where(Case.assignee == self.assignee)
        if self.channel:
            query = query.where(Contact.channel == self.channel)
        if self.text:
            like = f"%{self.text}%"
            matches: list[ColumnElement[bool]] = [
                Case.subject.ilike(like),
                Case.ref.ilike(like),
                Contact.name.ilike(like),
                Contact.phone.ilike(like),
            ]
            number = self.text.lstrip("#")
            if number.isascii() and number.isdigit() and len(number) < 18:  # not '²'
                matches.append(Case.id == int(number))
            query = query.where(or_(*matches))
        return query

    def active(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass
class CaseList:
    view: CaseView
    rows: list[dict[str, Any]]
    total: int
    page: int
    counts: dict[str, int]
    choices: dict[str, list[str]] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def list_cases(
    session: Session, core: Core, view: str, filters: CaseFilters, page: int, now: datetime
) -> CaseList:
    chosen = VIEWS.get(view, VIEWS["open"])
    base = filters.apply(select(Case).join(Case.contact))
    where = _view_filter(chosen.key, now)
    total = session.scalar(base.where(where).with_only_columns(func.count(Case.id)).order_by(None))
    cases = session.scalars(
        base.where(where)
        .options(joinedload(Case.contact))
        .order_by(chosen.order, Case.id)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    counts = {
        key: session.scalar(
            base.where(_view_filter(key, now)).with_only_columns(func.count(Case.id)).order_by(None)
        )
        or 0
        for key in VIEWS
    }
    zone = core.config.timezone
    return CaseList(
        view=chosen,
        rows=[_row(case, zone, now) for case in cases],
        total=total or 0,
        page=page,
        counts=counts,
        choices=_choices(session),
    )


def _choices(session: Session) -> dict[str, list[str]]:
    """The values the filter menus offer: what the cases actually hold."""

    def distinct(column: Any) -> list[str]:
        return sorted(v for v in session.scalars(select(column).distinct()) if v)

    return {
        "priority": ["P1", "P2", "P3", "P4"],
        "category": distinct(Case.category),
        "assignee": distinct(Case.assignee),
        "channel": distinct(Contact.channel),
    }


def _row(case: Case, zone: str, now: datetime) -> dict[str, Any]:
    due = case.next_update_at if case.status in OPEN_STATES and not case.paused else None
    return {
        "id": case.id,
        "label": case.label,
        "ref": case.ref or "",
        "subject": case.subject,
        "priority": case.priority,
        "category": case.category or "",
        "status": str(case.status),
        "waiting_reason": case.waiting_reason or "",
        "paused": case.paused,
        "assignee": case.assignee or "",
        "contact": case.contact.name or case.contact.phone or case.contact.slack_user_id or "",
        "channel": case.contact.channel,
        "next_update": format_when(due, zone),
        "overdue": bool(due and due < now),
        "reopen_count": case.reopen_count,
        "updated": format_when(case.updated_at, zone),
    }


def case_record(session: Session, core: Core, case: Case) -> dict[str, Any]:
    """Everything the admin case page shows about one case."""
    zone = core.config.timezone
    told = summarize(session, case, zone, core.templates)
    entries = list(
        session.scalars(select(LogEntry).where(LogEntry.case_id == case.id).order_by(LogEntry.seq))
    )
    checked = verify_case(session, case.id)
    return {
        "case": _row(case, zone, core.clock.now())
        | {
            "resolution": case.resolution or "",
            "eta": format_when(case.eta, zone),
            "csat": case.csat_score,
            "contact_phone": case.contact.phone or "",
            "contact_slack": case.contact.slack_user_id or "",
            "contact_zone": case.contact.timezone or "",
            "opted_out": ", ".join(case.contact.opted_out),
            "created": format_when(case.created_at, zone),
        },
        "summary": told.sentences,
        "key_times": [(label, format_when(at, zone)) for label, at in told.key_times],
        "timeline": _timeline(session, case, entries, zone),
        "notes": notes_with_history(
            session,
            session.scalars(
                select(Note).where(Note.case_id == case.id).order_by(Note.created_at.desc())
            ).all(),
            zone,
        ),
        "log": [_entry(entry, zone) for entry in entries],
        "log_ok": checked.ok,
        "log_problems": [problem.describe() for problem in checked.problems],
        "audit": _audit(session, case.id, zone),
    }


def _timeline(
    session: Session, case: Case, entries: Sequence[LogEntry], zone: str
) -> list[dict[str, Any]]:
    """The messages both ways and the log's own events, oldest first."""
    items: list[tuple[datetime, int, dict[str, Any]]] = []
    for message in session.scalars(
        select(Message).where(Message.case_id == case.id).order_by(Message.at, Message.id)
    ):
        items.append(
            (
                message.at,
                0,
                {
                    "kind": "message",
                    "at": format_when(message.at, zone),
                    "who": "customer" if message.direction == Direction.IN else "team",
                    "channel": message.channel,
                    "body": message.body,
                    "status": str(message.status),
                    "intent": message.intent or "",
                    "sentiment": message.sentiment,
                },
            )
        )
    for entry in entries:
        if entry.message_id is None:  # a message's own event would repeat it
            items.append(
                (
                    entry.at,
                    1,
                    {
                        "kind": "event",
                        "at": format_when(entry.at, zone),
                        "event": entry.event.replace("_", " "),
                        "actor": entry.actor,
                    },
                )
            )
    return [item for _, _, item in sorted(items, key=lambda i: (i[0], i[1]))]


def _entry(entry: LogEntry, zone: str) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "chain_seq": entry.chain_seq,
        "at": format_when(entry.at, zone),
        "event": entry.event,
        "actor": entry.actor,
        "channel": entry.channel or "",
        "detail": json.dumps(entry.detail, ensure_ascii=False, sort_keys=True),
        "hash": entry.hash,
    }


def notes_with_history(session: Session, notes: Sequence[Note], zone: str) -> list[dict[str, Any]]:
    """The notes, in the order given, each with the texts it had before its edits."""
    revisions: dict[int, list[NoteRevision]] = {}
    for revision in session.scalars(
        select(NoteRevision)
        .where(NoteRevision.note_id.in_([n.id for n in notes]))
        .order_by(NoteRevision.edited_at, NoteRevision.id)
    ):
        revisions.setdefault(revision.note_id, []).append(revision)
    return [
        {
            "id": note.id,
            "case_id": note.case_id,
            "kind": note.kind,
            "tags": note.tags,
            "text": note.text,
            "author": note.author,
            "created": format_when(note.created_at, zone),
            "edited": format_when(note.updated_at, zone) if note.id in revisions else "",
            "history": [
                {
                    "kind": r.kind,
                    "tags": r.tags,
                    "text": r.text,
                    "replaced_by": r.edited_by,
                    "replaced_at": format_when(r.edited_at, zone),
                }
                for r in revisions.get(note.id, [])
            ],
        }
        for note in notes
    ]


def _audit(session: Session, case_id: int, zone: str) -> list[dict[str, Any]]:
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.case_id == case_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(200)
    )
    return [
        {
            "at": format_when(event.at, zone),
            "actor": event.actor,
            "action": event.action.replace("_", " "),
            "detail": ", ".join(f"{k}={v}" for k, v in sorted(event.detail.items())),
        }
        for event in events
    ]
