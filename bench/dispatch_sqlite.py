"""Dispatch benchmark on SQLite: the full interim-update path against a bare bulk insert.

What is compared, and why ------------------------- *Ours* is what the worker really does when N
open cases fall due at once (for example after the worker was down):
`bot.worker.advance_due_updates` claims due cases in batches, renders the `interim` template, writes
a Message and an Outbox row and advances each case in one transaction per batch; then
`bot.outbox.sender.send_due` claims outbox rows, hands each to the channel (an in-memory channel
here, so no network time is counted) and, per send, marks it sent and appends a hash-chained entry
to the case's log in its own transaction.

The *baseline* is the floor for the same rows on the same engine settings (WAL, synchronous=
NORMAL, foreign keys on, BEGIN IMMEDIATE from `bot.store.db.make_engine`): a plain SQLAlchemy Core
bulk `insert()` of N `messages` and N `outbox` rows (the very bodies, addresses and ids the
worker produced) into a second fresh database, committed in batches of
`config.worker.batch_size`. The ratio ours / baseline says how much the logic (claiming,
rendering, per-send transactions, the log chain) costs over just writing the rows.

Seeding (N contacts and N cases through `bot.engine.actions.open_case`, 500 per transaction, so each
case has a valid log chain) is timed separately and is not part of the comparison.

Run from the repository root: `python -m bench.dispatch_sqlite [--quick] [--cases N]` (--quick:
500 cases, a few seconds). Exits non-zero when the checks at the end fail: N interim messages
sent, one `interim_sent` log entry per case, `log.verify` ok.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Engine, Table, func, insert, select

from bench.sql_counter import SqlCounter
from bot.clock import FrozenClock
from bot.config import Config, Settings, parse_config
from bot.core import Core, create_core
from bot.domain import LogEvent, MessageStatus, OutboxKind, OutboxStatus
from bot.engine import actions
from bot.ledger import chain as log
from bot.outbox.sender import send_due
from bot.store.db import make_engine
from bot.store.migrate import upgrade
from bot.store.models import Case, Contact, LogEntry, Message, Outbox
from bot.worker import advance_due_updates
from channels.base import OutboundMessage, Sender, SendResult
from channels.catalog import channel_names
from channels.registry import ChannelRegistry

# A Monday, 10:00 in New York: four hours later (when the first update is due) is still
# outside the default SMS quiet hours (21:00-08:00), so nothing is deferred.
START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
SEED_BATCH = 500
FULL_CASES = 5_000
QUICK_CASES = 500
SUBJECTS = (
    "Internet down",
    "No dial tone on the landline",
    "Router keeps rebooting",
    "Slow speeds in the evening since the upgrade",
    "Bill charged twice",
)

T = TypeVar("T")


class MemoryChannel:
    """A sender that keeps what it is given in memory and always succeeds."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[OutboundMessage] = []
        self._ids = itertools.count(1)

    def line_of(self, message: OutboundMessage) -> str:
        return self.name

    def line_rate(self) -> float | None:
        return None

    def wait_turn(self, message: OutboundMessage) -> None:
        """No rate to keep: only our own cost is measured."""

    def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message)
        return SendResult(provider_id=f"MEM{self.name.upper()}{next(self._ids):07d}")


@dataclass
class Phase:
    name: str
    seconds: float
    rows: int
    statements: int
    commits: int
    calls: int

    @property
    def per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else float("inf")


@dataclass
class Results:
    phases: list[Phase] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def bench_config(batch_size: int | None) -> Config:
    # No per-case offset: the run is every case due at once, as after a worker outage.
    data: dict[str, Any] = {"timezone": "America/New_York", "cadences": {"jitter": 0}}
    if batch_size is not None:
        data["worker"] = {"batch_size": batch_size}
    return parse_config(data)


def build_core(url: str, config: Config, clock: FrozenClock) -> tuple[Core, MemoryChannel]:
    channels: dict[str, Sender] = {name: MemoryChannel(name) for name in channel_names()}
    sms = MemoryChannel("sms")
    channels["sms"] = sms
    core = create_core(
        config, Settings(database_url=url), clock=clock, channels=ChannelRegistry(channels)
    )
    return core, sms


def seed(core: Core, clock: FrozenClock, count: int) -> float:
    """N contacts and N open P3 cases, each with its `case_opened` log entry."""
    started = time.perf_counter()
    for batch in chunks(range(count), SEED_BATCH):
        with core.sessions.begin() as session:
            for i in batch:
                actions.open_case(
                    session,
                    core,
                    subject=f"{SUBJECTS[i % len(SUBJECTS)]} (site {i})",
                    contact={"name": f"Customer {i}", "phone": f"+1415{5_550_000 + i:07d}"},
                    actor="bench",
                    now=clock.now(),
                    priority="P3",
                )
    return time.perf_counter() - started


