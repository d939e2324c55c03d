"""Ops benchmark: the report, the notes search and the admin case lists over a stored history of
realistic size, each beside a baseline measured in the same run.

What is measured, and why ------------------------- A fresh database (a SQLite file in a temp dir;
with --postgres a database on a throwaway PostgreSQL server from `tests/support/pg_server.py`
instead), migrated with `bot.store.migrate.upgrade`, is seeded with 90 days of history up to a fixed
now: N cases (default 50,000) opened over those days, each played to where it stands now (interim
updates on its priority's cadence, most on time, some late, a few failed; a resolution; then
confirmed, reopened or auto-closed), so the log holds about 10 entries a case and the outbox about
3.5 interim updates a case (with due_at and sent_at) plus confirmation requests and reminders. The
log entries carry correct per-case hash chains, made with `bot.ledger.chain.entry_hash` from
`GENESIS` and anchored by their `log_chains` heads, so `bot.ledger.chain.verify` passes (checked
with --quick and --verify). Then M notes (default 200,000) go in through SQL, so the FTS5 triggers
of migration 0007 index them on SQLite (on PostgreSQL the GIN index does). Everything is seeded with
Core bulk inserts (`session.execute(insert(table), rows)`), timed apart, never part of a comparison.
SQLite is not ANALYZEd (the app never does it); PostgreSQL is (autovacuum would be).

1. report: `bot.ops.report.build_report` (counts per day grouped in SQL) for the last 30 days (the
   admin charts' default) and the last 90 (all of it, across the end of daylight saving time in
   America/New_York). *Baseline*: the naive way, every log entry and outbox row of the window
   loaded into Python with the ORM and counted per day in Python. Checks: both give the same
   totals and the same figures day by day (cases opened, interim updates sent and failed, delay
   notices, confirmations requested, confirmed, reopen requests, auto-closed, interim updates on
   time of those timed, CSAT responses); three days are printed side by side. Also printed: where
   one call's time goes, statement by statement.
2. search: `bot.ops.notes_search.search_notes` (FTS5 on SQLite, tsvector GIN on PostgreSQL) for a
   rare word, a common word, two words, a word with a tag or a kind, and a tag alone. *Baseline*:
   the same filters as a `LIKE '%word%'` scan (ILIKE on PostgreSQL) over the note's text and
   tags, newest first, same limit. Shown: the median of 2R + 1 queries of each, alternating.
   Checks: the rare word (planted in a known number of notes) finds exactly the same notes both
   ways, every hit of every query holds its words, tag and kind, and the tag alone gives the same
   notes in the same order. A search under 0.9 of the LIKE scan's speed is a FINDING, printed
   with its query plan.
3. lists: `bot.web.admin.view.list_cases` for each view of /admin (page 1, no filters: each call
also
   counts all five views and reads the filter menus), then the open view with a text filter;
   median of R calls. No baseline: the time per call is the figure, and a call over 1 s is a
   FINDING, printed with its slowest statement's query plan. Checks: each list's total, its page
   and the five views' counts equal the cases seeded in each state.

Ratios are baseline / ours: how many times faster ours is. The header prints the load average:
the machine has 2 CPUs, and other work on it skews both sides of a ratio. The default run takes
about 3 minutes here, on SQLite or PostgreSQL (a minute of it seeding); --quick (5,000 cases,
20,000 notes) well under a minute.

Run from the repository root: `python -m bench.ops [--quick] [--postgres] [--verify] [--cases N]
[--notes M] [--repeats R] [--baseline-repeats B]`. Exits non-zero when a check fails ("MISMATCH"
lines, then "FAILED"); prints "all checks ok" otherwise. The temp dir and the PostgreSQL server
are removed, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, String, Table, event, func, insert, select, text
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from bench.checks import Checks
from bot.clock import FrozenClock
from bot.config import Settings, parse_config
from bot.core import Core, create_core
from bot.domain import (
    CUSTOMER,
    SYSTEM,
    CaseStatus,
    CloseReason,
    LogEvent,
    NoteKind,
    OutboxKind,
    OutboxStatus,
    agent,
)
from bot.ledger import chain as log
from bot.ops.notes_search import MAX_LIMIT, search_notes, words
from bot.ops.report import Report, build_report, day_window
from bot.store.db import make_engine
from bot.store.migrate import upgrade
from bot.store.models import Base, Case, Contact, LogChain, LogEntry, Note, Outbox
from bot.web.admin.view import PAGE_SIZE, VIEWS, CaseFilters, list_cases

ZONE = "America/New_York"
NOW = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # a Tuesday, noon in New York
HISTORY_DAYS = 90  # from 3 September: it holds the end of daylight saving time (1 November)
REPORT_WINDOWS = (30, 90)  # days: the admin charts' default, and the whole history
ON_TIME_WITHIN = timedelta(minutes=5)  # config.reports.on_time_within's default
INSERT_BATCH = 10_000
LIST_LIMIT_S = 1.0  # a case list slower than this per call is a finding
SLOWER_FINDING = 0.9  # a search at under this share of the LIKE scan's speed is a finding
SEED = 20261201

FULL_SIZES = {"cases": 50_000, "notes": 200_000, "repeats": 5, "baseline_repeats": 1}
QUICK_SIZES = {"cases": 5_000, "notes": 20_000, "repeats": 3, "baseline_repeats": 1}

CADENCES = {
    "P1": timedelta(hours=1),
    "P2": timedelta(hours=2),
    "P3": timedelta(hours=4),
    "P4": timedelta(hours=8),
}
PRIORITY_WEIGHTS = (1, 3, 5, 1)
INTERIM_ROUNDS = (1, 2, 2, 3, 3, 3, 4, 4, 5)  # interim updates before a resolution
CATEGORIES = ("outage", "billing", "delivery", "card", None)
AGENTS = tuple(f"U0AGENT{n:02d}" for n in range(12))
SUBJECTS = (
    "Internet down",
    "Fibre line drops every evening",
    "No signal after the mast upgrade",
    "Charged twice for October",
    "Refund not received",
    "Parcel marked delivered, not here",
    "Router lights blinking red",
)
REMINDER_AFTER, AUTO_CLOSE_AFTER = timedelta(hours=24), timedelta(hours=48)

# Notes: words an agent writes, none of them inside another (so LIKE '%word%' and a prefix
# match find the same notes; `vocabulary_is_clean` checks it).
VOCABULARY = (  # noqa: SIM905 - a paragraph reads better than 104 quoted words
    "customer called again about the line dropping twice each evening since upgrade "
    "router replaced technician booked visit tomorrow morning window eight twelve "
    "refund requested billing team agreed credit posted next invoice statement "
    "courier lost parcel depot scanned tracking number shows delivered neighbour "
    "signal mast outage area engineers working estimate restore hours update sent "
    "card blocked travel abroad fraud check passed released limit raised "
    "escalated tier two supervisor aware repeat caller annoyed wants compensation "
    "speed test showed megabits download upload latency jitter packet loss modem "
    "password reset login app crashes android version cache cleared reinstalled "
    "voicemail left callback promised friday midday prefers texts after six"
).split()
TAGS = ("vip", "repeat", "field", "courier", "billing", "outage", "callback", "escalated")
RARE_WORD = "zephyrlink"  # planted in RARE_SHARE of the notes, nowhere else
RARE_SHARE = 0.001

T = TypeVar("T")


class BenchFailed(Exception):
    """The benchmark could not run; the message says why."""


class StatementTimer:
    """Where one call's time goes, statement by statement. A statement's span runs from sending
    it until the next one is sent (or the call ends), so it holds fetching its rows and handling
    them in Python: SQLite computes rows as they are fetched, so timing the execute alone would
    miss most of the work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sent: list[tuple[float, str, Any]] = []
        self.spans: list[tuple[float, str, Any]] = []  # (seconds, statement, parameters)

    def __enter__(self) -> StatementTimer:
        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *_: object) -> None:
        ended = time.perf_counter()
        event.remove(self.engine, "before_cursor_execute", self._on_execute)
        ends = [at for at, _, _ in self.sent[1:]] + [ended]
        self.spans = [
            (end - at, statement, params)
            for (at, statement, params), end in zip(self.sent, ends, strict=True)
            if not statement.startswith("BEGIN")
        ]

    def _on_execute(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        self.sent.append((time.perf_counter(), statement, params))

    def slowest(self) -> tuple[float, str, Any]:
        return max(self.spans, key=lambda span: span[0])


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def median_time(call: Callable[[], T], repeats: int) -> tuple[float, T]:
    """The median of `repeats` timed calls, and what the last one returned."""
    times: list[float] = []
    result: T | None = None
    for _ in range(repeats):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    assert result is not None
    return statistics.median(times), result


def times_faster(ratio: float) -> str:
    """A speed-up in words: `12.3x faster`, or `1.7x slower` when the baseline wins."""
    return f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"


def short_sql(statement: str, width: int = 96) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def query_plan(engine: Engine, statement: str, params: Any) -> list[str]:
    """The plan the database chooses for a statement, one line per step."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
            return [str(row[-1]) for row in rows]
        rows = connection.exec_driver_sql(f"EXPLAIN {statement}", params)
        return [str(row[0]).strip() for row in rows]


# -- the history --------------------------------------------------------------------------------


@dataclass
class Played:
    """One case played from its opening up to NOW: its row, log events and outbox rows."""

    row: dict[str, Any]
    events: list[tuple[datetime, str, str, str | None, dict[str, Any]]]
    outbox: list[dict[str, Any]]


@dataclass
class History:
    contacts: list[dict[str, Any]]
    cases: list[dict[str, Any]]
    outbox: list[dict[str, Any]]
    events: list[tuple[datetime, int, str, str, str | None, dict[str, Any]]]  # sorted by time
    chain_heads: dict[int, tuple[int, str]] = field(default_factory=dict)  # by log_rows

    def view_counts(self, text: str) -> dict[str, int]:
        """What each admin view must count (bot/admin_view._view_filter, by hand), of the cases
        whose subject holds `text` (no other column the text filter reads does here)."""
        soon = NOW + timedelta(hours=1)
        live = (CaseStatus.OPEN, CaseStatus.WAITING)
        counts = Counter[str]()
        for case in self.cases:
            if text.casefold() not in case["subject"].casefold():
                continue
            status = case["status"]
            counts["open"] += status == CaseStatus.OPEN
            counts["waiting"] += status == CaseStatus.WAITING
            counts["awaiting"] += status == CaseStatus.RESOLVED
            counts["reopened"] += case["reopen_count"] > 0 and status in live
            counts["due_soon"] += (
                status in live
                and not case["paused"]
                and case["next_update_at"] is not None
                and case["next_update_at"] <= soon
            )
        return {key: counts[key] for key in VIEWS}


def history_start() -> datetime:
    today = NOW.astimezone(ZoneInfo(ZONE)).date()
    since, _ = day_window(today - timedelta(days=HISTORY_DAYS - 1), today, ZONE)
    assert since is not None
    return since


def lateness(rng: random.Random) -> timedelta:
    """How late an interim update went out: mostly within a minute or two, some much later."""
    draw = rng.random()
    if draw < 0.75:
        return timedelta(seconds=rng.uniform(0.5, 120))
    if draw < 0.9:
        return timedelta(minutes=rng.uniform(5, 30))
    return timedelta(minutes=rng.uniform(30, 180))


def play_case(
    rng: random.Random, case_id: int, contact: dict[str, Any], opened: datetime
) -> Played:
    """The case's life as the flows would write it, cut at NOW."""
    priority = rng.choices(tuple(CADENCES), weights=PRIORITY_WEIGHTS)[0]
    cadence = CADENCES[priority]
    channel = contact["channel"]
    address = contact["slack_user_id"] or contact["phone"]
    by = agent(rng.choice(AGENTS))
    subject = rng.choice(SUBJECTS)
    events: list[tuple[datetime, str, str, str | None, dict[str, Any]]] = []
    changes: list[tuple[datetime, dict[str, Any]]] = []  # what the case row holds from when
    outbox: list[dict[str, Any]] = []

    def log_event(at: datetime, what: LogEvent, actor: str, **detail: Any) -> None:
        events.append((at, str(what), actor, channel if actor != by else None, detail))

    def send(kind: OutboxKind, due: datetime, sent: datetime, failed: bool = False) -> None:
        if due >= NOW:
            return  # not queued yet
        done = sent < NOW
        status = OutboxStatus.PENDING
        if done:
            status = OutboxStatus.FAILED if failed else OutboxStatus.SENT
        outbox.append(
            {
                "message_id": None,
                "case_id": case_id,
                "kind": kind,
                "channel": channel,
                "address": address,
                "body": f"Update on your case #{case_id}: {subject}.",
                "blocks": None,
                "to_opted_out": False,
                "status": status,
                "not_before": due,
                "attempts": (3 if failed else 1) if done else 0,
                "handed_at": sent if done else None,
                "last_error": "30003 unreachable" if done and failed else None,
                "created_at": due,
                "due_at": due,
                "sent_at": sent if done and not failed else None,
            }
        )
        if done:
            sent_event = {
                OutboxKind.INTERIM: LogEvent.INTERIM_SENT,
                OutboxKind.CONFIRM_REQUEST: LogEvent.CONFIRMATION_REQUESTED,
                OutboxKind.REMINDER: LogEvent.REMINDER_SENT,
            }[kind]
            what = LogEvent.INTERIM_FAILED if failed else sent_event
            log_event(sent, what, SYSTEM, template=str(kind), to=address, simulated=False)

    log_event(opened, LogEvent.CASE_OPENED, by, subject=subject, priority=priority)
    changes.append((opened, {"status": CaseStatus.OPEN, "next_update_at": opened + cadence}))
    start, reopens = opened, 0
    while True:  # one round: interim updates, then a resolution and the customer's answer
        due = start
        for _ in range(rng.choice(INTERIM_ROUNDS)):
            due += cadence
            sent = due + lateness(rng)
            send(OutboxKind.INTERIM, due, sent, failed=rng.random() < 0.02)
            changes.append((sent, {"next_update_at": due + cadence}))
        for _ in range(rng.choice((0, 0, 1, 1, 2))):
            said = start + (due - start) * rng.random()
            log_event(said, LogEvent.CUSTOMER_MESSAGE, CUSTOMER, words="any news?")
        if rng.random() < 0.05:
            log_event(due + cadence / 3, LogEvent.DELAY_NOTICE_SENT, SYSTEM, template="delay")
        if rng.random() < 0.1:
            waiting = due + cadence / 4
            changes.append((waiting, {"status": CaseStatus.WAITING, "waiting_reason": "parts"}))
        resolved = due + cadence * rng.uniform(0.3, 0.9)
        log_event(
            resolved, LogEvent.RESOLUTION_PROPOSED, by, resolution="Line reset at the exchange."
        )
        changes.append(
            (
                resolved,
                {
                    "status": CaseStatus.RESOLVED,
                    "waiting_reason": None,
                    "next_update_at": None,
                    "resolved_at": resolved,
                    "resolution": "Line reset at the exchange.",
                },
            )
        )
        asked = resolved + timedelta(seconds=rng.uniform(1, 30))
        send(OutboxKind.CONFIRM_REQUEST, resolved, asked)
        changes.append(
            (asked, {"confirmation_requested_at": asked, "confirm_due_at": asked + REMINDER_AFTER})
        )
        draw = rng.random()
        if draw < 0.15 and reopens < 2:  # not fixed: reopened, and another round
            answered = asked + timedelta(minutes=rng.uniform(2, 600))
            reopens += 1
            log_event(answered, LogEvent.REOPEN_REQUESTED, CUSTOMER, words="still broken")
            log_event(answered, LogEvent.REOPENED, CUSTOMER, reopen_count=reopens)
            changes.append(
                (
                    answered,
                    {
                        "status": CaseStatus.OPEN,
                        "reopen_count": reopens,
                        "resolved_at": None,
                        "confirmation_requested_at": None,
                        "confirm_due_at": None,
                        "next_update_at": answered + cadence,
                    },
                )
            )
            start = answered
            continue
        if draw < 0.8:
            answered = asked + timedelta(minutes=rng.uniform(2, 600))
            log_event(answered, LogEvent.CONFIRMED, CUSTOMER)
            closed = {"status": CaseStatus.CLOSED, "close_reason": CloseReason.CONFIRMED}
            changes.append((answered, closed | {"closed_at": answered, "confirm_due_at": None}))
            if rng.random() < 0.5:
                scored = answered + timedelta(minutes=rng.uniform(1, 30))
                score = rng.choice((1, 3, 4, 4, 5, 5, 5))
                log_event(scored, LogEvent.CSAT_RECEIVED, CUSTOMER, score=score)
                changes.append((scored, {"csat_score": score}))
        elif draw < 0.97:  # no answer: a reminder, then auto-closed
            reminded = asked + REMINDER_AFTER
            send(OutboxKind.REMINDER, reminded, reminded + timedelta(seconds=rng.uniform(1, 30)))
            changes.append((reminded, {"confirm_due_at": asked + AUTO_CLOSE_AFTER}))
            closed_at = asked + AUTO_CLOSE_AFTER + timedelta(seconds=rng.uniform(1, 60))
            log_event(closed_at, LogEvent.AUTO_CLOSED, SYSTEM, asked_at=asked.isoformat())
            closed = {"status": CaseStatus.CLOSED, "close_reason": CloseReason.AUTO_CLOSED}
            changes.append((closed_at, closed | {"closed_at": closed_at, "confirm_due_at": None}))
        else:  # withdrawn: an agent closes it
            closed_at = asked + timedelta(hours=rng.uniform(1, 20))
            log_event(closed_at, LogEvent.CLOSED, by)
            closed = {"status": CaseStatus.CLOSED, "close_reason": CloseReason.AGENT}
            changes.append((closed_at, closed | {"closed_at": closed_at, "confirm_due_at": None}))
        break

    row: dict[str, Any] = {
        "id": case_id,
        "subject": subject,
        "category": rng.choice(CATEGORIES),
        "priority": priority,
        "paused": False,
        "assignee": by.removeprefix("agent:") if rng.random() < 0.9 else None,
        "contact_id": contact["id"],
        "waiting_reason": None,
        "next_update_at": None,
        "confirm_due_at": None,
        "resolution": None,
        "resolved_at": None,
        "confirmation_requested_at": None,
        "closed_at": None,
        "close_reason": None,
        "reopen_count": 0,
        "csat_score": None,
        "created_at": opened,
        "updated_at": opened,
    }
    for at, change in sorted(changes, key=lambda c: c[0]):
        if at < NOW:
            row.update(change)
            row["updated_at"] = at
    events.sort(key=lambda e: e[0])  # a case's log is in time order
    return Played(row, [e for e in events if e[0] < NOW], outbox)


def make_history(cases: int) -> History:
    """N cases opened evenly over HISTORY_DAYS, ids in order of opening, played up to NOW."""
    rng = random.Random(SEED)
    start = history_start()
    span = (NOW - timedelta(hours=1) - start).total_seconds()
    opened = sorted(start + timedelta(seconds=rng.uniform(0, span)) for _ in range(cases))
    contacts: list[dict[str, Any]] = []
    for i in range(1, max(cases * 4 // 5, 1) + 1):
        channel = rng.choices(("sms", "slack", "webchat"), weights=(80, 12, 8))[0]
        contacts.append(
            {
                "id": i,
                "name": f"Customer {i}",
                "phone": None if channel == "slack" else f"+1415{5_550_000 + i:07d}",
                "slack_user_id": f"U0CUST{i:07d}" if channel == "slack" else None,
                "channel": channel,
                "opted_out": [],
                "unreachable": [],
                "created_at": start,
            }
        )
    played = [
        play_case(rng, case_id, rng.choice(contacts), at)
        for case_id, at in enumerate(opened, start=1)
    ]
    events = [(e[0], p.row["id"], *e[1:]) for p in played for e in p.events]
    events.sort(key=lambda e: (e[0], e[1]))  # stable: a case's equal times keep its order
    outbox = sorted((o for p in played for o in p.outbox), key=lambda o: o["created_at"])
    for outbox_id, row in enumerate(outbox, start=1):
        row["id"] = outbox_id
    return History(contacts, [p.row for p in played], outbox, events)


def log_rows(history: History) -> Iterator[dict[str, Any]]:
    """The log entries, seq in time order, each chained to its case's previous entry as
    bot.ledger.chain.append chains it."""
    heads = history.chain_heads
    for seq, (at, case_id, what, actor, channel, detail) in enumerate(history.events, start=1):
        length, prev_hash = heads.get(case_id, (0, log.GENESIS))
        record: dict[str, Any] = {
            "seq": seq,
            "chain": log.chain_for_case(case_id),
            "chain_seq": length + 1,
            "case_id": case_id,
            "at": at,
            "event": what,
            "actor": actor,
            "channel": channel,
            "message_id": None,
            "detail": detail,
            "prev_hash": prev_hash,
        }
        record["hash"] = log.entry_hash(prev_hash, record | {"at": log.format_at(at)})
        heads[case_id] = (length + 1, record["hash"])
        yield record


def note_rows(history: History, count: int) -> tuple[list[dict[str, Any]], int]:
    """M notes on random cases, written after the case opened; and how many hold RARE_WORD."""
    rng = random.Random(SEED + 1)
    rare = set(rng.sample(range(count), max(1, round(count * RARE_SHARE))))
    kinds = [str(kind) for kind in NoteKind]
    rows: list[dict[str, Any]] = []
    for n in range(count):
        case = history.cases[rng.randrange(len(history.cases))]
        said = rng.choices(VOCABULARY, k=rng.randint(12, 40))
        if n in rare:
            said.insert(rng.randrange(len(said)), RARE_WORD)
        said[0] = said[0].capitalize()
        at = min(case["created_at"] + timedelta(hours=rng.uniform(0, 48)), NOW)
        rows.append(
            {
                "case_id": case["id"],
                "kind": rng.choice(kinds),
                "text": " ".join(said) + ".",
                "tags": rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2, 3))),
                "author": rng.choice(AGENTS),
                "created_at": at,
                "updated_at": at,
            }
        )
    return rows, len(rare)


