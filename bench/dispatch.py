"""Dispatch benchmark on PostgreSQL: interim updates from due cases to sent messages, in five parts.

Every figure is a ratio against a baseline measured in the same run; nothing here is a timed
assertion. A throwaway PostgreSQL server (`tests/support/pg_server.py`: initdb in a temp dir, with
fsync, synchronous_commit and full_page_writes off, so a commit costs less than on a durable server)
serves a fresh database, migrated with `bot.store.migrate.upgrade`, to each run. Cases are seeded
with COPY (one contact per case; the fastest bulk path for plain rows) and ANALYZEd; seeding is
timed apart and is never part of a comparison. Closed cases get the oldest ids and due ones the
newest, as in a real database.

1. dispatch: N due cases, in this process: `bench.dispatch_sqlite` on PostgreSQL, with its
   in-memory channel, phases, baseline and checks imported from it. *Ours*: advance_due_updates
   then send_due, called in loops until every interim update is sent (claim, render, outbox, one
   transaction per send, the hash-chained log). *Baseline*: a plain SQLAlchemy Core bulk insert of
   the same N message and N outbox rows into a fresh database. Checks: N messages sent, one
   `interim_sent` entry per case, `log.verify` ok over the whole log (each case is seeded with its
   `case_opened` entry and chain head, hashed as `bot.ledger.chain` hashes them).
2. workers: N due cases, then K = 1, 2, 4 (--workers; --quick: 1, 2) real `keepposted worker`
   processes (`python -m bot worker`, a config.yaml in a temp dir: poll_every 1s, send_every 1s,
   --batch-size), timed from spawning them until the database holds N sent outbox rows. SMS runs in
   dry-run (no TWILIO_ACCOUNT_SID): the worker's own SmsSender marks each message `simulated` and
   prints it to the worker's log, with no HTTP and no pacing, so the figure is our database path; a
   fake Twilio would be one more Python process on the same two cores and would mostly measure
   itself. Shown: throughput per K and its ratio to K = 1. Check: no case got two interim messages.
3. memory: the same due cases (--memory-due) with --stored-small and then --stored cases stored in
   all (the rest 90% closed, 10% open and not due for a day). One worker dispatches the due ones;
   after two more polls over the full tables its peak RSS (VmHWM, /proc/<pid>/status) is read. The
   ratio large / small must stay under --memory-limit: a worker's memory must not grow with the
   cases stored. Dispatch times are shown beside it, as a sign of a query that grows.
4. apscheduler: APScheduler's own approach, which keepposted does not take, beside ours on the same
   M due cases. A child process runs APScheduler 3.x's BackgroundScheduler with a
   SQLAlchemyJobStore on the same PostgreSQL and one `date` job per case, given by textual
   reference (`bench.dispatch:queue_interim_update`) so it pickles. The job claims its case,
   renders and queues the update as advance_due_updates does, and schedules the case's next update
   as a new date job; then the child sends the outbox with send_due in a loop. Timed: scheduling
   the M jobs, resume until every job ran, then until every update is sent; and the child's peak
   RSS. *Ours*: one `keepposted worker` on a fresh copy of the cases, from its first claim (the
   first message's `at`) to the last `sent_at`, and its peak RSS. APScheduler 3's FAQ says a
   persistent job store cannot be shared by several scheduler processes (with no interprocess
   locking or signalling, jobs run twice or are missed), so that approach is one scheduler process,
   however many cases.
5. timeliness: --timeliness-cases cases due evenly over the next --timeliness-window seconds and
   four worker processes with the default WorkerSettings (poll_every 5s, send_every 1s, batch_size
   200), sending through the real twilio client to `tests/support/fake_twilio.py` (served in this
   process; channels.sms.mps high enough never to pace). Lateness = sent - due, by the fake's
   receive time and by outbox.sent_at: p50, p99, max. Beside it, a peer whose time-based job runs
   every 5 or 15 minutes: with due times spread evenly its mean lateness is half its interval and
   its worst a whole one (computed, not run).

This machine has 2 CPUs (the header prints os.cpu_count()), shared by PostgreSQL, the workers and
this process; read part 2 with that in mind.

Sizes: the defaults take about 15 minutes here. Part 1 runs 15,000 due cases, not 100,000: in one
process send_due sends about 110 messages a second on this machine (8 SQL statements and 2 commits
each), so 100,000 take some 16 minutes on their own; `--only dispatch --cases 100000` runs them.
Part 2 runs 8,000 per K for the same reason.

Run from the repository root: `python -m bench.dispatch [--only PART ...] [--quick] [sizes]`
(`--help` lists the sizes). `--quick` runs every part small, with every check, in about a
minute. Exits non-zero when a check fails. Every worker, the fake and the server are stopped and
the temp dirs removed, also on Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import yaml
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import selectinload

from bench import dispatch_sqlite as sqlite_bench
from bench.checks import Checks
from bench.sql_counter import SqlCounter
from bot.clock import FrozenClock
from bot.config import Settings, load_config
from bot.core import Core, create_core
from bot.domain import LogEvent, OutboxKind, OutboxStatus
from bot.ledger import chain as log
from bot.outbox.sender import send_due
from bot.store.db import make_engine
from bot.store.migrate import upgrade
from bot.store.models import Case, LogEntry, Message, Outbox
from bot.worker import queue_interim_update as queue_for_case
from flows.interim import gets_updates
from tests.support.processes import Process  # standard library only: no pytest here

if TYPE_CHECKING:
    from apscheduler.schedulers.base import BaseScheduler

    from tests.support.pg_server import PostgresServer

ROOT = Path(__file__).resolve().parent.parent
# tests.support.pg_server and tests.support.fake_twilio are imported where they are used, so the
# APScheduler child (it imports this module) loads what a peer would: no pytest.

SECTIONS = ("dispatch", "workers", "memory", "apscheduler", "timeliness")
FULL_SIZES = {  # together about 15 minutes on this 2-CPU machine
    "cases": 15_000,
    "worker_cases": 8_000,
    "workers": "1,2,4",
    "stored_small": 10_000,
    "stored": 1_000_000,
    "memory_due": 5_000,
    "apscheduler_cases": 10_000,
    "timeliness_cases": 10_000,
    "timeliness_window": 60.0,
}
QUICK_SIZES = {  # every part small, checks and all: about a minute (make bench-smoke)
    "cases": 200,
    "worker_cases": 200,
    "workers": "1,2",
    "stored_small": 1_000,
    "stored": 10_000,
    "memory_due": 100,
    "apscheduler_cases": 150,
    "timeliness_cases": 150,
    "timeliness_window": 5.0,
}
SMS_FROM = "+15005550006"
PUBLIC_URL = "http://bench.invalid"  # status callbacks would go here; nothing resolves it
SUBJECT = "Internet down"
CLOSED_SHARE = 0.9  # of the stored cases that are not due (part 3)
WATCH_EVERY_SECONDS = 0.25
STALL_SECONDS = 90.0  # no progress in the database for this long: the run failed
TIMELINESS_WORKERS = 4
PEER_INTERVALS = (timedelta(minutes=5), timedelta(minutes=15))
JOB_REFERENCE = "bench.dispatch:queue_interim_update"


class BenchFailed(Exception):
    """A part could not finish; the message says why."""


@dataclass
class Bench:
    """What every part shares: the server, a temp dir, the options and the checks."""

    server: PostgresServer
    tmp: Path
    args: argparse.Namespace
    checks: Checks
    _serial: Iterator[int] = field(default_factory=itertools.count)

    def empty_database(self, label: str) -> str:
        return self.server.create_database(f"bench_{label}_{next(self._serial)}")

    def fresh_database(self, label: str) -> str:
        url = self.empty_database(label)
        upgrade(url)
        return url


# -- seeding ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseMix:
    """The cases to store, oldest id first: closed, then open and not due, then open and due."""

    due_at: Sequence[datetime]
    not_due: int = 0
    closed: int = 0
    with_log: bool = False  # a `case_opened` entry and chain head per case, as open_case writes

    @classmethod
    def stored(cls, due_at: Sequence[datetime], total: int) -> CaseMix:
        rest = max(total - len(due_at), 0)
        closed = round(rest * CLOSED_SHARE)
        return cls(due_at, not_due=rest - closed, closed=closed)

    @property
    def total(self) -> int:
        return self.closed + self.not_due + len(self.due_at)


CONTACT_COLUMNS = ("id", "name", "phone", "channel", "opted_out", "unreachable", "created_at")
CASE_COLUMNS = (
    "id",
    "subject",
    "priority",
    "status",
    "paused",
    "contact_id",
    "next_update_at",
    "reopen_count",
    "created_at",
    "updated_at",
    "closed_at",
    "close_reason",
)
LOG_COLUMNS = (*log.HASHED_FIELDS, "prev_hash", "hash")
CHAIN_COLUMNS = ("key", "length", "head_hash")


def phone(i: int) -> str:
    """Contact i's number; contact i owns case i, so a number names its case."""
    return f"+1415{5_550_000 + i:07d}"