def due_count(core: Core) -> int:
    with core.sessions() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Case)
                .where(Case.next_update_at <= core.clock.now())
            )
            or 0
        )


def run_ours(core: Core, counter: SqlCounter, results: Results) -> None:
    """Advance every due case, then send everything queued: the measured work."""
    stmts, commits = counter.snapshot()
    started = time.perf_counter()
    queued = calls = 0
    while (done := advance_due_updates(core)) > 0:
        queued += done
        calls += 1
    calls += 1  # the last, empty call is part of the loop too
    advanced_at = time.perf_counter()
    stmts2, commits2 = counter.snapshot()
    results.phases.append(
        Phase(
            "advance_due_updates",
            advanced_at - started,
            queued,
            stmts2 - stmts,
            commits2 - commits,
            calls,
        )
    )

    sent = calls = 0
    while True:
        report = send_due(core, "bench")
        calls += 1
        sent += report.sent
        if report.failed or report.retried or report.skipped or report.abandoned:
            results.problems.append(f"send_due reported {report}")
        if not (report.sent + report.failed + report.retried + report.skipped):
            break
    finished = time.perf_counter()
    stmts3, commits3 = counter.snapshot()
    results.phases.append(
        Phase("send_due", finished - advanced_at, sent, stmts3 - stmts2, commits3 - commits2, calls)
    )
    results.phases.append(
        Phase(
            "ours total",
            finished - started,
            min(queued, sent),
            stmts3 - stmts,
            commits3 - commits,
            0,
        )
    )


def copy_rows(source: Engine, target: Engine, *tables: Table) -> None:
    with source.connect() as src, target.begin() as dst:
        for table in tables:
            query = select(table).order_by(*table.primary_key.columns)
            rows = [dict(r._mapping) for r in src.execute(query)]
            if rows:
                dst.execute(insert(table), rows)


def run_baseline(ours: Engine, url: str, batch_size: int, results: Results) -> None:
    """Bulk-insert the rows the worker wrote, unsent, into a second database; time the insert."""
    upgrade(url)
    engine = make_engine(url)
    counter = SqlCounter()
    try:
        # The rows point at contacts and cases; give them the same ones (untimed).
        copy_rows(ours, engine, cast(Table, Contact.__table__), cast(Table, Case.__table__))
        messages_t, outbox_t = cast(Table, Message.__table__), cast(Table, Outbox.__table__)
        with ours.connect() as conn:
            messages = [
                dict(r._mapping)
                for r in conn.execute(
                    select(messages_t)
                    .where(messages_t.c.template == "interim")
                    .order_by(messages_t.c.id)
                )
            ]
            outbox = [
                dict(r._mapping)
                for r in conn.execute(
                    select(outbox_t)
                    .where(outbox_t.c.kind == OutboxKind.INTERIM)
                    .order_by(outbox_t.c.id)
                )
            ]
        for m in messages:  # as queued: what advance_due_updates inserts
            m.update(status=MessageStatus.QUEUED, provider_id=None)
        for o in outbox:
            o.update(
                status=OutboxStatus.PENDING,
                attempts=0,
                lease_owner=None,
                lease_until=None,
                sent_at=None,
            )
        if len(messages) != len(outbox):
            results.problems.append(f"{len(messages)} messages but {len(outbox)} outbox rows")
        counter.attach(engine)
        started = time.perf_counter()
        for m_batch, o_batch in zip(
            chunks(messages, batch_size), chunks(outbox, batch_size), strict=False
        ):
            with engine.begin() as conn:
                conn.execute(insert(messages_t), list(m_batch))
                conn.execute(insert(outbox_t), list(o_batch))
        elapsed = time.perf_counter() - started
        results.phases.append(
            Phase(
                "baseline bulk insert",
                elapsed,
                len(messages),
                counter.statements,
                counter.commits,
                -(-len(messages) // batch_size),
            )
        )
        with engine.connect() as conn:
            got = (
                conn.scalar(select(func.count()).select_from(messages_t)),
                conn.scalar(select(func.count()).select_from(outbox_t)),
            )
        if got != (len(messages), len(outbox)):
            results.problems.append(f"baseline holds {got} messages/outbox rows")
    finally:
        engine.dispose()


def check_ours(core: Core, channel: MemoryChannel, count: int, results: Results) -> float:
    """Exactly N interim messages sent, one interim_sent entry per case, the log verifies."""
    started = time.perf_counter()
    sent = [m for m in channel.sent if m.kind == OutboxKind.INTERIM]
    if len(sent) != count or len(channel.sent) != count:
        results.problems.append(
            f"the channel got {len(channel.sent)} messages, {len(sent)} interim; expected {count}"
        )
    if len({m.message_id for m in sent}) != len(sent):
        results.problems.append("some message was sent twice")
    with core.sessions() as session:
        delivered = session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.template == "interim", Message.status == MessageStatus.SENT)
        )
        outbox_sent = session.scalar(
            select(func.count()).select_from(Outbox).where(Outbox.status == OutboxStatus.SENT)
        )
        entries = session.scalar(
            select(func.count(func.distinct(LogEntry.case_id))).where(
                LogEntry.event == str(LogEvent.INTERIM_SENT)
            )
        )
        still_due = session.scalar(
            select(func.count()).select_from(Case).where(Case.next_update_at <= core.clock.now())
        )
        for what, got, want in (
            ("interim messages marked sent", delivered, count),
            ("outbox rows sent", outbox_sent, count),
            ("cases with an interim_sent log entry", entries, count),
            ("cases still due", still_due, 0),
        ):
            if got != want:
                results.problems.append(f"{what}: {got}, expected {want}")
        verified = log.verify(session)
    if not verified.ok:
        results.problems.append(f"log.verify failed: {verified.first_problem}")
    if verified.chains != count or verified.entries != 2 * count:
        results.problems.append(
            f"log holds {verified.entries} entries in {verified.chains} "
            f"chains; expected {2 * count} in {count}"
        )
    return time.perf_counter() - started


