"""Figures for the admin charts and clients' monthly reports, drawn from the database.

Counting happens in SQL, grouped by time bucket. A bucket is as wide as the ops time zone allows
while every local midnight of the report stays a bucket edge (a day in UTC, an hour in New York,
half an hour in Kolkata), so each bucket lies inside one calendar day of the zone and Python only
names that day. The rows that must be paired or read (confirmations, CSAT scores: a few per
case) are read one by one.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, ColumnElement, String, case, cast, extract, func, select
from sqlalchemy import type_coerce as as_type
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from bot.domain import CaseStatus, LogEvent, OutboxKind
from bot.durations import format_duration
from bot.store.models import Case, LogEntry, Outbox
from bot.store.records import iso

MAX_DAYS = 400  # the longest `daily` list: a longer window lists its last MAX_DAYS days

# Log events counted per day, and the Figures field each one counts into.
_COUNTED = {
    LogEvent.CASE_OPENED: "cases_opened",
    LogEvent.INTERIM_SENT: "interim_sent",
    LogEvent.DELAY_NOTICE_SENT: "delay_notices_sent",
    LogEvent.INTERIM_FAILED: "failed_deliveries",
    LogEvent.CONFIRMATION_REQUESTED: "confirmations_requested",
    LogEvent.CONFIRMED: "confirmed",
    LogEvent.REOPEN_REQUESTED: "reopen_requested",
    LogEvent.AUTO_CLOSED: "auto_closed",
}


@dataclass(frozen=True, kw_only=True)
class Figures:
    """What happened in one day, or in a whole report window."""

    cases_opened: int = 0
    interim_sent: int = 0
    delay_notices_sent: int = 0
    failed_deliveries: int = 0
    interim_on_time: int = 0
    interim_timed: int = 0  # interim updates sent that had a due time: the on-time share's base
    confirmations_requested: int = 0
    confirmed: int = 0
    reopen_requested: int = 0
    auto_closed: int = 0
    median_time_to_confirm_s: float | None = None
    p90_time_to_confirm_s: float | None = None
    csat_average: float | None = None
    csat_count: int = 0

    @property
    def updates_sent(self) -> int:
        """Interim updates and delay notices."""
        return self.interim_sent + self.delay_notices_sent

    @property
    def outcomes(self) -> int:
        """Confirmation requests that ended: the base of the three rates."""
        return self.confirmed + self.reopen_requested + self.auto_closed

    @property
    def confirmation_rate(self) -> float | None:
        return _share(self.confirmed, self.outcomes)

    @property
    def reopen_rate(self) -> float | None:
        return _share(self.reopen_requested, self.outcomes)

    @property
    def auto_close_rate(self) -> float | None:
        return _share(self.auto_closed, self.outcomes)

    @property
    def on_time_share(self) -> float | None:
        return _share(self.interim_on_time, self.interim_timed)

    def as_dict(self) -> dict[str, Any]:
        """Counts, rates (0 to 1) and seconds as numbers; None where nothing was measured."""
        return {name: getattr(self, name) for name in FIGURES}


@dataclass(frozen=True, kw_only=True)
class DayFigures(Figures):
    """One calendar day of the report's zone; days with nothing have zeros."""

    date: date

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), **super().as_dict()}


# The order of JSON keys and CSV columns.
FIGURES = (
    "cases_opened",
    "updates_sent",
    "interim_sent",
    "delay_notices_sent",
    "failed_deliveries",
    "interim_on_time",
    "interim_timed",
    "on_time_share",
    "confirmations_requested",
    "confirmed",
    "reopen_requested",
    "auto_closed",
    "confirmation_rate",
    "reopen_rate",
    "auto_close_rate",
    "median_time_to_confirm_s",
    "p90_time_to_confirm_s",
    "csat_average",
    "csat_count",
)
CSV_FIELDS = ("date", *FIGURES)
_DAILY_HEADER = (
    "date",
    "opened",
    "updates",
    "on time",
    "confirmed",
    "reopens",
    "auto-closed",
    "confirm %",
    "reopen %",
    "auto-close %",
    "median to confirm",
)