def naive_utc(at: datetime) -> datetime:
    """A time as the UTCDateTime columns store it: UTC without a zone."""
    return at.astimezone(UTC).replace(tzinfo=None)


def contact_rows(count: int, opened: datetime) -> Iterator[tuple[Any, ...]]:
    for i in range(1, count + 1):
        yield (i, f"Customer {i}", phone(i), "sms", "[]", "[]", naive_utc(opened))


def case_rows(mix: CaseMix, opened: datetime) -> Iterator[tuple[Any, ...]]:
    at, later = naive_utc(opened), naive_utc(opened + timedelta(days=2))
    kinds = itertools.chain(
        itertools.repeat(("closed", None), mix.closed),
        itertools.repeat(("open", later), mix.not_due),
        (("open", naive_utc(due)) for due in mix.due_at),
    )
    for i, (status, next_update_at) in enumerate(kinds, start=1):
        closed = (at, "confirmed") if status == "closed" else (None, None)
        yield (i, SUBJECT, "P3", status, False, i, next_update_at, 0, at, at, *closed)


def log_rows(count: int, opened: datetime) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """Each case's `case_opened` entry, hashed as bot.ledger.chain.append hashes it, and its chain
    head."""
    detail = {"subject": SUBJECT, "priority": "P3"}
    for i in range(1, count + 1):
        entry = LogEntry(
            seq=i,
            chain=log.chain_for_case(i),
            chain_seq=1,
            case_id=i,
            at=opened,
            event=str(LogEvent.CASE_OPENED),
            actor="bench",
            channel=None,
            message_id=None,
            detail=detail,
            prev_hash=log.GENESIS,
        )
        entry.hash = log.entry_hash(log.GENESIS, entry)
        stored = {"at": naive_utc(opened), "detail": json.dumps(detail)}
        row = tuple(stored.get(column, getattr(entry, column)) for column in LOG_COLUMNS)
        yield row, (entry.chain, 1, entry.hash)


