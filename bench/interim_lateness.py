"""How late interim updates go out, under a load one SMS sender can carry and under one it cannot:
then every customer still gets at most one update per due time, the sender runs at its limit,
and the report's on-time share says what happened.

What is measured ---------------- N cases (New York numbers) each come due every `period`
seconds, their first due times spread over the first period, so updates come due continuously;
each case comes due several times in a run. The worker's jobs run as `keepposted worker` runs them
(bot.worker.schedule_jobs on an APScheduler 3 scheduler), on the real clock (SystemClock), with
real pacing and wall time; the app and the fake Twilio (`tests/support/fake_twilio.py`, the
provider's side only) talk over real HTTP through the real twilio client; the database is an
SQLite file. Quiet hours are off, as the real clock may be anywhere in New York's night.

The worker is sped up by SPEEDUP (10): `worker.poll_every` 500 ms (5 s), `send_every` 100 ms
(1 s), `lease` 12 s (2 min), and the sender's `mps` is chosen so the offered load (segments of
the updates that come due a second) is 0.7 times its capacity in one run (a long code at 1
segment a second, x10, carries 7 offered) and 1.5 times in the other. A cadence of `period`
less half a poll puts each due time mid-way between two polls, so it is picked up half a poll
later every time (and the period holds: with a whole number of polls, scheduler jitter would
lengthen half of them by a poll).

Per run: lateness (`due_at` to `sent_at` of the outbox rows) p50/p99 in seconds and in send slots
(1 / mps), and the on-time share within `2 x poll_every + send_every + one slot`: an update due
is queued at the next poll (within one poll), claimed at the next send run (one `send_every`),
and at a load under 1 the updates one poll queued are sent before the next poll's (within
another poll), the last of them in its own slot. The share is given two ways: of the updates
sent (what `keepposted report` computes, read through bot.ops.report.build_report), and of the
due times (an update replaced by the case's next one before it went out, or still waiting at the
run's end though due a threshold before it, counts as missed).

The physical limit, same run: `mps` x the run's seconds, against the segments offered (the
updates that came due), the slots the sender's pacer gave out (counted by a wrapper round its
`wait`, as each is taken) and the segments the fake received: a slot given to an update that is
dropped before its hand-over (replaced by the case's next one) is a slot no one used.

Checks (exit 1 when one fails), both runs: every message the fake received is one outbox row
marked sent, and each such row reached it once; no case has two interim updates for the same
due time; no customer receives two updates back to back without a due time between them (for
two updates in a row to one phone, the fake's order, the second was queued no earlier than one
poll before the first was handed to Twilio, and for a later due time); the report's on-time
share equals the one computed here from the outbox. Under the carriable load the on-time share
of due times is at least 0.95 (the load leaves 30% of the slots free, so only a stall of the
machine makes one late; so the check allows for the machine measured in the same run: the p99 of
how late a thread of the bench wakes from a 10 ms sleep, three times, once for each wake-up on
an update's way). Under overload nothing pretends it is on time: the check is that the
sender ran at its limit (segments received / limit at least 0.9); the shares are printed, and
a report share well above the due-time share is a FINDING (the report hides the dropped ones).

`--quick` (8 s runs, a 2 s period) is what `make bench-smoke` runs. Run from the repository
root: `python -m bench.interim_lateness [--quick] [--seconds S] [--period P] [--load L]`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from bench.answers_under_backlog import backlog_phone, config_for, open_cases, served
from bench.checks import Checks
from bot.clock import FrozenClock, SystemClock
from bot.config import Settings, parse_config
from bot.core import Core, create_core
from bot.domain import OutboxKind, OutboxStatus
from bot.ops.report import build_report
from bot.store.migrate import upgrade
from bot.store.models import Case, Message, Outbox
from bot.worker import queue_interim_update, schedule_jobs
from channels.segments import count_segments

SPEEDUP = 10.0
POLL = timedelta(seconds=5) / SPEEDUP
SEND_EVERY = timedelta(seconds=1) / SPEEDUP
LEASE = timedelta(minutes=2) / SPEEDUP
LOADS = (("carriable", 0.7), ("overload", 1.5))  # offered segments / the sender's capacity
ON_TIME_AIM = 0.95  # the carriable run's share of due times met
AT_LIMIT = 0.9  # the overloaded sender's segments received / its limit
HONEST_GAP = 0.05  # report share above the due-time share by more: a FINDING
WAKE_UPS = 3  # on an update's way: the poll that queues it, the send run, its slot
LEAD = 0.5  # seconds from the scheduler's start to the first due time


@dataclass(frozen=True)
class Plan:
    seconds: float  # of updates coming due
    period: float  # seconds between a case's due times
    load: float  # segments offered a second
    segments: int  # per update

    @property
    def cases(self) -> int:
        return max(1, round(self.load * self.period / self.segments))

    def overrides(self) -> dict[str, Any]:
        every = timedelta(seconds=self.period) - POLL / 2  # see top: mid-way between two polls
        return {
            "quiet_hours": {"enabled": False},
            "cadences": {"default": {"first_after": timedelta(hours=1), "every": every}},
            "worker": {"poll_every": POLL, "send_every": SEND_EVERY, "lease": LEASE},
        }


@dataclass
class Update:
    """One interim outbox row: one due time of one case."""

    case_id: int
    address: str
    status: OutboxStatus
    segments: int
    due_at: datetime
    created_at: datetime
    handed_at: datetime | None
    sent_at: datetime | None
    sid: str | None
    claimed: bool  # a send run held it (attempts left counted): dropped then, it was in a lane

    @property
    def lateness(self) -> float | None:
        return None if self.sent_at is None else (self.sent_at - self.due_at).total_seconds()


@dataclass
class Run:
    label: str
    mps: float
    start: datetime  # the first due time
    seconds: float
    threshold: float  # on time within this many seconds of due
    updates: list[Update]
    received: list[tuple[datetime, str, str, str]]  # the fake's (at, sid, to, body)
    report_share: float | None  # keepposted report's on-time share, same threshold
    slots: list[tuple[float, int]]  # the pacer's reservations: (wall time, segments)
    stall: float  # p99 of how late this process's threads woke from a short sleep, seconds

    @property
    def allowance(self) -> float:
        """The threshold widened by the machine's stall, measured in the same run."""
        return self.threshold + WAKE_UPS * self.stall

    @property
    def slot(self) -> float:
        return 1.0 / self.mps

    @property
    def limit(self) -> float:
        return self.mps * self.seconds

    def in_window(self, at: datetime) -> bool:
        return self.start <= at < self.start + timedelta(seconds=self.seconds)

    @property
    def offered(self) -> int:
        return sum(u.segments for u in self.updates if self.in_window(u.due_at))

    @property
    def sent_segments(self) -> int:
        return sum(
            count_segments(body).segments for at, _, _, body in self.received if self.in_window(at)
        )

    def sent(self) -> list[Update]:
        return [u for u in self.updates if u.status == OutboxStatus.SENT]

    def on_time(self, within: float | None = None) -> int:
        limit = self.threshold if within is None else within
        return sum(1 for u in self.sent() if (u.lateness or 0.0) <= limit)

    def share(self, q: float) -> float:
        ordered = sorted(u.lateness or 0.0 for u in self.sent())
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def segments_per_update(folder: Path, plan: Plan) -> int:
    """The segments of one interim update as the worker renders it (queued, then rolled back)."""
    url = f"sqlite:///{folder / 'probe.db'}"
    upgrade(url)
    config = parse_config(config_for("http://127.0.0.1", 1.0, overrides=plan.overrides()))
    clock = FrozenClock(datetime.now(UTC))
    core = create_core(config, Settings(database_url=url), clock=clock)
    try:
        open_cases(core, [backlog_phone(0)])
        with core.sessions() as session:
            case = session.scalars(select(Case)).one()
            assert case.next_update_at is not None
            queue_interim_update(session, core, case, case.next_update_at)  # as it falls due
            session.flush()
            body = session.scalars(select(Outbox.body)).one()
            session.rollback()
        return count_segments(body).segments
    finally:
        core.engine.dispose()


