"""`keepposted worker`: APScheduler 3.x interval jobs that claim due work from the database.

The database is the one source of truth: there is no scheduler job per case, only a few interval
jobs that each claim a batch of due rows (`FOR UPDATE SKIP LOCKED` where the database has it),
act on them, and write the outbox in the same transaction that advances the case.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN, EVENT_SCHEDULER_STARTED, SchedulerEvent
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, selectinload

from bot.core import Core
from bot.domain import SYSTEM, AlertKind, CaseStatus, OutboxKind
from bot.engine import actions
from bot.engine.alerts import queue_alert
from bot.engine.contacts import reach
from bot.engine.inbound import handle_received
from bot.engine.messages import queue_to_contact
from bot.errors import WorkerAlreadyRunning
from bot.outbox import stale
from bot.outbox.lease import Leases
from bot.outbox.sender import SendReport, send_due, send_while_due
from bot.store.db import unreachable
from bot.store.models import Case
from flows.confirmation import Timer, confirmation_timer
from flows.interim import UPDATING_STATES, following_update_at, update_goes_at

logger = logging.getLogger(__name__)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claim_cases(session: Session, core: Core, *conditions: Any) -> list[Case]:
    return list(
        session.scalars(
            select(Case)
            .where(*conditions)
            .order_by(Case.id)
            .limit(core.config.worker.batch_size)
            .with_for_update(skip_locked=True)
            .options(selectinload(Case.contact))  # one query for the batch's contacts
        )
    )


def advance_due_updates(core: Core, now: datetime | None = None) -> int:
    """Queue one interim update for every case whose `next_update_at` has come.

    SMS is never sent inside the contact's quiet hours: the update moves past the window's end,
    spread over `quiet_hours.spread` by how far into the night it was due (update_goes_at).
    """
    now = now or core.clock.now()
    queued = 0
    with core.sessions.begin() as session:
        cases = _claim_cases(
            session,
            core,
            Case.next_update_at <= now,
            Case.status.in_(UPDATING_STATES),
            Case.paused.is_(False),
        )
        stale.look_ahead(session, [case.id for case in cases])
        for case in cases:
            queued += queue_interim_update(session, core, case, now)
    return queued


def queue_interim_update(session: Session, core: Core, case: Case, now: datetime) -> bool:
    """One due case, claimed by the caller: queue its update and set the next one (or move it
    past the contact's quiet hours); True when an update was queued."""
    address = reach(case.contact)
    due_at = case.next_update_at
    if address is not None and due_at is not None:
        held_until = update_goes_at(due_at, case.contact, address.channel, core.config, now=now)
        if held_until > now:  # quiet hours: try again at this case's turn after they end
            case.next_update_at = held_until
            return False
    case.next_update_at = following_update_at(case, core.config, now, due_at=due_at)
    if address is None:
        return False
    queue_to_contact(  # after next_update_at moved: the update can say when the next one comes
        session,
        core,
        contact=case.contact,
        case=case,
        template="interim",
        kind=OutboxKind.INTERIM,
        now=now,
        due_at=due_at,
    )
    return True


def run_confirmation_timers(core: Core, now: datetime | None = None) -> int:
    """One reminder after `reminder_after`, then the auto-close after `auto_close_after`."""
    now = now or core.clock.now()
    acted = 0
    with core.sessions.begin() as session:
        for case in _claim_cases(
            session, core, Case.status == CaseStatus.RESOLVED, Case.confirm_due_at <= now
        ):
            timer = confirmation_timer(case, now)
            if timer is Timer.REMIND:
                # The auto-close clock restarts when the reminder really goes out (bot/outbox).
                case.confirm_due_at = None
                queue_to_contact(
                    session,
                    core,
                    contact=case.contact,
                    case=case,
                    template="confirm_reminder",
                    kind=OutboxKind.REMINDER,
                    now=now,
                )
            elif timer is Timer.AUTO_CLOSE:
                actions.auto_close(session, core, case, now=now, actor=SYSTEM)
            acted += timer is not None
    return acted


def check_etas(core: Core, now: datetime | None = None) -> int:
    """A passed ETA sends the customer an `eta_missed` update and alerts the assignee."""
    now = now or core.clock.now()
    with core.sessions.begin() as session:
        cases = _claim_cases(
            session,
            core,
            Case.eta <= now,
            Case.eta_missed_at.is_(None),
            Case.status.in_(UPDATING_STATES),
        )
        for case in cases:
            case.eta_missed_at = now
            queue_to_contact(
                session,
                core,
                contact=case.contact,
                case=case,
                template="eta_missed",
                kind=OutboxKind.DELAY_NOTICE,
                now=now,
                extra={"reason": "eta_missed"},
            )
            queue_alert(session, core, case=case, kind=AlertKind.ETA_MISSED, now=now)
    return len(cases)


@dataclass
class TickReport:
    answered: int
    updates: int
    timers: int
    etas: int
    sent: SendReport


def tick(core: Core, worker: str = "worker") -> TickReport:
    """Run every job once, in order: what the scheduler does over one poll."""
    return TickReport(
        answered=handle_received(core),
        updates=advance_due_updates(core),
        timers=run_confirmation_timers(core),
        etas=check_etas(core),
        sent=send_due(core, worker),
    )


def _guarded(job: Callable[[], object], name: str) -> Callable[[], None]:
    def run() -> None:
        try:
            job()
        except Exception as exc:  # a failed run must not stop the scheduler; the next retries
            if unreachable(exc):
                # A database restart or failover: one line per run, not a traceback a second.
                logger.warning("worker job %s: database unreachable; retrying next run", name)
            else:
                logger.exception("worker job %s failed; it runs again at its next interval", name)

    run.__name__ = name
    return run


class _ExpectedOverlap(logging.Filter):
    """A run that outlasts its interval (a paced send run, a big batch after downtime) makes
    APScheduler skip the next one and warn, every interval. Skipping is the design (one run of
    each job at a time, missed runs coalesce), so the warning is dropped; a job that fails is
    still logged by `_guarded`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in record.getMessage()


_EXPECTED_OVERLAP = _ExpectedOverlap()


def schedule_jobs(scheduler: BaseScheduler, core: Core, worker: str | None = None) -> None:
    """Add the interval jobs. One instance each at a time; missed runs coalesce into one.

    Each job first runs at start-up. The scheduler keeps real time; the jobs read core.clock.
    The lease heartbeat (bot/outbox/lease.py) runs from the scheduler's start to its shutdown.
    """
    me = worker or worker_id()
    leases = Leases(core, me)

    def heartbeat(event: SchedulerEvent) -> None:
        if event.code == EVENT_SCHEDULER_STARTED:
            leases.start()
        else:
            leases.stop()

    scheduler.add_listener(heartbeat, EVENT_SCHEDULER_STARTED | EVENT_SCHEDULER_SHUTDOWN)
    scheduler_log = logging.getLogger("apscheduler.scheduler")
    if _EXPECTED_OVERLAP not in scheduler_log.filters:
        scheduler_log.addFilter(_EXPECTED_OVERLAP)
    poll = core.config.worker.poll_every.total_seconds()
    send_every = core.config.worker.send_every.total_seconds()
    jobs: list[tuple[str, Callable[[], object], float]] = [
        ("advance_due_updates", lambda: advance_due_updates(core), poll),
        ("run_confirmation_timers", lambda: run_confirmation_timers(core), poll),
        ("check_etas", lambda: check_etas(core), poll),
        ("answer_received", lambda: handle_received(core), send_every),
        ("send_outbox", lambda: send_while_due(core, me, leases), send_every),
    ]
    for name, job, seconds in jobs:
        scheduler.add_job(
            _guarded(job, name),
            "interval",
            seconds=seconds,
            id=name,
            name=name,  # what APScheduler's own log lines call the job
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )


class WorkerLock:
    """On SQLite only one worker may run: an OS file lock beside the database file says who.

    The OS drops the lock when the process dies, so a crashed worker never blocks a new one.
    """

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self.path: Path | None = None
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            self.path = Path(str(url.database)).resolve().with_suffix(".db.worker.lock")
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        if self.path is None:
            return
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise WorkerAlreadyRunning(
                f"another keepposted worker ({holder}) is already running on this SQLite "
                f"database ({self.path.with_suffix('')}). SQLite supports one worker; stop "
                "the other one, or move to PostgreSQL to run several."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def run_worker(core: Core) -> None:
    """Run the worker in the foreground until interrupted."""
    lock = WorkerLock(core.settings.database_url)
    lock.acquire()
    scheduler = BlockingScheduler(timezone="UTC")
    schedule_jobs(scheduler, core)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        lock.release()