@dataclass(frozen=True)
class Report:
    """The figures of the window [since, until), in total and per calendar day of `zone`."""

    since: datetime | None  # None: from the log's first entry
    until: datetime  # as asked, else now
    zone: str
    on_time_within: timedelta
    cases_open_now: int
    totals: Figures
    daily: list[DayFigures]
    days_left_out: int = 0  # the window's first days, beyond MAX_DAYS, that `daily` leaves out

    @property
    def period(self) -> str:
        """The window in words: `2026-11-01 to 2026-11-30 (America/New_York)`."""
        zone = ZoneInfo(self.zone)
        last = (self.until - timedelta(microseconds=1)).astimezone(zone).date()
        if self.since is not None:
            first: date | None = self.since.astimezone(zone).date()
        else:
            first = self.daily[0].date if self.daily and not self.days_left_out else None
        return f"{first or 'start'} to {last} ({self.zone})"

    def rows(self) -> list[tuple[str, str]]:
        """The totals as (label, value) lines of a table."""
        t = self.totals
        within = format_duration(self.on_time_within)
        on_time = f"{t.interim_on_time} of {t.interim_timed} within {within}"
        csat = "-" if t.csat_average is None else f"{t.csat_average:.2f}"
        return [
            ("cases opened", str(t.cases_opened)),
            ("cases open now", str(self.cases_open_now)),
            ("interim updates sent", str(t.interim_sent)),
            ("interim updates on time", f"{_percent(t.on_time_share)} ({on_time})"),
            ("delay notices sent", str(t.delay_notices_sent)),
            ("failed deliveries", str(t.failed_deliveries)),
            ("confirmations requested", str(t.confirmations_requested)),
            ("confirmed by customer", str(t.confirmed)),
            ("reopen requests", str(t.reopen_requested)),
            ("auto-closed", str(t.auto_closed)),
            ("confirmation rate", _percent(t.confirmation_rate)),
            ("reopen rate", _percent(t.reopen_rate)),
            ("auto-close rate", _percent(t.auto_close_rate)),
            ("median time to confirm", _duration(t.median_time_to_confirm_s)),
            ("p90 time to confirm", _duration(t.p90_time_to_confirm_s)),
            ("CSAT average", csat),
            ("CSAT responses", str(t.csat_count)),
        ]

    def daily_table(self) -> list[str]:
        """One aligned line per day, under a header line."""
        cells = [_DAILY_HEADER] + [
            (
                day.date.isoformat(),
                str(day.cases_opened),
                str(day.updates_sent),
                f"{day.interim_on_time}/{day.interim_timed}" if day.interim_timed else "-",
                str(day.confirmed),
                str(day.reopen_requested),
                str(day.auto_closed),
                _percent(day.confirmation_rate),
                _percent(day.reopen_rate),
                _percent(day.auto_close_rate),
                _duration(day.median_time_to_confirm_s),
            )
            for day in self.daily
        ]
        widths = [max(len(row[n]) for row in cells) for n in range(len(_DAILY_HEADER))]
        return [
            "  ".join(
                cell.ljust(width) if n == 0 else cell.rjust(width)
                for n, (cell, width) in enumerate(zip(row, widths, strict=True))
            )
            for row in cells
        ]

    def csv_rows(self) -> list[dict[str, Any]]:
        """One row per day, then a `total` row for the whole window (CSV_FIELDS)."""
        records = [day.as_dict() for day in self.daily]
        records.append({"date": "total", **self.totals.as_dict()})
        return [
            {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()} for r in records
        ]

    def as_dict(self) -> dict[str, Any]:
        """For JSON: ISO times and dates, seconds and rates as numbers, null where unmeasured."""
        return {
            "since": iso(self.since),
            "until": iso(self.until),
            "zone": self.zone,
            "on_time_within_s": self.on_time_within.total_seconds(),
            "cases_open_now": self.cases_open_now,
            "days_left_out": self.days_left_out,
            "totals": self.totals.as_dict(),
            "daily": [day.as_dict() for day in self.daily],
        }


def day_window(
    first: date | None, last: date | None, zone: str
) -> tuple[datetime | None, datetime | None]:
    """`since` and `until` for build_report from calendar days of `zone`, both included."""
    tz = ZoneInfo(zone)
    return (
        None if first is None else _day_start(first, tz),
        None if last is None else _day_start(last + timedelta(days=1), tz),
    )