def copy_into(cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Any]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def seed_cases(url: str, mix: CaseMix, opened: datetime) -> float:
    """COPY the contacts and cases into an empty database and ANALYZE it; seconds taken."""
    started = time.perf_counter()
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            with cast(Any, connection.connection.driver_connection).cursor() as cursor:
                copy_into(cursor, "contacts", CONTACT_COLUMNS, contact_rows(mix.total, opened))
                copy_into(cursor, "cases", CASE_COLUMNS, case_rows(mix, opened))
                if mix.with_log:
                    pairs = list(log_rows(mix.total, opened))
                    copy_into(cursor, "log_entries", LOG_COLUMNS, (e for e, _ in pairs))
                    copy_into(cursor, "log_chains", CHAIN_COLUMNS, (c for _, c in pairs))
            # The rows came with their ids: move each sequence past them.
            for table, column in (("contacts", "id"), ("cases", "id"), ("log_entries", "seq")):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                    f"(SELECT coalesce(max({column}), 0) + 1 FROM {table}), false)"
                )
            connection.exec_driver_sql("ANALYZE")  # the planner sees what a live database has
    finally:
        engine.dispose()
    return time.perf_counter() - started


def seed_due(url: str, count: int) -> float:
    """`count` open cases, all due a minute ago."""
    now = datetime.now(UTC)
    return seed_cases(url, CaseMix([now - timedelta(minutes=1)] * count), now - timedelta(hours=4))


# -- worker processes ---------------------------------------------------------------------------


def peak_rss_kib(pid: int | str = "self") -> int:
    """VmHWM, the process's peak resident set size, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise BenchFailed(f"no VmHWM in /proc/{pid}/status")


def write_config(path: Path, *, worker: dict[str, Any] | None = None, mps: float = 1000) -> Path:
    """A config.yaml for the workers: no quiet hours (they would defer texts at night)."""
    data: dict[str, Any] = {
        "public_url": PUBLIC_URL,
        "timezone": "America/New_York",
        "quiet_hours": {"enabled": False},
        "channels": {"sms": {"from": SMS_FROM, "mps": mps}},
    }
    if worker:
        data["worker"] = worker
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    load_config(path)  # a bad file fails here, not in every worker
    return path


def fast_worker_config(bench: Bench) -> Path:
    """Parts 2-4: poll every second with --batch-size, so a worker is busy, not waiting."""
    worker = {"poll_every": "1s", "send_every": "1s", "batch_size": bench.args.batch_size}
    return write_config(bench.tmp / "workers.yaml", worker=worker)


def worker_env(url: str, config_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without provider credentials or secrets, plus the database and config."""
    own = ("DATABASE_URL", "KEEPPOSTED_CONFIG", "SECRET_KEY", "API_TOKEN", "ADMIN_TOKEN")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWILIO_", "SLACK_")) and k not in own
    }
    return env | {"DATABASE_URL": url, "KEEPPOSTED_CONFIG": str(config_path)} | (extra or {})


class WorkerProcess(Process):
    """One `keepposted worker` (`python -m bot worker`), run as the scale tests run it, plus what
    this benchmark reads of it."""

    def __init__(self, label: str, config_path: Path, env: dict[str, str], tmp: Path) -> None:
        command = [sys.executable, "-m", "bot", "--config", str(config_path), "worker"]
        super().__init__(label, command, env, tmp / f"{label}.log")

    def peak_rss_mib(self) -> float:
        assert self.popen is not None
        return peak_rss_kib(self.popen.pid) / 1024

    def started_up(self) -> bool:
        """It printed its banner, so it is about to start its jobs."""
        return "keepposted worker on" in self.read_log()

    def tracebacks(self) -> int:
        return self.read_log().count("Traceback")


def interim_counts(engine: Engine) -> tuple[int, int]:
    """(interim updates queued, interim updates sent) so far."""
    with engine.connect() as connection:
        queued, sent = connection.execute(
            select(func.count(), func.count().filter(Outbox.status == OutboxStatus.SENT)).where(
                Outbox.kind == OutboxKind.INTERIM
            )
        ).one()
    return int(queued), int(sent)


def watch(engine: Engine, expected: int, workers: Sequence[WorkerProcess], started: float) -> float:
    """Poll the database until `expected` interim updates are sent; seconds since `started`."""
    last, last_change = (-1, -1), time.perf_counter()
    while True:
        counts = interim_counts(engine)
        now = time.perf_counter()
        if counts[1] >= expected:
            return now - started
        if counts != last:
            last, last_change = counts, now
        elif now - last_change > STALL_SECONDS:
            raise BenchFailed(
                f"no progress for {STALL_SECONDS:.0f} s at {counts[0]} queued, "
                f"{counts[1]} sent of {expected}"
            )
        for worker in workers:
            if not worker.alive:
                raise BenchFailed(f"{worker.name} exited early:\n{worker.log_tail()}")
        time.sleep(WATCH_EVERY_SECONDS)