def vocabulary_is_clean() -> bool:
    """No word of the notes lies inside another, so substring and prefix matches agree."""
    every = {*VOCABULARY, *TAGS, RARE_WORD}
    return not any(a != b and a in b for a in every for b in every)


@dataclass
class Seeded:
    entries: int
    outbox: int
    interim: int
    notes: int
    rare_notes: int
    seconds: float


def bulk_insert(session: Session, model: type[Base], rows: Iterable[dict[str, Any]]) -> int:
    """Core executemany on the model's table, INSERT_BATCH rows a call; how many rows.

    Through the table, not the ORM class: the ORM splits a batch wherever the rows' None values
    differ (outbox rows, log entries), into thousands of small statements."""
    table = cast(Table, model.__table__)
    count = 0
    for batch in chunks(rows, INSERT_BATCH):
        session.execute(insert(table), batch)
        count += len(batch)
    return count


def seed(core: Core, history: History, notes: int) -> Seeded:
    """Bulk-insert the history, then the notes (the FTS triggers fire on each row)."""
    started = time.perf_counter()
    with core.sessions.begin() as session:
        bulk_insert(session, Contact, history.contacts)
        bulk_insert(session, Case, history.cases)
        bulk_insert(session, Outbox, history.outbox)
        entries = bulk_insert(session, LogEntry, log_rows(history))
        chains = (
            {"key": log.chain_for_case(case_id), "length": length, "head_hash": head}
            for case_id, (length, head) in history.chain_heads.items()
        )
        bulk_insert(session, LogChain, chains)
    rows, rare = note_rows(history, notes)
    with core.sessions.begin() as session:
        bulk_insert(session, Note, rows)
    if core.engine.dialect.name == "postgresql":
        with core.engine.begin() as connection:  # committed: a rolled-back ANALYZE is undone
            connection.exec_driver_sql("ANALYZE")
    interim = sum(o["kind"] == OutboxKind.INTERIM for o in history.outbox)
    return Seeded(entries, len(history.outbox), interim, notes, rare, time.perf_counter() - started)