def build_report(
    session: Session,
    *,
    since: datetime | None,
    until: datetime | None = None,
    now: datetime,
    zone: str,
    on_time_within: timedelta,
) -> Report:
    """The figures of [since, until), days counted in the IANA `zone`.

    Without `since` the window starts with the log's first entry; without `until` it runs to now
    (included). Days are listed up to today, even when `until` is later.
    An interim update counts as on time when it was sent within `on_time_within` of its due time.
    """
    tz = ZoneInfo(zone)
    if since is not None and (since > now or (until is not None and since >= until)):
        raise ValueError(
            f"nothing to report: the window from {iso(since)} to {iso(until or now)} is empty"
        )
    last = now if until is None else min(until - timedelta(microseconds=1), now)
    days = _days(since or _first_entry_at(session), last, tz)
    shown = days[-MAX_DAYS:]
    window = _Window(since, until, tz, _bucket_width(shown, tz))
    tallies: defaultdict[date, _Tally] = defaultdict(_Tally)
    for day, name, count in _event_counts(session, window):
        tallies[day].counts[name] += count
    for day, timed, on_time in _interim_timeliness(session, window, on_time_within):
        tallies[day].counts["interim_timed"] += timed
        tallies[day].counts["interim_on_time"] += on_time
    for day, wait in _times_to_confirm(session, window):
        tallies[day].waits.append(wait)
    for day, score in _csat_scores(session, window):
        tallies[day].scores.append(score)
    totals = _Tally()
    for tally in tallies.values():
        totals.add(tally)
    open_now = session.scalar(
        select(func.count()).select_from(Case).where(Case.status != CaseStatus.CLOSED)
    )
    return Report(
        since=since,
        until=until or now,
        zone=zone,
        on_time_within=on_time_within,
        cases_open_now=open_now or 0,
        totals=Figures(**totals.figures()),
        daily=[DayFigures(date=day, **tallies.get(day, _Tally()).figures()) for day in shown],
        days_left_out=len(days) - len(shown),
    )