@dataclass(frozen=True)
class InterimStats:
    """The interim updates in a database after a run."""

    messages: int
    cases: int
    most_per_case: int
    sent: int
    first_claim: datetime | None  # the first interim message's `at`: when it was queued
    last_queued: datetime | None
    last_sent: datetime | None

    @property
    def window(self) -> float:
        """Seconds from the first claim to the last send."""
        return seconds_between(self.first_claim, self.last_sent)

    @property
    def queue_window(self) -> float:
        """Seconds from the first claim to the last one."""
        return seconds_between(self.first_claim, self.last_queued)


def seconds_between(first: datetime | None, last: datetime | None) -> float:
    return float("nan") if first is None or last is None else (last - first).total_seconds()


def interim_stats(url: str) -> InterimStats:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            per_case = (
                select(Message.case_id, func.count().label("n"))
                .where(Message.template == "interim")
                .group_by(Message.case_id)
                .subquery()
            )
            messages, cases, most = connection.execute(
                select(
                    func.coalesce(func.sum(per_case.c.n), 0),
                    func.count(),
                    func.coalesce(func.max(per_case.c.n), 0),
                )
            ).one()
            first_claim, last_queued = connection.execute(
                select(func.min(Message.at), func.max(Message.at)).where(
                    Message.template == "interim"
                )
            ).one()
            sent, last_sent = connection.execute(
                select(func.count(), func.max(Outbox.sent_at)).where(
                    Outbox.kind == OutboxKind.INTERIM, Outbox.status == OutboxStatus.SENT
                )
            ).one()
    finally:
        engine.dispose()
    return InterimStats(
        int(messages), int(cases), int(most), int(sent), first_claim, last_queued, last_sent
    )


def check_interims(checks: Checks, label: str, stats: InterimStats, expected: int) -> None:
    """One interim message per case, every one sent."""
    checks.expect(f"{label}: interim messages", stats.messages, expected)
    checks.expect(f"{label}: cases that got one", stats.cases, expected)
    checks.expect(f"{label}: most interim messages to one case", stats.most_per_case, 1)
    checks.expect(f"{label}: interim updates sent", stats.sent, expected)


@dataclass(frozen=True)
class WorkerRun:
    workers: int
    sent_after: float  # seconds from spawning the workers until every update was sent
    stats: InterimStats
    peak_rss_mib: list[float]


def run_workers(
    bench: Bench,
    label: str,
    url: str,
    config_path: Path,
    count: int,
    expected: int,
    *,
    env_extra: dict[str, str] | None = None,
    settle: float = 0.0,
    once_up: Callable[[], None] | None = None,
) -> WorkerRun:
    """Spawn `count` workers, wait until `expected` interim updates are sent, read their peak
    RSS `settle` seconds later, stop them. `once_up` runs when every worker printed its banner."""
    env = worker_env(url, config_path, env_extra)
    workers = [WorkerProcess(f"{label}-{i}", config_path, env, bench.tmp) for i in range(count)]
    engine = make_engine(url)
    try:
        with ExitStack() as running:
            started = time.perf_counter()
            for worker in workers:
                running.callback(worker.stop)
                worker.start()
            if once_up is not None:
                wait_until_up(workers)
                once_up()
            sent_after = watch(engine, expected, workers, started)
            time.sleep(settle)
            peaks = [worker.peak_rss_mib() for worker in workers]
    finally:
        engine.dispose()
    for worker in workers:
        if worker.tracebacks():
            bench.checks.fail(f"{worker.name} logged a traceback:\n{worker.log_tail()}")
    return WorkerRun(count, sent_after, interim_stats(url), peaks)


