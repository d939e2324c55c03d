"""The real APScheduler 3.x runs the worker's jobs against the database."""

from __future__ import annotations

import threading
from datetime import timedelta

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from flask.testing import FlaskClient

from bot.clock import FrozenClock
from bot.core import Core
from bot.worker import schedule_jobs
from tests.conftest import open_case
from tests.support.fakes import FakeChannel


def test_interval_jobs_claim_due_work_and_send_it(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    clock: FrozenClock,
    channels: dict[str, FakeChannel],
) -> None:
    open_case(client, auth, priority="P1")
    clock.advance(timedelta(minutes=31))
    ran: set[str] = set()
    errors: list[BaseException] = []
    all_ran = threading.Event()

    def listen(event: JobExecutionEvent) -> None:
        if event.exception is not None:
            errors.append(event.exception)
        ran.add(event.job_id)
        if {"advance_due_updates", "send_outbox"} <= ran and channels["sms"].sent:
            all_ran.set()

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    schedule_jobs(scheduler, core, worker="test-worker")
    assert {job.id for job in scheduler.get_jobs()} == {
        "advance_due_updates",
        "run_confirmation_timers",
        "check_etas",
        "answer_received",
        "send_outbox",
    }
    scheduler.start()
    try:
        # Every job's first run is due at start; the send job runs each second after that.
        assert all_ran.wait(timeout=20), f"jobs that ran: {ran}"
    finally:
        scheduler.shutdown(wait=True)
    assert errors == []
    assert channels["sms"].sent[0].body.startswith("Update on case #1")
    assert all(job.max_instances == 1 and job.coalesce for job in scheduler.get_jobs())
