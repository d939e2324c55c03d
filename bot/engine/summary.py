"""The interaction summary QA and the next agent read: two to five sentences built
from the case's own record (why the customer got in touch, what was done and sent, where it
stands, what the customer said), plus the timeline's key times. Nothing is invented: each
sentence comes from a column, a log entry or a message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain import CaseStatus, CloseReason, Direction, LogEvent
from bot.render import format_when
from bot.store.models import Case, LogEntry, Message

UPDATE_EVENTS = (LogEvent.INTERIM_SENT, LogEvent.DELAY_NOTICE_SENT)
KEY_EVENTS = {
    LogEvent.CASE_OPENED: "opened",
    LogEvent.INTERIM_SENT: "first update",
    LogEvent.RESOLUTION_PROPOSED: "resolution proposed",
    LogEvent.CONFIRMATION_REQUESTED: "confirmation asked",
    LogEvent.CONFIRMED: "confirmed",
    LogEvent.REOPEN_REQUESTED: "reopen requested",
    LogEvent.AUTO_CLOSED: "auto-closed",
    LogEvent.CLOSED: "closed",
}
QUOTE_LIMIT = 140
Format = Callable[[datetime | None], str]


@dataclass
class Summary:
    sentences: list[str]
    key_times: list[tuple[str, datetime]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def summarize(session: Session, case: Case, zone: str) -> Summary:
    entries = list(
        session.scalars(select(LogEntry).where(LogEntry.case_id == case.id).order_by(LogEntry.seq))
    )
    said = list(
        session.scalars(
            select(Message)
            .where(Message.case_id == case.id, Message.direction == Direction.IN)
            .order_by(Message.at, Message.id)
        )
    )
    when: Format = partial(format_when, timezone=zone)
    who = case.contact.name or "The customer"
    sentences = [
        f'{who} got in touch on {when(case.created_at)} about "{case.subject}" '
        f"({case.priority}{', ' + case.category if case.category else ''})."
    ]
    updates = [e for e in entries if e.event in UPDATE_EVENTS]
    done = _what_was_done(case, updates, when)
    if done:
        sentences.append(done)
    sentences.append(_where_it_stands(case, entries, when))
    if said:
        last = said[-1].body.strip().replace("\n", " ")
        quote = last if len(last) <= QUOTE_LIMIT else last[: QUOTE_LIMIT - 1] + "…"
        count = "once" if len(said) == 1 else f"{len(said)} times"
        feeling = f" and rated us {case.csat_score}/5" if case.csat_score is not None else ""
        sentences.append(f'The customer wrote {count}{feeling}; last: "{quote}".')
    seen: set[str] = set()
    key_times = []
    for entry in entries:
        label = KEY_EVENTS.get(LogEvent(entry.event))
        if label and label not in seen:
            seen.add(label)
            key_times.append((label, entry.at))
    return Summary(sentences[:5], key_times)


def _what_was_done(case: Case, updates: list[LogEntry], when: Format) -> str:
    parts = []
    if updates:
        plural = "update" if len(updates) == 1 else "updates"
        parts.append(f"we sent {len(updates)} {plural}, the last on {when(updates[-1].at)}")
    if case.waiting_reason:
        parts.append(f"the case waited on {case.waiting_reason.replace('_', ' ')}")
    if case.resolution:
        parts.append(f"the proposed fix was: {case.resolution.rstrip('.!? ')}")
    if not parts:
        return ""
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _where_it_stands(case: Case, entries: list[LogEntry], when: Format) -> str:
    reopened = f" It was reopened {case.reopen_count} time(s)." if case.reopen_count else ""
    if case.status == CaseStatus.CLOSED:
        how = {
            CloseReason.CONFIRMED: "confirmed fixed by the customer",
            CloseReason.AUTO_CLOSED: "closed automatically after the customer did not answer",
            CloseReason.AGENT: "closed by an agent",
        }.get(CloseReason(case.close_reason or "agent"), "closed")
        return f"It was {how} on {when(case.closed_at)}.{reopened}"
    if case.status == CaseStatus.RESOLVED:
        asked = case.confirmation_requested_at
        since = f" since {when(asked)}" if asked else " (the request is still being sent)"
        return f"It awaits the customer's confirmation{since}.{reopened}"
    state = "waiting" if case.status == CaseStatus.WAITING else "open"
    paused = ", with updates paused" if case.paused else ""
    nxt = (
        f"; next update {when(case.next_update_at)}"
        if case.next_update_at and not case.paused
        else ""
    )
    return f"It is {state}{paused}{nxt}.{reopened}"
