"""The interaction summary QA and the next agent read: two to five sentences built
from the case's own record (why the customer got in touch, what was done and sent, where it
stands, what the customer said), plus the timeline's key times. Nothing is invented: each
sentence comes from a column, a log entry or a message.

This module decides which facts there are; templates/agents/summary.txt.j2 words them, one
`part` per render, so ops can reword the summary like any other template."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.domain import CaseStatus, CloseReason, Direction, LogEvent
from bot.render import Templates, format_when
from bot.store.models import Case, LogEntry, Message

UPDATE_EVENTS = (LogEvent.INTERIM_SENT, LogEvent.DELAY_NOTICE_SENT)
# The events shown as key times, each under the label summary.txt.j2 gives it.
KEY_EVENTS = (
    LogEvent.CASE_OPENED,
    LogEvent.INTERIM_SENT,
    LogEvent.RESOLUTION_PROPOSED,
    LogEvent.CONFIRMATION_REQUESTED,
    LogEvent.CONFIRMED,
    LogEvent.REOPEN_REQUESTED,
    LogEvent.AUTO_CLOSED,
    LogEvent.CLOSED,
)
QUOTE_LIMIT = 140
Format = Callable[[datetime | None], str]
Say = Callable[..., str]


@dataclass
class Summary:
    sentences: list[str]
    key_times: list[tuple[str, datetime]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def summarize(session: Session, case: Case, zone: str, templates: Templates) -> Summary:
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

    def say(part: str, **context: Any) -> str:
        return templates.render("agents", "summary", {"part": part, **context})

    sentences = [
        say(
            "contact",
            name=case.contact.name,
            opened=when(case.created_at),
            subject=case.subject,
            priority=case.priority,
            category=case.category,
        )
    ]
    updates = [e for e in entries if e.event in UPDATE_EVENTS]
    if updates or case.waiting_reason or case.resolution:
        sentences.append(
            say(
                "done",
                updates=len(updates),
                last_update=when(updates[-1].at) if updates else "",
                waiting_reason=case.waiting_reason or "",
                # None, not "": a resolution of only "?" still reads "the proposed fix was: ."
                fix=case.resolution.rstrip(".!? ") if case.resolution else None,
            )
        )
    sentences.append(_where_it_stands(case, when, say))
    if said:
        last = said[-1].body.strip().replace("\n", " ")
        quote = last if len(last) <= QUOTE_LIMIT else last[: QUOTE_LIMIT - 1] + "…"
        sentences.append(say("said", wrote=len(said), csat=case.csat_score, quote=quote))
    return Summary(sentences[:5], _key_times(entries, say))


def _where_it_stands(case: Case, when: Format, say: Say) -> str:
    facts: dict[str, Any] = {"status": str(case.status), "reopened": case.reopen_count}
    if case.status == CaseStatus.CLOSED:
        # No reason recorded means an agent closed it; CloseReason() refuses an unknown one.
        facts |= {
            "closed_by": str(CloseReason(case.close_reason or CloseReason.AGENT)),
            "closed": when(case.closed_at),
        }
    elif case.status == CaseStatus.RESOLVED:
        facts["asked"] = when(case.confirmation_requested_at)
    else:
        facts |= {
            "paused": case.paused,
            "next_update": "" if case.paused else when(case.next_update_at),
        }
    return say("stands", **facts)


def _key_times(entries: list[LogEntry], say: Say) -> list[tuple[str, datetime]]:
    """The first time of each key event; only first occurrences are worded."""
    firsts: dict[LogEvent, datetime] = {}
    for entry in entries:
        event = LogEvent(entry.event)
        if event in KEY_EVENTS and event not in firsts:
            firsts[event] = entry.at
    seen: set[str] = set()
    key_times = []
    for event, at in firsts.items():
        # Two events worded alike show once, under the earlier one.
        label = say("key_time", event=str(event))
        if label and label not in seen:
            seen.add(label)
            key_times.append((label, at))
    return key_times