# -- 1. report ----------------------------------------------------------------------------------

# The log events the report counts per day, as the naive baseline counts them.
COUNTED = {
    LogEvent.CASE_OPENED: "cases_opened",
    LogEvent.INTERIM_SENT: "interim_sent",
    LogEvent.DELAY_NOTICE_SENT: "delay_notices_sent",
    LogEvent.INTERIM_FAILED: "failed_deliveries",
    LogEvent.CONFIRMATION_REQUESTED: "confirmations_requested",
    LogEvent.CONFIRMED: "confirmed",
    LogEvent.REOPEN_REQUESTED: "reopen_requested",
    LogEvent.AUTO_CLOSED: "auto_closed",
}
COMPARED = (*COUNTED.values(), "interim_timed", "interim_on_time", "csat_count")
SAMPLE_FIGURES = ("confirmed", "reopen_requested", "auto_closed", "interim_sent")


def naive_report(session: Session, since: datetime, until: datetime) -> dict[date, Counter[str]]:
    """Every log entry and outbox row of [since, until) loaded as ORM objects, counted per day
    of ZONE in Python."""
    zone = ZoneInfo(ZONE)
    days: defaultdict[date, Counter[str]] = defaultdict(Counter)
    for entry in session.scalars(select(LogEntry).where(LogEntry.at >= since, LogEntry.at < until)):
        day = days[entry.at.astimezone(zone).date()]
        name = COUNTED.get(LogEvent(entry.event))
        if name is not None:
            day[name] += 1
        elif entry.event == LogEvent.CSAT_RECEIVED and isinstance(entry.detail.get("score"), int):
            day["csat_count"] += 1
    for row in session.scalars(
        select(Outbox).where(Outbox.sent_at >= since, Outbox.sent_at < until)
    ):
        if row.kind == OutboxKind.INTERIM and row.due_at is not None and row.sent_at is not None:
            day = days[row.sent_at.astimezone(zone).date()]
            day["interim_timed"] += 1
            day["interim_on_time"] += row.sent_at - row.due_at <= ON_TIME_WITHIN
    return days