def wait_until_up(workers: Sequence[WorkerProcess], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(worker.started_up() for worker in workers):
        if time.monotonic() > deadline:
            raise BenchFailed(f"workers not up in {timeout:.0f} s:\n{workers[0].log_tail()}")
        for worker in workers:
            if not worker.alive:
                raise BenchFailed(f"{worker.name} exited early:\n{worker.log_tail()}")
        time.sleep(0.05)


# -- output -------------------------------------------------------------------------------------


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """The first column left-aligned, the others right-aligned, each as wide as it needs."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        rest = "".join(
            cell.rjust(width + 2) for cell, width in zip(cells[1:], widths[1:], strict=True)
        )
        return cells[0].ljust(widths[0]) + rest

    print(line(header))
    print("-" * len(line(header)))
    for row in rows:
        print(line(row))


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("inf")


def mib(values: Sequence[float]) -> str:
    return "/".join(f"{v:.0f}" for v in values)


# -- 1. dispatch in this process ----------------------------------------------------------------


def part_dispatch(bench: Bench) -> None:
    n = bench.args.cases
    config = sqlite_bench.bench_config(bench.args.batch_size)
    start = sqlite_bench.START  # outside the default quiet hours of the config's time zone
    url = bench.fresh_database("dispatch")
    mix = CaseMix([start - timedelta(minutes=1)] * n, with_log=True)
    seed_seconds = seed_cases(url, mix, start - timedelta(hours=4))
    core, channel = sqlite_bench.build_core(url, config, FrozenClock(start))
    results = sqlite_bench.Results()
    try:
        counter = SqlCounter()
        counter.attach(core.engine)
        sqlite_bench.run_ours(core, counter, results)
        baseline_url = bench.empty_database("baseline")  # run_baseline migrates it
        sqlite_bench.run_baseline(core.engine, baseline_url, config.worker.batch_size, results)
        check_seconds = sqlite_bench.check_ours(core, channel, n, results)
    finally:
        core.engine.dispose()

    print(
        f"{n} due cases in this process, batch_size {config.worker.batch_size}, in-memory "
        f"channel; seeded (COPY, with log) in {seed_seconds:.1f} s, not measured"
    )
    print_table(
        ("phase", "seconds", "rows/s", "calls", "SQL stmts", "stmts/row", "commits"),
        [
            (
                p.name,
                f"{p.seconds:.2f}",
                f"{p.per_second:.0f}",
                str(p.calls or ""),
                str(p.statements),
                f"{p.statements / max(p.rows, 1):.1f}",
                str(p.commits),
            )
            for p in results.phases
        ],
    )
    ours = next(p for p in results.phases if p.name == "ours total")
    base = next((p for p in results.phases if p.name.startswith("baseline")), None)
    if base is not None:
        print(
            f"dispatch {n} due cases: ours {ours.seconds:.1f} s ({ours.per_second:.0f}/s), "
            f"bulk insert of the same rows {base.seconds:.2f} s ({base.per_second:.0f}/s); "
            f"ours / baseline {ratio(ours.seconds, base.seconds):.0f}x"
        )
    print(f"checks ({check_seconds:.1f} s, log.verify over all {2 * n} entries):")
    for problem in results.problems:
        bench.checks.fail(problem)
    if not results.problems:
        print(f"  ok: {n} interim messages sent, one interim_sent entry per case, log.verify ok")


# -- 2. one against several worker processes ----------------------------------------------------


def part_workers(bench: Bench) -> None:
    n = bench.args.worker_cases
    config_path = fast_worker_config(bench)
    runs: list[tuple[WorkerRun, float]] = []
    for count in bench.args.workers:
        url = bench.fresh_database(f"workers{count}")
        seed_seconds = seed_due(url, n)
        run = run_workers(bench, f"workers{count}", url, config_path, count, n)
        runs.append((run, seed_seconds))
    print(
        f"{n} due cases; K `keepposted worker` processes, poll_every 1s, send_every 1s, "
        f"batch_size {bench.args.batch_size}, SMS dry-run; {os.cpu_count()} CPUs on this machine "
        "for PostgreSQL, the workers and this script"
    )
    first = runs[0][0]
    print_table(
        ("K", "seed s", "to sent s", "updates/s", "vs K=1", "claim->sent s", "peak RSS MiB"),
        [
            (
                str(run.workers),
                f"{seed:.1f}",
                f"{run.sent_after:.1f}",
                f"{n / run.sent_after:.0f}",
                f"{ratio(first.sent_after, run.sent_after):.2f}x",
                f"{run.stats.window:.1f}",
                mib(run.peak_rss_mib),
            )
            for run, seed in runs
        ],
    )
    print(
        "to sent: from spawning the workers (interpreter start included) until the database "
        "holds every update sent; claim->sent: first message queued to last sent_at"
    )
    for run, _ in runs:
        check_interims(bench.checks, f"K={run.workers}", run.stats, n)


# -- 3. worker memory against cases stored ------------------------------------------------------


def part_memory(bench: Bench) -> None:
    due = bench.args.memory_due
    config_path = fast_worker_config(bench)
    runs: list[tuple[int, float, WorkerRun]] = []
    for stored in (bench.args.stored_small, bench.args.stored):
        url = bench.fresh_database(f"memory{stored}")
        now = datetime.now(UTC)
        mix = CaseMix.stored([now - timedelta(minutes=1)] * due, stored)
        seed_seconds = seed_cases(url, mix, now - timedelta(hours=4))
        # Two more polls over the full tables after the last send, so they count in the peak.
        run = run_workers(bench, f"memory{stored}", url, config_path, 1, due, settle=2.5)
        runs.append((mix.total, seed_seconds, run))
    print(
        f"{due} due cases among the stored ones (the rest {CLOSED_SHARE:.0%} closed, the others "
        f"open and not due); one worker, batch_size {bench.args.batch_size}"
    )
    print_table(
        ("cases stored", "seed s", "claim->sent s", "peak RSS MiB"),
        [
            (f"{total:,}", f"{seed:.1f}", f"{run.stats.window:.1f}", mib(run.peak_rss_mib))
            for total, seed, run in runs
        ],
    )
    (small_total, _, small), (large_total, _, large) = runs
    memory = ratio(large.peak_rss_mib[0], small.peak_rss_mib[0])
    print(
        f"peak RSS {large_total:,} / {small_total:,} stored: {memory:.2f} "
        f"(must stay under {bench.args.memory_limit}); dispatch time "
        f"{ratio(large.stats.window, small.stats.window):.2f}"
    )
    for total, _, run in runs:
        check_interims(bench.checks, f"{total:,} stored", run.stats, due)
    if memory > bench.args.memory_limit:
        bench.checks.fail(
            f"worker peak RSS grew {memory:.2f}x from {small_total:,} to {large_total:,} cases"
        )
    else:
        print(f"  ok: worker peak RSS ratio {memory:.2f} <= {bench.args.memory_limit}")


# -- 4. APScheduler's own approach --------------------------------------------------------------

# The child process's scheduler, so a job can schedule its case's next update (set in the child).
_job_scheduler: BaseScheduler | None = None


@functools.cache
def job_core() -> Core:
    """The APScheduler child's Core, from DATABASE_URL and KEEPPOSTED_CONFIG as the worker's."""
    return create_core(load_config(None), Settings.from_env())


def schedule_interim(scheduler: BaseScheduler, case_id: int, at: datetime) -> None:
    """One date job for one case's next update, run however late (as the worker catches up)."""
    scheduler.add_job(
        JOB_REFERENCE,
        "date",
        run_date=at,
        args=[case_id],
        id=f"interim-{case_id}",
        replace_existing=True,
        misfire_grace_time=None,
        coalesce=True,
    )


def queue_interim_update(case_id: int) -> None:
    """APScheduler's job: claim the case, queue its interim update, schedule the next one."""
    core = job_core()
    now = core.clock.now()
    with core.sessions.begin() as session:
        case = session.get(
            Case, case_id, with_for_update=True, options=[selectinload(Case.contact)]
        )
        if case is None or not gets_updates(case) or case.next_update_at is None:
            return
        if case.next_update_at > now:  # moved on since the job was scheduled
            return
        queue_for_case(session, core, case, now)  # the very per-case work our worker does
        next_at = case.next_update_at
    if _job_scheduler is not None:
        schedule_interim(_job_scheduler, case_id, next_at)


def send_outbox(core: Core, worker: str) -> int:
    """send_due until the outbox is empty; how many were sent."""
    sent = 0
    while True:
        report = send_due(core, worker)
        sent += report.sent
        if not (report.sent + report.failed + report.retried + report.skipped):
            return sent


def apscheduler_child(result_path: Path) -> int:
    """The child of part 4: schedule a date job per due case, run them, send, report in JSON."""
    global _job_scheduler
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    core = job_core()  # built before the job threads start, so they share one
    with core.sessions() as session:
        due = list(
            session.execute(
                select(Case.id, Case.next_update_at)
                .where(Case.next_update_at <= core.clock.now())
                .order_by(Case.id)
            ).tuples()
        )
    ran, failed, all_ran, lock = 0, 0, threading.Event(), threading.Lock()

    def on_job(event: JobExecutionEvent) -> None:
        nonlocal ran, failed
        with lock:
            ran += 1
            failed += event.exception is not None
            if ran >= len(due):
                all_ran.set()

    store = SQLAlchemyJobStore(url=core.settings.database_url)
    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone=UTC)
    scheduler.add_listener(on_job, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    _job_scheduler = scheduler
    scheduler.start(paused=True)
    rss_before = peak_rss_kib()
    began = time.perf_counter()
    for case_id, at in due:
        assert at is not None
        schedule_interim(scheduler, case_id, at)
    scheduled = time.perf_counter()
    scheduler.resume()
    if not all_ran.wait(timeout=STALL_SECONDS + len(due) / 10):
        print(f"only {ran} of {len(due)} jobs ran", file=sys.stderr)
        return 1
    fired = time.perf_counter()
    sent = send_outbox(core, "apscheduler")
    finished = time.perf_counter()
    scheduler.shutdown(wait=False)
    result = {
        "jobs": len(due),
        "failed": failed,
        "sent": sent,
        "schedule_seconds": scheduled - began,
        "run_seconds": fired - scheduled,
        "send_seconds": finished - fired,
        "rss_before_mib": rss_before / 1024,
        "peak_rss_mib": peak_rss_kib() / 1024,
    }
    result_path.write_text(json.dumps(result), encoding="utf-8")
    return 0


def run_apscheduler(bench: Bench, url: str, config_path: Path, count: int) -> dict[str, Any]:
    """Run the child of part 4 on `url` and return its report."""
    result_path, log_path = bench.tmp / "apscheduler.json", bench.tmp / "apscheduler.log"
    command = [sys.executable, "-m", "bench.dispatch", "--apscheduler-child", result_path]
    with log_path.open("wb") as out:
        child = subprocess.Popen(
            [str(part) for part in command],
            env=worker_env(url, config_path),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        code = child.wait(timeout=2 * STALL_SECONDS + count / 5)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    output = log_path.read_text(errors="replace")
    if code != 0 or not result_path.exists():
        tail = "\n".join(output.splitlines()[-25:])
        raise BenchFailed(f"the APScheduler child failed (exit {code}):\n{tail}")
    if "Traceback" in output:  # the log goes with the temp dir: show the first one
        first = output[output.index("Traceback") :].splitlines()[:20]
        bench.checks.fail("the APScheduler child logged a traceback:\n" + "\n".join(first))
    return cast(dict[str, Any], json.loads(result_path.read_text()))


def part_apscheduler(bench: Bench) -> None:
    m = bench.args.apscheduler_cases
    config_path = fast_worker_config(bench)
    ours_url = bench.fresh_database("ours")
    seed_due(ours_url, m)
    ours = run_workers(bench, "apscheduler-ours", ours_url, config_path, 1, m)
    theirs_url = bench.fresh_database("apscheduler")
    seed_due(theirs_url, m)
    theirs = run_apscheduler(bench, theirs_url, config_path, m)
    theirs_stats = interim_stats(theirs_url)

    print(
        f"{m} due cases, SMS dry-run. APScheduler {apscheduler_version()}: BackgroundScheduler, "
        "SQLAlchemyJobStore, default thread pool (10); ours: one worker, batch_size "
        f"{bench.args.batch_size}, poll_every 1s"
    )
    theirs_total = theirs["run_seconds"] + theirs["send_seconds"]
    print_table(
        ("approach", "schedule s", "run/queue s", "send s", "due->sent s", "peak RSS MiB"),
        [
            (
                "APScheduler date job per case",
                f"{theirs['schedule_seconds']:.1f}",
                f"{theirs['run_seconds']:.1f}",
                f"{theirs['send_seconds']:.1f}",
                f"{theirs_total:.1f}",
                f"{theirs['peak_rss_mib']:.0f}",
            ),
            (
                "ours: keepposted worker",
                "-",
                f"{ours.stats.queue_window:.1f}",
                "-",
                f"{ours.stats.window:.1f}",
                mib(ours.peak_rss_mib),
            ),
        ],
    )
    print(
        f"APScheduler / ours: time from due to sent {ratio(theirs_total, ours.stats.window):.2f}, "
        f"peak RSS {ratio(theirs['peak_rss_mib'], ours.peak_rss_mib[0]):.2f}; plus "
        f"{theirs['schedule_seconds']:.1f} s to schedule the jobs, which ours does not need "
        f"(the child's RSS before scheduling: {theirs['rss_before_mib']:.0f} MiB)"
    )
    check_interims(bench.checks, "ours", ours.stats, m)
    check_interims(bench.checks, "APScheduler", theirs_stats, m)
    bench.checks.expect("APScheduler: jobs that raised", theirs["failed"], 0)


def apscheduler_version() -> str:
    from importlib.metadata import version

    return version("apscheduler")


# -- 5. timeliness at N due per window ----------------------------------------------------------


def spread_due_times(url: str, count: int, first: datetime, window: float) -> dict[int, datetime]:
    """Make the cases come due evenly from `first` over `window` seconds; case id -> due time."""
    step = window / count
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE cases SET next_update_at = "
                    ":first + make_interval(secs => (id - 1) * :step)"
                ),
                {"first": naive_utc(first), "step": step},
            )
            rows = connection.execute(select(Case.id, Case.next_update_at)).tuples().all()
    finally:
        engine.dispose()
    due = {case_id: at for case_id, at in rows if at is not None}
    if len(due) != len(rows):  # lateness would be measured against no due time
        raise BenchFailed(f"{len(rows) - len(due)} of {len(rows)} cases have no due time")
    return due


