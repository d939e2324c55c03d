"""CPU per message sent: what one interim update costs the worker process, from the queued outbox
row to the row marked sent, with the provider out of process; aim 2 ms or less.

What is measured ---------------- N interim updates (1,000) are queued in an SQLite file (with
`--postgres` also on a throwaway PostgreSQL server, `tests/support/pg_server.py`), as the worker
queues them (bot.worker.advance_due_updates, New York numbers on a Monday morning, FrozenClock).
Then the real `bot.outbox.sender.send_due` runs, as the worker's `send_outbox` job does, until the
outbox is empty: claims, `send_threads` send threads, the real twilio client over HTTP to the
fake Twilio (`tests/support/fake_twilio.py`) in a child process of its own, so its CPU is not
counted. The sender's `mps` is 10,000, so pacing hardly waits. Per message: this process's CPU
(user + system, `resource.getrusage`), wall time, SQL statements and commits (SQLAlchemy events,
bench/sql_counter.py). On PostgreSQL the server's CPU is in its own processes, not counted.

Two runs of it. The aim is for the first, the load it is about: several short codes, 500
texts a second, from one worker. Twilio answers a create call in some 100-300 ms, so that
many texts a second take some 75 calls in flight: the fake answers in 150 ms and the worker
has 64 send threads (`worker.send_threads`' most). The second, printed beside it, is the one
that batches least: answers at once, the default 8 send threads, so the sender's writes come
a few at a time (bot/outbox/bookkeeping.py).

Its parts, from a second pass of N more updates (so timing them costs the figures nothing):
each step of the sender is timed on its own thread (`time.thread_time`; what a step's callees
that are steps themselves spend is theirs), with its statements and commits:
recovering leases, the claim, the checks before sending, the look after a slot, the pacer, the
provider call (SmsSender.send, the twilio client included) and the bookkeeping
(bot/outbox/bookkeeping.py: its transactions, in which the hand-over marks and the records of
sent messages are written in batches; its `calls` are those transactions); the rest (the
claim's commit, the lanes, the thread pools) is what is left of the pass's total. The
statements a send makes are listed with the part that made them.

The baseline, same run: the same number of `client.messages.create` calls, with the sender's
options, straight to the same fake over the sender's own client and thread count, no outbox. So
bookkeeping = total - provider call. The ratio against the 2 ms aim is printed, and a total over
it is a FINDING, not a failure.

Checks (exit 1 when one fails): every update was sent exactly once (every row marked sent, each
of their provider ids received once by the fake, nothing else received for those customers).
`--quick` (200 updates) is what `make bench-smoke` runs.

Run from the repository root: `python -m bench.cpu_per_message [--quick] [--updates N]
[--postgres]`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

from bench.answers_under_backlog import START, backlog_phone, config_for, open_cases
from bench.checks import Checks
from bench.sql_counter import SqlCounter
from bot.clock import FrozenClock
from bot.config import Settings, parse_config
from bot.core import Core, create_core
from bot.domain import OutboxKind, OutboxStatus
from bot.outbox import bookkeeping, sender
from bot.store.migrate import upgrade
from bot.store.models import Message, Outbox
from bot.worker import advance_due_updates

AIM_MS = 2.0


@dataclass(frozen=True)
class Load:
    """One run's provider and worker (see top)."""

    name: str
    latency: float  # seconds the fake Twilio takes to answer
    send_threads: int
    held_to_aim: bool


LOADS = (
    Load("500 texts a second: Twilio's 150 ms answers, 64 send threads", 0.15, 64, True),
    Load("least batching: answers at once, the default 8 send threads", 0.0, 8, False),
)
SQL_SHOWN = 72  # characters of each statement shown
IN_LIST = re.compile(r"IN \((?:\?|%\(\w+\)s|\$\d+)(?:, (?:\?|%\(\w+\)s|\$\d+))*\)")
MPS = 10_000.0  # pacing on, but hardly waiting
BASELINE_PHONE = "+1646555{:04d}"  # the baseline's customers, apart from the outbox's
# The sender's steps timed as parts: (owner, attribute, label).
STEPS: list[tuple[Any, str, str]] = [
    (sender, "recover_expired_leases", "recover leases"),
    (sender, "_claim", "claim"),
    (sender, "_ready", "checks before sending"),
    (sender, "_look", "look after a slot"),
    (sender, "_pull_urgent", "claim more urgent rows"),
    (bookkeeping.Bookkeeper, "_write", "bookkeeping transactions"),
    (bookkeeping.Bookkeeper, "_mark_handed", "hand-over marks"),
    (bookkeeping, "_record_sent", "record sent"),
]