def compare_report(
    window: int, ours: Report, naive: dict[date, Counter[str]], checks: Checks
) -> None:
    totals: Counter[str] = Counter()
    for day in naive.values():
        totals.update(day)
    for name in COMPARED:
        checks.expect(
            f"{window} days: total {name} (ours = baseline)",
            getattr(ours.totals, name),
            totals[name],
        )
    differing = [
        (day.date, name, getattr(day, name), naive.get(day.date, Counter())[name])
        for day in ours.daily
        for name in COMPARED
        if getattr(day, name) != naive.get(day.date, Counter())[name]
    ]
    outside = sorted(set(naive) - {day.date for day in ours.daily})
    if differing or outside:
        for when, name, got, want in differing[:5]:
            checks.fail(f"{window} days: {when} {name}: ours {got}, baseline {want}")
        if outside:
            checks.fail(f"{window} days: the baseline counted days the report lacks: {outside}")
    else:
        print(
            f"  ok: {window} days: all {len(COMPARED)} figures equal on each of "
            f"{len(ours.daily)} days"
        )


def print_sample_days(ours: Report, naive: dict[date, Counter[str]]) -> None:
    """The first day, the day the clocks went back (if shown) and the last, side by side."""
    shown = {day.date: day for day in ours.daily}
    picks = [ours.daily[0].date, date(2026, 11, 1), ours.daily[-1].date]
    header = f"  {'day':<12}{'':<10}" + "".join(f"{n:>18}" for n in SAMPLE_FIGURES)
    print(header + f"{'on time / timed':>18}")
    for when in dict.fromkeys(p for p in picks if p in shown):
        day, base = shown[when], naive.get(when, Counter())
        cells = [getattr(day, n) for n in SAMPLE_FIGURES]
        print(
            f"  {when.isoformat():<12}{'ours':<10}"
            + "".join(f"{c:>18}" for c in cells)
            + f"{f'{day.interim_on_time}/{day.interim_timed}':>18}"
        )
        cells = [base[n] for n in SAMPLE_FIGURES]
        timed = f"{base['interim_on_time']}/{base['interim_timed']}"
        print(f"  {'':<12}{'baseline':<10}" + "".join(f"{c:>18}" for c in cells) + f"{timed:>18}")