def lateness(seconds: Sequence[float]) -> tuple[str, ...]:
    ordered = sorted(seconds)

    def at(share: float) -> float:
        return ordered[min(int(share * len(ordered)), len(ordered) - 1)]

    return (
        f"{at(0.50):.2f}",
        f"{at(0.99):.2f}",
        f"{ordered[-1]:.2f}",
        f"{statistics.fmean(ordered):.2f}",
    )


def part_timeliness(bench: Bench) -> None:
    from tests.support.fake_twilio import FakeTwilio

    n, window = bench.args.timeliness_cases, bench.args.timeliness_window
    config_path = write_config(bench.tmp / "timeliness.yaml", mps=bench.args.timeliness_mps)
    settings = load_config(config_path).worker  # the defaults: no `worker:` in the file
    url = bench.fresh_database("timeliness")
    now = datetime.now(UTC)
    seed_cases(url, CaseMix([now + timedelta(days=1)] * n), now - timedelta(hours=4))
    due: dict[int, datetime] = {}

    def come_due() -> None:  # once the workers run, so start-up does not count as lateness
        due.update(spread_due_times(url, n, datetime.now(UTC) + timedelta(seconds=1), window))

    with FakeTwilio() as fake:
        credentials = {
            "TWILIO_ACCOUNT_SID": fake.account_sid,
            "TWILIO_AUTH_TOKEN": fake.auth_token,
            "TWILIO_API_BASE_URL": fake.url,
        }
        run = run_workers(
            bench,
            "timeliness",
            url,
            config_path,
            TIMELINESS_WORKERS,
            n,
            env_extra=credentials,
            once_up=come_due,
        )
        received = fake.messages
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            sent_at = connection.execute(
                select(Outbox.case_id, Outbox.sent_at).where(Outbox.kind == OutboxKind.INTERIM)
            ).all()
    finally:
        engine.dispose()
    by_phone = {phone(case_id): at for case_id, at in due.items()}
    at_fake = [(m.at - by_phone[m.to]).total_seconds() for m in received if m.to in by_phone]
    at_outbox = [(s - due[c]).total_seconds() for c, s in sent_at if c in due and s is not None]

    capacity = TIMELINESS_WORKERS * settings.batch_size / settings.poll_every.total_seconds()
    print(
        f"{n} cases due evenly over {window:.0f} s ({n / window:.0f}/s); {TIMELINESS_WORKERS} "
        f"workers with the default settings (poll_every {settings.poll_every.total_seconds():g}s, "
        f"send_every {settings.send_every.total_seconds():g}s, batch_size {settings.batch_size}: "
        f"they claim at most {capacity:.0f} cases/s), SMS to the fake Twilio, mps "
        f"{bench.args.timeliness_mps:g}"
    )
    rows = [
        ("ours, received by the fake Twilio", *lateness(at_fake or [float("nan")])),
        ("ours, outbox.sent_at", *lateness(at_outbox or [float("nan")])),
    ]
    mean_ours = statistics.fmean(at_fake) if at_fake else float("nan")
    for interval in PEER_INTERVALS:
        seconds = interval.total_seconds()
        rows.append(
            (
                f"peer job every {seconds / 60:.0f} min (computed)",
                "-",
                "-",
                f"{seconds:.2f}",
                f"{seconds / 2:.2f}",
            )
        )
    print_table(("lateness, seconds", "p50", "p99", "max", "mean"), rows)
    for interval in PEER_INTERVALS:
        print(
            f"a peer running every {interval.total_seconds() / 60:.0f} min is "
            f"{ratio(interval.total_seconds() / 2, mean_ours):.0f}x later on average than ours"
        )
    check_interims(bench.checks, "timeliness", run.stats, n)
    bench.checks.expect("timeliness: texts the fake Twilio received", len(received), n)
    bench.checks.expect("timeliness: numbers texted", len({m.to for m in received}), n)