def run_once(label: str, folder: Path, plan: Plan, mps: float) -> Run:
    from tests.support.fake_twilio import FakeTwilio  # the provider's side only

    url = f"sqlite:///{folder / f'{label}.db'}"
    upgrade(url)
    clock = SystemClock()
    with FakeTwilio() as fake, served(url, fake, clock, mps, overrides=plan.overrides()) as core:
        open_cases(core, [backlog_phone(i) for i in range(plan.cases)])
        slots = _count_slots(core)
        scheduler = BackgroundScheduler()
        schedule_jobs(scheduler, core, "bench")
        start = clock.now() + timedelta(seconds=LEAD)
        with core.sessions.begin() as session:  # first due times spread over the first period
            cases = session.scalars(select(Case).order_by(Case.id)).all()
            for i, case in enumerate(cases):
                case.next_update_at = start + timedelta(seconds=plan.period * i / len(cases))
        scheduler.start()
        try:
            end = start + timedelta(seconds=plan.seconds)
            with stalls() as woke_late:
                time.sleep(max(0.0, (end - clock.now()).total_seconds()))
            scheduler.remove_job("advance_due_updates")  # nothing more comes due
        finally:
            # What is still claimed goes out or back as the send run ends (within lease / 2).
            logging.disable(logging.WARNING)
            scheduler.shutdown(wait=True)
            logging.disable(logging.NOTSET)
        threshold = (2 * POLL + SEND_EVERY).total_seconds() + 1.0 / mps
        with core.sessions() as session:
            updates = _updates(session)
            report_share = build_report(
                session,
                since=start,
                now=clock.now(),
                zone="America/New_York",
                on_time_within=timedelta(seconds=threshold),
            ).totals.on_time_share
        received = [(m.at, m.sid, m.to, m.body) for m in fake.messages]
    stall = sorted(woke_late)[int(0.99 * (len(woke_late) - 1))] if woke_late else 0.0
    return Run(
        label, mps, start, plan.seconds, threshold, updates, received, report_share, slots, stall
    )