def part_report(core: Core, args: argparse.Namespace, checks: Checks) -> list[str]:
    today = NOW.astimezone(ZoneInfo(ZONE)).date()
    rows: list[tuple[int, int, int, float, float, int]] = []
    ratios: list[str] = []
    for window in REPORT_WINDOWS:
        since, until = day_window(today - timedelta(days=window - 1), today, ZONE)
        assert since is not None and until is not None

        def ours(since: datetime = since, until: datetime = until) -> Report:
            with core.readers() as session:
                return build_report(
                    session,
                    since=since,
                    until=until,
                    now=NOW,
                    zone=ZONE,
                    on_time_within=ON_TIME_WITHIN,
                )

        def naive(since: datetime = since, until: datetime = until) -> dict[date, Counter[str]]:
            with core.readers() as session:
                return naive_report(session, since, until)

        ours_s, report = median_time(ours, args.repeats)
        naive_s, counted = median_time(naive, args.baseline_repeats)
        with StatementTimer(core.engine) as timer:  # one more call, untimed: where time goes
            ours()
        with core.readers() as session:
            entries = session.scalar(
                select(func.count()).where(LogEntry.at >= since, LogEntry.at < until)
            )
            sent = session.scalar(
                select(func.count()).where(Outbox.sent_at >= since, Outbox.sent_at < until)
            )
        rows.append((window, entries or 0, sent or 0, ours_s, naive_s, len(timer.spans)))
        print(
            f"\n  {window} days, {report.period}: {entries} log entries and {sent} outbox rows "
            "sent in the window"
        )
        compare_report(window, report, counted, checks)
        print_sample_days(report, counted)
        print("  where one build_report call's time goes (each statement until the next is sent):")
        for seconds, statement, _ in timer.spans:
            print(f"  {seconds * 1000:>8.0f} ms  {short_sql(statement, 88)}")
    print()
    header = (
        f"  {'window':<10}{'log entries':>12}{'outbox sent':>13}{'build_report':>15}"
        f"{'naive ORM':>12}{'statements':>12}{'speed-up':>10}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    for window, entries, sent, ours_s, naive_s, statements in rows:
        ratio = naive_s / ours_s if ours_s else float("inf")
        print(
            f"  {f'{window} days':<10}{entries:>12}{sent:>13}{ours_s:>13.3f} s{naive_s:>10.2f} s"
            f"{statements:>12}{ratio:>9.1f}x"
        )
        ratios.append(
            f"report, {window} days: build_report {ours_s:.2f} s, naive ORM {naive_s:.2f} s: "
            f"{times_faster(ratio)}"
        )
    return ratios


# -- 2. notes search ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Search:
    label: str
    text: str | None = None
    tag: str | None = None
    kind: str | None = None
    limit: int = 50

    def given(self) -> str:
        """The arguments given, as search_notes takes them."""
        given = {"text": self.text, "tag": self.tag, "kind": self.kind, "limit": self.limit}
        return ", ".join(f"{name}={value!r}" for name, value in given.items() if value is not None)


SEARCHES = (
    Search("rare word", text=RARE_WORD, limit=MAX_LIMIT),
    Search("common word", text="router"),
    Search("two words", text="refund courier"),
    Search("word + tag", text="router", tag="vip"),
    Search("word + kind", text="router", kind=str(NoteKind.TECHNICAL)),
    Search("tag alone", tag="vip"),
)


def like_search(session: Session, search: Search) -> list[Note]:
    """The baseline: every filter as a LIKE scan (ILIKE on PostgreSQL), newest first."""
    postgres = session.get_bind().dialect.name == "postgresql"
    tags = sql_cast(Note.tags, String)

    def holds(column: Any, pattern: str) -> Any:
        return column.ilike(pattern) if postgres else column.like(pattern)

    query = select(Note)
    for word in words(search.text or ""):
        query = query.where(holds(Note.text, f"%{word}%") | holds(tags, f"%{word}%"))
    if search.tag is not None:
        query = query.where(holds(tags, f'%"{search.tag}"%'))
    if search.kind is not None:
        query = query.where(Note.kind == search.kind)
    newest = query.order_by(Note.created_at.desc(), Note.id.desc()).limit(search.limit)
    return list(session.scalars(newest))


def holds_search(note: Note, search: Search) -> bool:
    """The note has every word of the search (as a word's start), its tag and its kind."""
    have = [w.casefold() for w in words(note.text + " " + json.dumps(note.tags))]
    wanted = [w.casefold() for w in words(search.text or "")]
    return (
        all(any(h.startswith(w) for h in have) for w in wanted)
        and (search.tag is None or search.tag in note.tags)
        and (search.kind is None or note.kind == search.kind)
    )


def part_search(core: Core, seeded: Seeded, args: argparse.Namespace, checks: Checks) -> list[str]:
    repeats = args.repeats * 2 + 1  # queries are short: more of them for a steadier median
    rows: list[tuple[Search, int, float, float]] = []
    for search in SEARCHES:

        def ours(search: Search = search) -> list[int]:
            with core.readers() as session:
                hits = search_notes(
                    session,
                    text=search.text,
                    tag=search.tag,
                    kind=search.kind,
                    limit=search.limit,
                )
                found = [hit.note for hit in hits]
                if not all(holds_search(note, search) for note in found):
                    checks.fail(f"search {search.label}: a hit lacks a word, the tag or the kind")
                return [note.id for note in found]

        def baseline(search: Search = search) -> list[int]:
            with core.readers() as session:
                found = like_search(session, search)
                if not all(holds_search(note, search) for note in found):
                    checks.fail(f"LIKE {search.label}: a hit lacks a word, the tag or the kind")
                return [note.id for note in found]

        ours(), baseline()  # warm-up, untimed
        ours_times: list[float] = []
        base_times: list[float] = []
        for _ in range(repeats):  # alternate, so that drift hits both alike
            started = time.perf_counter()
            got = ours()
            ours_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            want = baseline()
            base_times.append(time.perf_counter() - started)
        if search.text == RARE_WORD:
            checks.expect(
                f"search {search.label}: notes found (= planted)", len(got), seeded.rare_notes
            )
            same = sorted(got) == sorted(want)
            checks.expect(f"search {search.label}: the same notes as LIKE", same, True)
        elif search.text is None:
            same = got == want
            checks.expect(f"search {search.label}: the same notes in the same order", same, True)
        else:
            checks.expect(
                f"search {search.label}: hits (both return the limit)",
                (len(got), len(want)),
                (search.limit, search.limit),
            )
        ours_s, base_s = statistics.median(ours_times), statistics.median(base_times)
        rows.append((search, len(got), ours_s, base_s))
        if base_s / ours_s < SLOWER_FINDING:
            with StatementTimer(core.engine) as timer:  # one more call, untimed: its plan
                ours()
            _, statement, params = timer.slowest()
            checks.finding(
                f"search_notes, {search.label} ({search.given()}), is {base_s / ours_s:.2f} of "
                f"the speed of a LIKE scan at {seeded.notes} notes (its plan is in part 2)"
            )
            for line in query_plan(core.engine, statement, params)[:8]:
                print(f"    plan: {line}")
    print(f"\n  median of {repeats} queries each, {seeded.notes} notes")
    header = (
        f"  {'query':<14}{'text':<16}{'tag':<6}{'kind':<11}{'hits':>6}{'search_notes':>15}"
        f"{'LIKE scan':>12}{'speed-up':>10}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    ratios: list[str] = []
    for search, hits, ours_s, base_s in rows:
        ratio = base_s / ours_s if ours_s else float("inf")
        print(
            f"  {search.label:<14}{search.text or '-':<16}{search.tag or '-':<6}"
            f"{search.kind or '-':<11}{hits:>6}{ours_s * 1000:>12.1f} ms"
            f"{base_s * 1000:>9.1f} ms{ratio:>9.1f}x"
        )
        ratios.append(
            f"search, {search.label}: search_notes {ours_s * 1000:.1f} ms, LIKE {base_s * 1000:.1f}"
            f" ms: {times_faster(ratio)}"
        )
    return ratios


# -- 3. admin case lists ------------------------------------------------------------------------


# Page 1 of every view with no filters (what /admin opens on), then one with a text filter
# (ILIKE over subject, ref, contact name and phone) for comparison.
LISTS = [(view, CaseFilters()) for view in VIEWS] + [("open", CaseFilters(text="router"))]


def part_lists(core: Core, history: History, args: argparse.Namespace, checks: Checks) -> None:
    print(f"\n  {len(history.cases)} cases; page 1; median of {args.repeats} calls each")
    header = (
        f"  {'view':<10}{'filter':<15}{'total':>7}{'rows':>6}{'per call':>12}{'statements':>12}"
        f"{'slowest':>10}"
    )
    print(header)
    print("  " + "-" * (len(header) - 2))
    slow: list[tuple[str, float, tuple[float, str, Any]]] = []
    slowest: tuple[float, str, Any] = (0.0, "", None)
    problems = len(checks.problems)
    for view, filters in LISTS:

        def call(view: str = view, filters: CaseFilters = filters) -> tuple[int, int, Any]:
            with core.readers() as session:
                listed = list_cases(session, core, view, filters, page=1, now=NOW)
                return listed.total, len(listed.rows), listed.counts

        call()  # warm-up, untimed
        seconds, (total, shown, counts) = median_time(call, args.repeats)
        with StatementTimer(core.engine) as timer:  # one more call, untimed: where time goes
            call()
        worst = timer.slowest()
        slowest = max(slowest, worst, key=lambda span: span[0])
        shown_filter = " ".join(f"{k}={v!r}" for k, v in filters.active().items()) or "-"
        print(
            f"  {view:<10}{shown_filter:<15}{total:>7}{shown:>6}{seconds * 1000:>9.0f} ms"
            f"{len(timer.spans):>12}{worst[0] * 1000:>7.0f} ms"
        )
        expected = history.view_counts(filters.text)
        if (total, shown, counts) != (expected[view], min(PAGE_SIZE, total), expected):
            checks.fail(
                f"{view} {shown_filter}: total {total}, {shown} rows, counts {counts}; expected "
                f"{expected[view]}, {min(PAGE_SIZE, expected[view])} rows, counts {expected}"
            )
        if seconds > LIST_LIMIT_S:
            slow.append((f"{view} {shown_filter}", seconds, worst))
    if len(checks.problems) == problems:
        print(
            "  ok: each list's total, page 1 and the five views' counts match the cases seeded: "
            f"{history.view_counts('')}"
        )
    print(
        f"  slowest statement of them all, until the next is sent: {slowest[0] * 1000:.0f} ms: "
        f"{short_sql(slowest[1], 80)}"
    )
    for what, seconds, (spent, statement, params) in slow:
        checks.finding(
            f"list_cases {what} takes {seconds:.2f} s per call at {len(history.cases)} cases "
            f"(over {LIST_LIMIT_S:.0f} s); its slowest statement ({spent * 1000:.0f} ms): "
            f"{short_sql(statement, 160)}"
        )
        for line in query_plan(core.engine, statement, params)[:8]:
            print(f"    plan: {line}")
    if not slow:
        print(f"  no call over {LIST_LIMIT_S:.0f} s at {len(history.cases)} cases")


# -- the run ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ops", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    add = parser.add_argument
    add("--quick", action="store_true", help="5,000 cases and 20,000 notes (under a minute)")
    add("--postgres", action="store_true", help="on a throwaway PostgreSQL instead of SQLite")
    add(
        "--verify",
        action="store_true",
        help="run bot.ledger.chain.verify on the seeded log (--quick does)",
    )
    add("--cases", type=int, help=f"cases stored (default {FULL_SIZES['cases']})")
    add("--notes", type=int, help=f"notes stored (default {FULL_SIZES['notes']})")
    add("--repeats", type=int, help=f"timed calls of each (default {FULL_SIZES['repeats']})")
    add(
        "--baseline-repeats",
        type=int,
        help="timed calls of the naive report (default 1: it takes seconds)",
    )
    args = parser.parse_args(argv)
    for name, value in (QUICK_SIZES if args.quick else FULL_SIZES).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if min(args.cases, args.notes, args.repeats, args.baseline_repeats) < 1:
        parser.error("every size and count must be at least 1")
    if args.notes * RARE_SHARE > MAX_LIMIT:
        parser.error(
            f"at most {int(MAX_LIMIT / RARE_SHARE)} notes (the rare word's hits fit a page)"
        )
    args.verify = args.verify or args.quick
    return args


def database_url(cleanup: ExitStack, postgres: bool) -> tuple[str, str]:
    """An empty database, and what it is for the header."""
    if not postgres:
        tmp = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="keepposted-bench-")))
        return f"sqlite:///{tmp / 'ops.db'}", f"SQLite {sqlite3.sqlite_version} (a file, WAL)"
    from tests.support.pg_server import throwaway_postgres

    server = cleanup.enter_context(throwaway_postgres())
    url = server.create_database("bench_ops")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            version = str(connection.scalar(text("SHOW server_version"))).split()[0]
    finally:
        engine.dispose()
    return url, f"a throwaway PostgreSQL {version} (fsync and synchronous_commit off)"