def print_table(count: int, batch_size: int, seed_seconds: float, results: Results) -> None:
    print(
        f"keepposted dispatch on SQLite file (WAL, synchronous=NORMAL): {count} due cases, "
        f"batch {batch_size}"
    )
    print(
        f"seed ({count} open_case, {SEED_BATCH}/txn, not measured): {seed_seconds:.2f} s "
        f"({count / seed_seconds:.0f}/s)"
    )
    print()
    header = (
        f"{'phase':<22}{'seconds':>9}{'rows/s':>9}{'calls':>7}{'SQL stmts':>11}"
        f"{'stmts/row':>11}{'commits':>9}"
    )
    print(header)
    print("-" * len(header))
    for p in results.phases:
        calls = str(p.calls) if p.calls else ""
        print(
            f"{p.name:<22}{p.seconds:>9.3f}{p.per_second:>9.0f}{calls:>7}{p.statements:>11}"
            f"{p.statements / max(p.rows, 1):>11.1f}{p.commits:>9}"
        )
    print()
    ours = next(p for p in results.phases if p.name == "ours total")
    base = next((p for p in results.phases if p.name.startswith("baseline")), None)
    if base is None:
        return
    ratio = ours.seconds / base.seconds if base.seconds else float("inf")
    print(
        f"dispatch {count} due cases: ours {ours.seconds:.1f} s ({ours.per_second:.0f}/s), "
        f"baseline bulk insert {base.seconds:.2f} s ({base.per_second:.0f}/s); "
        f"ratio {ratio:.0f}x"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dispatch_sqlite",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_CASES} due cases (a few seconds), with the same checks",
    )
    parser.add_argument(
        "--cases", type=int, help=f"due cases (default {FULL_CASES}; --quick {QUICK_CASES})"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="worker.batch_size (default: the config default)",
    )
    args = parser.parse_args(argv)
    if args.cases is None:
        args.cases = QUICK_CASES if args.quick else FULL_CASES
    if args.cases < 1:
        parser.error("--cases must be at least 1")

    config = bench_config(args.batch_size)
    batch_size = config.worker.batch_size
    results = Results()
    with tempfile.TemporaryDirectory(prefix="keepposted-bench-") as tmp:
        ours_url = sqlite_url(Path(tmp) / "ours.db")
        upgrade(ours_url)
        clock = FrozenClock(START)
        core, channel = build_core(ours_url, config, clock)
        try:
            seed_seconds = seed(core, clock, args.cases)
            clock.advance(config.cadences.default.first)
            due = due_count(core)
            if due != args.cases:
                results.problems.append(f"{due} cases due after seeding, expected {args.cases}")
            counter = SqlCounter()
            counter.attach(core.engine)
            run_ours(core, counter, results)
            run_baseline(core.engine, sqlite_url(Path(tmp) / "baseline.db"), batch_size, results)
            check_seconds = check_ours(core, channel, args.cases, results)
        finally:
            core.engine.dispose()
    print_table(args.cases, batch_size, seed_seconds, results)
    print(f"checks ({check_seconds:.2f} s, not measured): ", end="")
    if results.problems:
        print("FAILED")
        for problem in results.problems:
            print(f"  - {problem}")
        return 1
    print(
        f"ok: {args.cases} interim messages sent, one interim_sent log entry per case, "
        "log.verify ok"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