@dataclass(frozen=True)
class _Window:
    """The report's time bounds, and how a stored time becomes a calendar day of its zone."""

    since: datetime | None
    until: datetime | None
    tz: ZoneInfo
    bucket_s: int  # see _bucket_width

    def holds(self, column: Any) -> list[ColumnElement[bool]]:
        bounds = [] if self.since is None else [column >= self.since]
        return bounds + ([] if self.until is None else [column < self.until])

    def bucket(self, column: Any) -> ColumnElement[int]:
        return _epoch_us(column) // (self.bucket_s * 1_000_000)

    def day_of_bucket(self, bucket: int) -> date:
        return datetime.fromtimestamp(bucket * self.bucket_s, self.tz).date()

    def day_of(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()


def _event_counts(session: Session, window: _Window) -> Iterator[tuple[date, str, int]]:
    """(day, Figures field, count) for the counted log events, grouped in SQL."""
    events = (
        select(LogEntry.event, window.bucket(LogEntry.at).label("bucket"))
        .where(LogEntry.event.in_(list(_COUNTED)), *window.holds(LogEntry.at))
        .subquery()
    )
    grouped = select(events.c.event, events.c.bucket, func.count()).group_by(
        events.c.event, events.c.bucket
    )
    for event, bucket, count in session.execute(grouped):
        yield window.day_of_bucket(bucket), _COUNTED[event], count


def _interim_timeliness(
    session: Session, window: _Window, on_time_within: timedelta
) -> Iterator[tuple[date, int, int]]:
    """(day sent, interim updates with a due time, how many of them were on time)."""
    late_us = _epoch_us(Outbox.sent_at) - _epoch_us(Outbox.due_at)
    on_time = late_us <= on_time_within // timedelta(microseconds=1)
    sent = (
        select(
            window.bucket(Outbox.sent_at).label("bucket"),
            case((on_time, 1), else_=0).label("on_time"),
        )
        .where(
            Outbox.kind == OutboxKind.INTERIM,
            Outbox.due_at.is_not(None),
            *window.holds(Outbox.sent_at),
        )
        .subquery()
    )
    grouped = select(sent.c.bucket, func.count(), func.sum(sent.c.on_time)).group_by(sent.c.bucket)
    for bucket, timed, punctual in session.execute(grouped):
        yield window.day_of_bucket(bucket), timed, int(punctual)


def _times_to_confirm(session: Session, window: _Window) -> Iterator[tuple[date, float]]:
    """(day, seconds) from a case's latest confirmation request to each YES in the window."""
    asked = aliased(LogEntry)
    asked_at = (
        select(func.max(asked.at))
        .where(
            asked.case_id == LogEntry.case_id,
            asked.event == LogEvent.CONFIRMATION_REQUESTED,
            asked.seq < LogEntry.seq,
        )
        .scalar_subquery()
    )
    confirmations = select(LogEntry.at, asked_at).where(
        LogEntry.event == LogEvent.CONFIRMED, *window.holds(LogEntry.at)
    )
    for at, requested_at in session.execute(confirmations):
        if requested_at is not None:
            yield window.day_of(at), (at - requested_at).total_seconds()


def _csat_scores(session: Session, window: _Window) -> Iterator[tuple[date, int]]:
    scores = select(LogEntry.at, LogEntry.detail).where(
        LogEntry.event == LogEvent.CSAT_RECEIVED, *window.holds(LogEntry.at)
    )
    for at, detail in session.execute(scores):
        if isinstance(detail.get("score"), int):
            yield window.day_of(at), detail["score"]


@dataclass
class _Tally:
    """Running counts of one day (keyed by Figures field) and the values behind its averages."""

    counts: Counter[str] = field(default_factory=Counter)
    waits: list[float] = field(default_factory=list)  # seconds from request to confirmation
    scores: list[int] = field(default_factory=list)  # CSAT, 1 to 5

    def add(self, other: _Tally) -> None:
        self.counts.update(other.counts)
        self.waits += other.waits
        self.scores += other.scores

    def figures(self) -> dict[str, Any]:
        waits = sorted(self.waits)
        return {
            **self.counts,
            "median_time_to_confirm_s": median(waits) if waits else None,
            "p90_time_to_confirm_s": _nearest_rank(waits, 90),
            "csat_average": sum(self.scores) / len(self.scores) if self.scores else None,
            "csat_count": len(self.scores),
        }


class _epoch_us(FunctionElement[int]):
    """Microseconds from 1970 to a stored (naive UTC) time, exact on SQLite and PostgreSQL."""

    type = BigInteger()
    inherit_cache = True


@compiles(_epoch_us, "sqlite")
def _sqlite_epoch_us(element: _epoch_us, compiler: SQLCompiler, **kw: Any) -> str:
    (stamp,) = element.clauses
    # SQLite's date functions round to the millisecond (59.9996 s would become the next second),
    # so whole seconds come from the text cut before its fraction, microseconds from the text.
    seconds = cast(func.strftime("%s", func.substr(stamp, 1, 19)), BigInteger)
    micros = cast(func.substr(as_type(stamp, String).concat("000000"), 21, 6), BigInteger)
    return f"({compiler.process(seconds * 1_000_000 + micros, **kw)})"


@compiles(_epoch_us)
def _standard_epoch_us(element: _epoch_us, compiler: SQLCompiler, **kw: Any) -> str:
    (stamp,) = element.clauses
    # PostgreSQL: EXTRACT reads a timestamp without time zone as UTC, exact numeric since 14.
    micros = cast(func.round(extract("epoch", stamp) * 1_000_000), BigInteger)
    return compiler.process(micros, **kw)


def _first_entry_at(session: Session) -> datetime | None:
    # Not the first by seq: entries are appended in time order per case, not across the log
    # (a backfill such as the demo's past cases comes after newer ones).
    return session.scalar(select(func.min(LogEntry.at)))


def _days(start: datetime | None, end: datetime, tz: ZoneInfo) -> list[date]:
    """The calendar days from the one of `start` to the one of `end`, both included."""
    if start is None:
        return []
    first, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    # A midnight skipped by a clock change reads with the old offset: the moment of the change.
    return datetime.combine(day, time(), tz).astimezone(UTC)


def _bucket_width(days: list[date], tz: ZoneInfo) -> int:
    """Seconds per SQL bucket: the widest that divides a day and has an edge at every local
    midnight from the first day to the end of the last."""
    if not days:
        return 86400
    edges = [_day_start(day, tz) for day in [*days, days[-1] + timedelta(days=1)]]
    return math.gcd(86400, *(int(edge.timestamp()) % 86400 for edge in edges))


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _nearest_rank(ordered: list[float], percent: int) -> float | None:
    """The smallest value that `percent`% of the values do not exceed."""
    if not ordered:
        return None
    return ordered[-(-len(ordered) * percent // 100) - 1]


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"