# --- the fake Twilio, in a child process ---------------------------------------------------


def fake_child(latency: float) -> int:
    """Serve the fake Twilio; print its URL, then at EOF on stdin what it received, as JSON."""
    from tests.support.fake_twilio import FakeTwilio

    with FakeTwilio(latency=latency) as fake:
        print(fake.url, flush=True)
        sys.stdin.read()
        received = [[m.sid, m.to] for m in fake.messages]
    print(json.dumps(received), flush=True)
    return 0


@contextmanager
def fake_process(latency: float) -> Iterator[tuple[str, list[list[str]]]]:
    """The fake's URL; once the block ends, the list it received ([sid, to] each) is filled."""
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.cpu_per_message", "--fake-child", f"--latency={latency}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    received: list[list[str]] = []
    try:
        url = child.stdout.readline().strip()
        if not url.startswith("http://"):
            raise SystemExit(f"the fake Twilio did not start (it said {url!r})")
        yield url, received
        child.stdin.close()
        received.extend(json.loads(child.stdout.readline()))
    finally:
        if child.poll() is None:
            child.terminate()
        child.wait(timeout=15)


# --- the parts ------------------------------------------------------------------------------


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Parts:
    """CPU, calls, statements and commits per step, each on the thread that ran it."""

    cpu: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: Counter[str] = field(default_factory=Counter)
    statements: Counter[str] = field(default_factory=Counter)
    commits: Counter[str] = field(default_factory=Counter)
    sql: Counter[tuple[str, str]] = field(default_factory=Counter)  # (part, statement's start)
    cpu_total: float = 0.0  # seconds of the pass, this process
    _local: threading.local = field(default_factory=threading.local)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _stack(self) -> list[list[Any]]:
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        stack: list[list[Any]] = self._local.stack
        return stack

    def current(self) -> str:
        stack = self._stack()
        return str(stack[-1][0]) if stack else "rest"

    def timed(self, label: str, step: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            stack = self._stack()
            frame: list[Any] = [label, time.thread_time(), 0.0]  # label, start, in sub-steps
            stack.append(frame)
            try:
                return step(*args, **kwargs)
            finally:
                stack.pop()
                spent = time.thread_time() - frame[1]
                if stack:
                    stack[-1][2] += spent
                with self._lock:
                    self.cpu[label] += spent - frame[2]
                    self.calls[label] += 1

        return run

    def on_execute(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        label = self.current()
        with self._lock:
            self.statements[label] += 1
            shown = IN_LIST.sub("IN (...)", " ".join(statement.split()))  # one per batch size
            self.sql[label, shown[:SQL_SHOWN]] += 1

    def on_commit(self, *_args: Any) -> None:
        with self._lock:
            self.commits[self.current()] += 1


@contextmanager
def instrumented(core: Core, parts: Parts) -> Iterator[None]:
    """The sender's steps timed (module attributes, looked up at each call) and their SQL
    counted, undone after."""
    sms: Any = core.channels["sms"]
    patched: list[tuple[Any, str, Any]] = [(o, name, getattr(o, name)) for o, name, _ in STEPS]
    patched += [(sms, "send", sms.send), (sms.pacer, "wait", sms.pacer.wait)]
    for owner, name, label in STEPS:
        setattr(owner, name, parts.timed(label, getattr(owner, name)))
    sms.send = parts.timed("provider call (SmsSender.send)", sms.send)
    sms.pacer.wait = parts.timed("pacer", sms.pacer.wait)
    event.listen(core.engine, "before_cursor_execute", parts.on_execute)
    event.listen(core.engine, "commit", parts.on_commit)
    try:
        yield
    finally:
        event.remove(core.engine, "before_cursor_execute", parts.on_execute)
        event.remove(core.engine, "commit", parts.on_commit)
        for owner, name, original in patched:
            setattr(owner, name, original)


# --- one database ---------------------------------------------------------------------------


@dataclass
class Measure:
    database: str
    load: Load
    updates: int
    cpu: float  # seconds, this process
    wall: float
    statements: int
    commits: int
    parts: Parts
    baseline_cpu: float
    baseline_wall: float
    sent_rows: int
    left: int  # outbox rows not sent
    sids: list[str]  # provider ids of the sent rows
    phones: list[str]

    def per(self, value: float) -> float:
        return value / self.updates


def build_core(database_url: str, fake_url: str, send_threads: int) -> Core:
    from tests.support.fake_twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN

    settings = Settings(
        database_url=database_url,
        api_token="bench-token",
        secret_key="bench-secret",
        twilio_account_sid=DEFAULT_ACCOUNT_SID,
        twilio_auth_token=DEFAULT_AUTH_TOKEN,
        twilio_api_base_url=fake_url,
    )
    worker = {"worker": {"send_threads": send_threads}}
    config = parse_config(config_for("http://127.0.0.1:9", MPS, overrides=worker))
    return create_core(config, settings, clock=FrozenClock(START))


def baseline(core: Core, updates: int) -> tuple[float, float]:
    """CPU and wall seconds of `updates` create calls over the sender's client and threads."""
    sms: Any = core.channels["sms"]
    body = "Update on case 1 (Internet down): our team is still working on it. Reply STATUS."

    def create(i: int) -> None:
        sms.client.messages.create(
            to=BASELINE_PHONE.format(i),
            from_=sms.sms.pool[0],
            body=body,
            status_callback=sms.status_callback_url(i),
        )

    with ThreadPoolExecutor(core.config.worker.send_threads) as pool:
        list(pool.map(create, range(20)))  # connections open, as the sender's are after warm-up
        cpu, wall = cpu_now(), time.perf_counter()
        list(pool.map(create, range(updates)))
        return cpu_now() - cpu, time.perf_counter() - wall


def queue_updates(core: Core, phones: list[str]) -> None:
    """Open a case for each phone and queue its first interim update, as the worker does."""
    open_cases(core, phones)
    assert isinstance(core.clock, FrozenClock)
    core.clock.advance(timedelta(hours=1, minutes=5))  # their first updates are due now
    queued = 0
    while (done := advance_due_updates(core)) > 0:
        queued += done
    if queued != len(phones):
        raise SystemExit(f"{queued} of {len(phones)} interim updates were queued")


def send_all(core: Core) -> tuple[float, float]:
    """CPU and wall seconds of send_due runs until one sends nothing."""
    cpu, wall = cpu_now(), time.perf_counter()
    while sender.send_due(core, "bench").sent:
        pass
    return cpu_now() - cpu, time.perf_counter() - wall


def measure(
    database: str, load: Load, database_url: str, fake_url: str, updates: int, first: int = 0
) -> Measure:
    """Two passes of `updates` interim updates (to customers `first`, `first` + 1, ...): one
    as it runs, for the figures, then one with its parts timed."""
    upgrade(database_url)
    core = build_core(database_url, fake_url, load.send_threads)
    try:
        phones = [backlog_phone(first + i) for i in range(2 * updates)]
        baseline_cpu, baseline_wall = baseline(core, updates)
        queue_updates(core, phones[:updates])
        counter = SqlCounter()
        counter.attach(core.engine)
        cpu, wall = send_all(core)
        statements, commits = counter.snapshot()
        queue_updates(core, phones[updates:])
        parts = Parts()
        with instrumented(core, parts):
            parts.cpu_total, _ = send_all(core)
        with core.sessions() as session:
            sids = list(
                session.scalars(
                    select(Message.provider_id)
                    .join(Outbox, Outbox.message_id == Message.id)
                    .where(Outbox.kind == OutboxKind.INTERIM, Outbox.status == OutboxStatus.SENT)
                )
            )
            left = (
                session.scalar(select(func.count()).where(Outbox.status != OutboxStatus.SENT)) or 0
            )
        return Measure(
            database,
            load,
            updates,
            cpu,
            wall,
            statements,
            commits,
            parts,
            baseline_cpu,
            baseline_wall,
            len(sids),
            left,
            [str(sid) for sid in sids],
            phones,
        )
    finally:
        close = getattr(core.channels["sms"], "close", None)
        if close is not None:
            close()
        core.engine.dispose()


def report(m: Measure, received: list[list[str]], checks: Checks) -> None:
    ms = 1000.0
    total, provider = m.per(m.cpu) * ms, m.per(m.baseline_cpu) * ms
    print(
        f"  {m.database}: {m.updates:,} updates sent in {m.wall:.2f} s: "
        f"CPU {total:.2f} ms a message (ratio to the {AIM_MS:g} ms aim: {total / AIM_MS:.2f}), "
        f"wall {m.per(m.wall) * ms:.2f} ms a message, {m.per(m.statements):.2f} SQL statements "
        f"and {m.per(m.commits):.2f} commits a send"
    )
    print(
        f"    baseline, the create call alone: CPU {provider:.2f} ms a message, wall "
        f"{m.per(m.baseline_wall) * ms:.2f} ms; bookkeeping = total - provider call = "
        f"{total - provider:.2f} ms ({(total - provider) / total:.0%} of the CPU)"
    )
    parts = m.parts
    counted = sum(parts.cpu.values())
    rows = sorted(parts.cpu.items(), key=lambda item: -item[1])
    rows.append(("rest (claim commit, lanes, threads)", parts.cpu_total - counted))
    print(
        f"    its parts, from a second pass of {m.updates:,} with each step timed "
        f"({m.per(parts.cpu_total) * ms:.2f} ms a message with the timing):"
    )
    print(
        f"    {'part':<38}{'ms/msg':>8}{'share':>7}{'calls':>8}{'stmts/msg':>10}{'commits/msg':>12}"
    )
    for label, spent in rows:
        key = "rest" if label.startswith("rest") else label
        print(
            f"    {label:<38}{m.per(spent) * ms:>8.3f}{spent / parts.cpu_total:>7.0%}"
            f"{parts.calls[key]:>8,}{m.per(parts.statements[key]):>10.2f}"
            f"{m.per(parts.commits[key]):>12.2f}"
        )
    print(
        f"    statements a send, by part, in the timed pass ({m.per(m.statements):.2f} "
        f"statements and {m.per(m.commits):.2f} commits in the first; batches differ with "
        "timing):"
    )
    for (label, statement), count in sorted(parts.sql.items(), key=lambda item: -item[1]):
        if m.per(count) >= 0.02:
            print(f"      {m.per(count):5.2f}  {label:<28} {statement}")
    mine = set(m.phones)
    got = Counter(sid for sid, to in received if to in mine)
    checks.expect(f"{m.database}: outbox rows not sent", m.left, 0)
    checks.expect(f"{m.database}: rows marked sent (both passes)", m.sent_rows, 2 * m.updates)
    checks.expect(
        f"{m.database}: sent rows the fake received not exactly once",
        sum(1 for sid in m.sids if got[sid] != 1),
        0,
    )
    checks.expect(
        f"{m.database}: texts to these customers the fake received",
        sum(got.values()),
        2 * m.updates,
    )
    if total > AIM_MS and m.load.held_to_aim:
        checks.finding(
            f"{m.database}: {total:.2f} ms of CPU a message, over the {AIM_MS:g} ms aim "
            f"({total / AIM_MS:.1f}x; bookkeeping {total - provider:.2f} ms of it)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 updates")
    parser.add_argument("--updates", type=int, default=None)
    parser.add_argument("--postgres", action="store_true", help="also on a throwaway PostgreSQL")
    parser.add_argument("--fake-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--latency", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fake_child:
        return fake_child(args.latency)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    updates = args.updates or (200 if args.quick else 1000)
    print(
        f"CPU per message: {updates:,} interim updates through send_due, mps {MPS:,.0f}, "
        f"the fake Twilio in its own process, {os.cpu_count()} CPUs shared with whatever else "
        "runs (figures on the machine as loaded)"
    )
    checks = Checks()
    with ExitStack() as cleanup:
        folder = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="kp-cpu-")))
        server = None
        if args.postgres:
            from tests.support.pg_server import throwaway_postgres

            server = cleanup.enter_context(throwaway_postgres())
        for number, load in enumerate(LOADS):
            measures: list[Measure] = []
            with fake_process(load.latency) as (fake_url, received):
                sqlite = f"sqlite:///{folder / f'cpu-{number}.db'}"
                measures.append(measure("SQLite", load, sqlite, fake_url, updates))
                if server is not None:
                    url = server.create_database(f"bench_cpu_{number}")
                    measures.append(
                        measure("PostgreSQL", load, url, fake_url, updates, 2 * updates)
                    )
            print(f"{load.name}:")  # the fake said what it received as it stopped
            for m in measures:
                report(m, received, checks)
    return checks.exit_status()


if __name__ == "__main__":
    sys.exit(main())
