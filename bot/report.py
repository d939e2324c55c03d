"""Figures for supervisors and clients' monthly reports, from the log (SPEC §6 `report`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from statistics import median

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.domain import LogEvent
from bot.models import Case, LogEntry


@dataclass(frozen=True)
class Report:
    since: datetime | None
    events: Counter[str]
    cases_open_now: int
    median_time_to_confirm_s: float | None
    csat_average: float | None

    @property
    def outcomes(self) -> int:
        e = self.events
        return e[LogEvent.CONFIRMED] + e[LogEvent.REOPEN_REQUESTED] + e[LogEvent.AUTO_CLOSED]

    def rate(self, event: LogEvent) -> float | None:
        return self.events[event] / self.outcomes if self.outcomes else None

    def rows(self) -> list[tuple[str, str]]:
        def pct(value: float | None) -> str:
            return "-" if value is None else f"{value:.0%}"

        e = self.events
        ttc = self.median_time_to_confirm_s
        return [
            ("cases opened", str(e[LogEvent.CASE_OPENED])),
            ("cases open now", str(self.cases_open_now)),
            ("interim updates sent", str(e[LogEvent.INTERIM_SENT])),
            ("delay notices sent", str(e[LogEvent.DELAY_NOTICE_SENT])),
            ("failed deliveries", str(e[LogEvent.INTERIM_FAILED])),
            ("confirmations requested", str(e[LogEvent.CONFIRMATION_REQUESTED])),
            ("confirmed by customer", str(e[LogEvent.CONFIRMED])),
            ("reopen requests", str(e[LogEvent.REOPEN_REQUESTED])),
            ("auto-closed", str(e[LogEvent.AUTO_CLOSED])),
            ("confirmation rate", pct(self.rate(LogEvent.CONFIRMED))),
            ("reopen rate", pct(self.rate(LogEvent.REOPEN_REQUESTED))),
            ("auto-close rate", pct(self.rate(LogEvent.AUTO_CLOSED))),
            ("median time to confirm", "-" if ttc is None else f"{ttc / 3600:.1f}h"),
            ("CSAT average", "-" if self.csat_average is None else f"{self.csat_average:.2f}"),
        ]


def build_report(session: Session, since: datetime | None = None) -> Report:
    where = [LogEntry.at >= since] if since else []
    counts = Counter(
        {
            event: n
            for event, n in session.execute(
                select(LogEntry.event, func.count()).where(*where).group_by(LogEntry.event)
            )
        }
    )
    asked: dict[int | None, datetime] = {}
    waits: list[float] = []
    scores: list[int] = []
    timeline = session.execute(
        select(LogEntry.case_id, LogEntry.event, LogEntry.at, LogEntry.detail)
        .where(
            LogEntry.event.in_(
                [LogEvent.CONFIRMATION_REQUESTED, LogEvent.CONFIRMED, LogEvent.CSAT_RECEIVED]
            ),
            *where,
        )
        .order_by(LogEntry.seq)
    )
    for case_id, event, at, detail in timeline:
        if event == LogEvent.CONFIRMATION_REQUESTED:
            asked[case_id] = at
        elif event == LogEvent.CONFIRMED and case_id in asked:
            waits.append((at - asked.pop(case_id)).total_seconds())
        elif event == LogEvent.CSAT_RECEIVED:
            scores.append(int(detail.get("score", 0)))
    open_now = (
        session.scalar(select(func.count()).select_from(Case).where(Case.status != "closed")) or 0
    )
    return Report(
        since=since,
        events=counts,
        cases_open_now=int(open_now),
        median_time_to_confirm_s=median(waits) if waits else None,
        csat_average=sum(scores) / len(scores) if scores else None,
    )