# -- main ---------------------------------------------------------------------------------------

PARTS: dict[str, Callable[[Bench], None]] = {
    "dispatch": part_dispatch,
    "workers": part_workers,
    "memory": part_memory,
    "apscheduler": part_apscheduler,
    "timeliness": part_timeliness,
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dispatch", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    add = parser.add_argument
    add("--only", action="append", choices=SECTIONS, help="run this part (repeatable; default all)")
    add("--quick", action="store_true", help="small sizes for every part (about a minute)")
    default = FULL_SIZES
    add("--cases", type=int, help=f"1: due cases (default {default['cases']})")
    add("--batch-size", type=int, default=500, help="1-4: worker.batch_size (default 500)")
    add("--worker-cases", type=int, help=f"2: due cases (default {default['worker_cases']})")
    add("--workers", help=f"2: worker counts to compare (default {default['workers']})")
    add(
        "--stored-small",
        type=int,
        help=f"3: cases stored, small (default {default['stored_small']})",
    )
    add("--stored", type=int, help=f"3: cases stored, large (default {default['stored']})")
    add("--memory-due", type=int, help=f"3: due cases among them (default {default['memory_due']})")
    add("--memory-limit", type=float, default=1.3, help="3: largest peak RSS ratio (default 1.3)")
    add(
        "--apscheduler-cases",
        type=int,
        help=f"4: due cases (default {default['apscheduler_cases']})",
    )
    add(
        "--timeliness-cases", type=int, help=f"5: cases due (default {default['timeliness_cases']})"
    )
    add("--timeliness-window", type=float, help="5: over this many seconds (default 60)")
    add("--timeliness-mps", type=float, default=2000, help="5: channels.sms.mps (default 2000)")
    add("--apscheduler-child", type=Path, help=argparse.SUPPRESS)  # part 4's child process
    args = parser.parse_args(argv)
    for name, value in (QUICK_SIZES if args.quick else FULL_SIZES).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    try:
        args.workers = [int(k) for k in args.workers.split(",")]
    except ValueError:
        parser.error("--workers takes counts separated by commas, e.g. 1,2,4")
    sizes = (args.cases, args.worker_cases, args.stored_small, args.memory_due, args.batch_size)
    if min(*sizes, args.apscheduler_cases, args.timeliness_cases, *args.workers) < 1:
        parser.error("every size and count must be at least 1")
    if args.stored < args.stored_small or args.stored_small < args.memory_due:
        parser.error("expected --memory-due <= --stored-small <= --stored")
    return args


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwind, so that every process is stopped and every dir removed


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.apscheduler_child:
        return apscheduler_child(args.apscheduler_child)
    from tests.support.pg_server import throwaway_postgres

    # SIGTERM, and SIGINT even where a shell started us in the background with it ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupted)
    began = time.perf_counter()
    checks = Checks()
    with ExitStack() as cleanup:
        tmp = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="keepposted-bench-")))
        server = cleanup.enter_context(throwaway_postgres())
        bench = Bench(server, tmp, args, checks)
        print(
            f"keepposted dispatch on a throwaway {server_version(server.url)} (fsync and "
            f"synchronous_commit off), "
            f"{os.cpu_count()} CPUs"
        )
        for number, name in enumerate(SECTIONS, start=1):
            if args.only and name not in args.only:
                continue
            print(f"\n== {number}. {name} ==")
            part_began = time.perf_counter()
            try:
                PARTS[name](bench)
            except BenchFailed as exc:
                checks.fail(f"{name}: {exc}")
            print(f"({name} took {time.perf_counter() - part_began:.0f} s)")
    print(f"\ntook {time.perf_counter() - began:.0f} s")
    if checks.problems:
        print(f"FAILED: {len(checks.problems)} problem(s):")
        for problem in checks.problems:
            print(f"  - {problem.splitlines()[0]}")
        return 1
    print("all checks ok")
    return 0


def server_version(url: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            version = str(connection.scalar(text("SHOW server_version"))).split()[0]
    finally:
        engine.dispose()
    return f"PostgreSQL {version}"


if __name__ == "__main__":
    # Run as the module `bench.dispatch`, not `__main__`: the APScheduler child finds its job by
    # the textual reference JOB_REFERENCE, and the job must see that module's state.
    from bench import dispatch

    sys.exit(dispatch.main())