@contextmanager
def stalls() -> Iterator[list[float]]:
    """How late a thread of this process wakes from a 10 ms sleep, over the block: the
    machine's and the interpreter's stall, which delays the worker's polls and slots too."""
    late: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set():
            began = time.perf_counter()
            time.sleep(0.01)
            late.append(max(0.0, time.perf_counter() - began - 0.01))

    thread = threading.Thread(target=probe, name="stall-probe", daemon=True)
    thread.start()
    try:
        yield late
    finally:
        stop.set()
        thread.join()


def _count_slots(core: Core) -> list[tuple[float, int]]:
    """Note each slot the SMS sender's pacer hands out, as it is taken (before the hand-over)."""
    sms: Any = core.channels["sms"]  # the Sender protocol has no pacer; SmsSender has
    pacer = sms.pacer
    wait = pacer.wait
    taken: list[tuple[float, int]] = []

    def counted(sender: str, cost: int = 1) -> float:
        taken.append((time.time(), cost))
        return float(wait(sender, cost))

    pacer.wait = counted
    return taken


def _updates(session: Any) -> list[Update]:
    rows = session.execute(
        select(Outbox, Message.provider_id)
        .outerjoin(Message, Message.id == Outbox.message_id)
        .where(Outbox.kind == OutboxKind.INTERIM)
        .order_by(Outbox.id)
    ).all()
    return [
        Update(
            case_id=row.case_id or 0,
            address=row.address,
            status=row.status,
            segments=count_segments(row.body).segments,
            due_at=row.due_at or row.created_at,
            created_at=row.created_at,
            handed_at=row.handed_at,
            sent_at=row.sent_at,
            sid=sid,
            claimed=row.attempts > 0,
        )
        for row, sid in rows
    ]