def part(number: int, name: str, run: Callable[[], T]) -> T:
    print(f"\n== {number}. {name} ==")
    began = time.perf_counter()
    result = run()
    print(f"({name} took {time.perf_counter() - began:.0f} s)")
    return result


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwind, so that the server is stopped and the temp dir removed


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupted)
    if not vocabulary_is_clean():
        raise BenchFailed("a word of VOCABULARY or TAGS lies inside another")
    began = time.perf_counter()
    checks = Checks(problem_label="MISMATCH")
    with ExitStack() as cleanup:
        url, backend = database_url(cleanup, args.postgres)
        upgrade(url)
        core = create_core(
            parse_config({"timezone": ZONE}), Settings(database_url=url), clock=FrozenClock(NOW)
        )
        cleanup.callback(core.engine.dispose)
        load = os.getloadavg()[0]  # other work on the machine skews both sides of a ratio
        print(f"keepposted ops on {backend}, {os.cpu_count()} CPUs, load average {load:.1f}")
        started = time.perf_counter()
        history = make_history(args.cases)
        made = time.perf_counter() - started
        seeded = seed(core, history, args.notes)
        print(
            f"seeded (not measured; {made:.0f} s to make, {seeded.seconds:.0f} s to insert): "
            f"{args.cases} cases, {seeded.entries} log entries, {seeded.outbox} outbox rows "
            f"({seeded.interim} interim), {seeded.notes} notes ({seeded.rare_notes} with "
            f"{RARE_WORD!r}), {HISTORY_DAYS} days up to {NOW.isoformat()}"
        )
        if args.verify:
            started = time.perf_counter()
            with core.readers() as session:
                verified = log.verify(session)
            checks.expect(
                f"log.verify ({time.perf_counter() - started:.0f} s, not measured): "
                "(ok, entries, chains)",
                (verified.ok, verified.entries, verified.chains),
                (True, seeded.entries, args.cases),
            )

        ratios = part(1, "report", lambda: part_report(core, args, checks))
        ratios += part(2, "search", lambda: part_search(core, seeded, args, checks))
        part(3, "lists", lambda: part_lists(core, history, args, checks))

    print("\nratios (baseline / ours, same run):")
    for line in ratios:
        print(f"  {line}")
    if checks.findings:
        print("findings:")
        for finding in checks.findings:
            print(f"  - {finding}")
    print(f"\ntook {time.perf_counter() - began:.0f} s")
    if checks.problems:
        print(f"FAILED: {len(checks.problems)} mismatch(es):")
        for problem in checks.problems:
            print(f"  - {problem}")
        return 1
    print("all checks ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