def _utc(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def check_once_per_due_time(run: Run, checks: Checks) -> None:
    """Exactly once per sent row, one row per (case, due time), and nothing back to back."""
    sent = {u.sid: u for u in run.sent() if u.sid is not None}
    received = Counter(sid for _, sid, _, _ in run.received)
    strangers = sum(1 for sid in received if sid not in sent)
    checks.expect(f"{run.label}: texts the fake received that are no sent row", strangers, 0)
    not_once = len(run.sent()) - sum(1 for sid in sent if received[sid] == 1)
    checks.expect(f"{run.label}: sent rows the fake did not receive once", not_once, 0)
    per_due = Counter((u.case_id, u.due_at) for u in run.updates)
    doubled = sum(1 for n in per_due.values() if n > 1)
    checks.expect(f"{run.label}: due times with two updates", doubled, 0)
    by_phone: dict[str, list[tuple[datetime, Update]]] = defaultdict(list)
    for at, sid, to, _ in run.received:
        if sid in sent:
            by_phone[to].append((at, sent[sid]))
    back_to_back = raced = 0
    for texts in by_phone.values():
        texts.sort(key=lambda text: text[0])
        for (_, first), (_, second) in pairwise(texts):
            left = first.handed_at or first.sent_at or first.created_at
            if second.due_at <= first.due_at or second.created_at < left - POLL:
                back_to_back += 1
            elif second.created_at < left:
                raced += 1
    checks.expect(
        f"{run.label}: customers' updates back to back without a due time between", back_to_back, 0
    )
    if raced:
        print(
            f"  {run.label}: {raced} update(s) queued while the case's previous one was being "
            "handed to Twilio (within one poll: the stale drop leaves a handed row alone)"
        )


def report(run: Run, ratio: float, checks: Checks) -> None:
    sent = run.sent()
    due = len(run.updates)
    replaced = sum(1 for u in run.updates if u.status == OutboxStatus.SKIPPED)
    # Dropped while a send run held them: the lane still waits their slot (see the report).
    in_lane = [u for u in run.updates if u.status == OutboxStatus.SKIPPED and u.claimed]
    waiting = sum(
        1 for u in run.updates if u.status in (OutboxStatus.PENDING, OutboxStatus.SENDING)
    )
    failed = due - len(sent) - replaced - waiting
    print(
        f"  {run.label} (offered {ratio:g}x, mps {run.mps:.2f}, slot {run.slot * 1000:.0f} ms): "
        f"{due} due times, {len(sent)} sent, {replaced} replaced by the next ({len(in_lane)} "
        f"of them while a send run held them), {waiting} still waiting at the end, "
        f"{failed} failed"
    )
    if not sent:
        checks.fail(f"{run.label}: nothing was sent")
        return
    p50, p99 = run.share(0.5), run.share(0.99)
    print(
        f"    lateness due -> sent: p50 {p50:.2f} s ({p50 / run.slot:,.1f} slots), "
        f"p99 {p99:.2f} s ({p99 / run.slot:,.1f} slots), max {run.share(1.0):.2f} s"
    )
    of_sent = run.on_time() / len(sent)
    # Of the due times whose outcome was known by the end (due a threshold before it, or sent).
    cutoff = run.start + timedelta(seconds=run.seconds - run.threshold)
    decided = [u for u in run.updates if u.due_at <= cutoff or u.status == OutboxStatus.SENT]
    of_due = run.on_time() / len(decided)
    print(
        f"    on time (within {run.threshold:.2f} s = 2 x poll {POLL.total_seconds():g} s + "
        f"send_every {SEND_EVERY.total_seconds():g} s + one slot): {of_sent:.1%} of the updates "
        f"sent, {of_due:.1%} of the due times; keepposted report says "
        + ("-" if run.report_share is None else f"{run.report_share:.1%}")
    )
    print(
        f"    limit {run.limit:,.0f} segments ({run.mps:.2f}/s x {run.seconds:g} s): offered "
        f"{run.offered:,} ({run.offered / run.limit:.2f} of it), received by the fake "
        f"{run.sent_segments:,} ({run.sent_segments / run.limit:.2f} of it)"
    )
    check_once_per_due_time(run, checks)
    if run.report_share is None or abs(run.report_share - of_sent) > 1e-9:
        checks.fail(
            f"{run.label}: the report's on-time share {run.report_share} is not {of_sent:.4f}"
        )
    if ratio < 1:
        allowed = run.on_time(run.allowance) / len(decided)
        print(
            f"    the machine: p99 wake-up delay {run.stall * 1000:.0f} ms; within "
            f"{run.allowance:.2f} s (the threshold + {WAKE_UPS} x that: the poll, the send run "
            f"and the slot each wake a thread) {allowed:.1%} of the due times"
        )
        if allowed < ON_TIME_AIM:
            checks.missed_aim(
                f"{run.label}: {allowed:.1%} of due times on time, under {ON_TIME_AIM:.0%}"
            )
        else:
            print(
                f"  ok: {run.label}: {allowed:.1%} of due times on time, allowing for the "
                f"machine (at least {ON_TIME_AIM:.0%})"
            )
        return
    at_limit = run.sent_segments / run.limit
    taken = sum(cost for at, cost in run.slots if run.in_window(_utc(at)))
    print(
        f"    slots: the pacer gave {taken:,} segments' slots in the window "
        f"({taken / run.limit:.2f} of the limit), {run.sent_segments:,} reached the fake: "
        f"{taken - run.sent_segments:,} went to updates dropped (or handed back) after their "
        "slot was taken"
    )
    if at_limit < AT_LIMIT:
        checks.missed_aim(
            f"{run.label}: the sender ran at {at_limit:.2f} of its limit, under {AT_LIMIT}"
        )
    else:
        print(f"  ok: {run.label}: the sender ran at {at_limit:.2f} of its limit (>= {AT_LIMIT})")
    if run.report_share is not None and run.report_share - of_due > HONEST_GAP:
        checks.finding(
            f"{run.label}: the report says {run.report_share:.1%} on time, but {of_due:.1%} of "
            f"the due times were met: the {replaced + waiting} updates replaced or never sent "
            "are not in its base"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 s runs, a 2 s period")
    parser.add_argument("--seconds", type=float, default=None, help="of updates coming due")
    parser.add_argument("--period", type=float, default=None, help="seconds between due times")
    parser.add_argument("--load", type=float, default=10.0, help="segments offered a second")
    args = parser.parse_args(argv)
    for noisy in ("werkzeug", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    seconds = args.seconds or (8.0 if args.quick else 60.0)
    period = args.period or (2.0 if args.quick else 5.0)
    checks = Checks(aims_are_findings=args.quick)
    with tempfile.TemporaryDirectory(prefix="kp-lateness-") as folder:
        probe = Plan(seconds, period, args.load, segments=1)
        plan = Plan(seconds, period, args.load, segments_per_update(Path(folder), probe))
        print(
            f"interim lateness: {plan.cases} cases due every {period:g} s, {plan.segments} "
            f"segment(s) an update: {args.load:g} segments offered a second, for {seconds:g} s "
            f"a run; worker x{SPEEDUP:g} (poll {POLL.total_seconds():g} s, send_every "
            f"{SEND_EVERY.total_seconds():g} s, lease {LEASE.total_seconds():g} s); "
            "figures on the machine as loaded"
        )
        runs = [
            (ratio, run_once(label, Path(folder), plan, args.load / ratio))
            for label, ratio in LOADS
        ]
    print("results:")
    for ratio, run in runs:
        report(run, ratio, checks)
    return checks.exit_status()


if __name__ == "__main__":
    sys.exit(main())
