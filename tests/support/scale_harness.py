"""The scale-out rig: real `keepposted worker` and gunicorn processes on one throwaway PostgreSQL,
sending through the fake Twilio, with faults on demand (SIGKILL a worker, restart the database,
make Twilio fail a share of calls).

Nothing of ours is stubbed: each worker is `python -m bot worker` with its own APScheduler, each
web process is gunicorn serving `bot.app:create_app()`, and the only fake is Twilio's server.
Cases are seeded with plain Core inserts, so 20,000 of them take a second, not a minute.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import yaml
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import OperationalError

from bot.domain import CaseStatus, OutboxKind, OutboxStatus
from bot.store.db import make_engine
from bot.store.migrate import upgrade
from bot.store.models import Case, Contact, Outbox
from tests.support.fake_twilio import FakeTwilio
from tests.support.pg_server import PostgresServer, free_port
from tests.support.processes import Process

ROOT = Path(__file__).resolve().parents[2]
SMS_FROM = "+15005550006"
SEED_BATCH = 5_000
POLL = 0.2  # seconds between two looks at what the other processes did


def phone(i: int) -> str:
    return f"+1415{i:07d}"


def scale_config(public_url: str, **worker: str | int) -> dict[str, Any]:
    """A config for the rig: quiet hours off (nothing deferred), one update a day per case (so
    each seeded case is due exactly once during a run) and quick worker timings."""
    timings: dict[str, str | int] = {
        "poll_every": "1s",
        "send_every": "250ms",
        "batch_size": 100,
        # The fake answers in a millisecond, so two lanes keep a worker busy; more would only
        # thrash a 2-core CI machine (production defaults to 8 for Twilio's ~200 ms).
        "send_threads": 2,
        # Renewed every 2 s while a worker lives: a killed worker's rows are back in the queue
        # 10 s after its last renewal at most. A run lasts half the lease (5 s): the fake
        # answers at 10,000 a second, so a batch is bounded by CPU, not by pacing, and a
        # shorter run gives back more of every claim (6 s leases measured slower here).
        "lease": "10s",
        "renew_every": "2s",
        "max_attempts": 12,
        "retry_backoff": "100ms",
    }
    return {
        "public_url": public_url,
        "timezone": "UTC",
        "quiet_hours": {"enabled": False},
        "cadences": {"default": {"first_after": "1d", "every": "1d"}},
        "channels": {"sms": {"from": SMS_FROM, "mps": 10_000}},
        "worker": timings | worker,
    }


def seed_due_cases(
    engine: Engine, count: int, due_at: Callable[[int], datetime], *, first: int = 0
) -> list[int]:
    """`count` open cases, each with its own SMS contact, due at `due_at(i)`; returns their ids."""
    now = datetime.now(UTC)
    ids: list[int] = []
    with engine.begin() as connection:
        for start in range(first, first + count, SEED_BATCH):
            numbers = range(start, min(start + SEED_BATCH, first + count))
            contacts = connection.execute(
                insert(Contact).returning(Contact.id, sort_by_parameter_order=True),
                [
                    {
                        "name": f"Customer {i}",
                        "phone": phone(i),
                        "channel": "sms",
                        "created_at": now,
                    }
                    for i in numbers
                ],
            ).scalars()
            cases = connection.execute(
                insert(Case).returning(Case.id, sort_by_parameter_order=True),
                [
                    {
                        "subject": f"Case {i}",
                        "contact_id": contact_id,
                        "status": CaseStatus.OPEN,
                        "next_update_at": due_at(i),
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i, contact_id in zip(numbers, contacts, strict=True)
                ],
            ).scalars()
            ids.extend(cases)
    return ids


@dataclass
class Rig:
    """A database, the fake Twilio, worker and web processes, and what happened to them."""

    pg: PostgresServer
    url: str
    twilio: FakeTwilio
    workdir: Path
    config: dict[str, Any]
    workers: list[Process] = field(default_factory=list)
    webs: list[tuple[Process, str]] = field(default_factory=list)
    kills: int = 0
    engine: Engine = field(init=False)

    def __post_init__(self) -> None:
        self.config_path = self.workdir / "config.yaml"
        self.write_config()
        self.engine = make_engine(self.url, pool_size=2, max_overflow=2)

    def write_config(self) -> None:
        """Write `config` where the processes read it (before they start)."""
        self.config_path.write_text(yaml.safe_dump(self.config))

    @property
    def env(self) -> dict[str, str]:
        return os.environ | {
            "DATABASE_URL": self.url,
            "KEEPPOSTED_CONFIG": str(self.config_path),
            "TWILIO_ACCOUNT_SID": self.twilio.account_sid,
            "TWILIO_AUTH_TOKEN": self.twilio.auth_token,
            "TWILIO_API_BASE_URL": self.twilio.url,
            "DATABASE_POOL_SIZE": "3",
            "DATABASE_MAX_OVERFLOW": "3",
        }

    def start_workers(self, count: int) -> None:
        for _ in range(count):
            self._start_worker()

    def _start_worker(self) -> Process:
        number = len(self.workers) + 1
        worker = Process(
            f"worker-{number}",
            [sys.executable, "-m", "bot", "worker"],
            self.env,
            self.workdir / f"worker-{number}.log",
        )
        worker.start()
        self.workers.append(worker)
        return worker

    def kill_and_replace(self, rng: random.Random) -> bool:
        """SIGKILL a random live worker at work and start a new one in its place; False (and
        nothing killed) while any live worker has yet to claim its first row.

        Waiting for the last replacement to join the work means every kill lands on a worker
        mid-batch, and a loaded machine, where a worker takes seconds to start, is never left
        with only workers still starting."""
        alive = [worker for worker in self.workers if worker.alive]
        try:
            working = self.working()
        except OperationalError:  # the database is being restarted: not now
            return False
        if not alive or any(worker.pid not in working for worker in alive):
            return False
        rng.choice(alive).kill()
        self.kills += 1
        self._start_worker()
        return True

    def start_web(self) -> str:
        """One gunicorn on its own port, like a web process on another machine; its URL."""
        port = free_port()
        number = len(self.webs) + 1
        web = Process(
            f"web-{number}",
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                "4",
                "bot.app:create_app()",
            ],
            self.env,
            self.workdir / f"web-{number}.log",
        )
        web.start()
        url = f"http://127.0.0.1:{port}"
        self.webs.append((web, url))
        wait_until(lambda: answers(f"{url}/healthz"), 30, f"{web.name} to answer", self.logs)
        return url

    def status(self) -> dict[str, Any]:
        """`keepposted status --json`, run as an operator would."""
        done = subprocess.run(
            [sys.executable, "-m", "bot", "status", "--json"],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        figures: dict[str, Any] = json.loads(done.stdout)
        return figures

    def logs(self) -> str:
        processes = [*self.workers, *(web for web, _ in self.webs)]
        return "\n".join(process.log_tail() for process in processes)

    def stop(self) -> None:
        for process in [*self.workers, *(web for web, _ in self.webs)]:
            process.stop()
        self.engine.dispose()

    # -- what the database says -------------------------------------------------------------

    def interim_counts(self) -> dict[str, int]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(Outbox.status, func.count())
                .where(Outbox.kind == OutboxKind.INTERIM)
                .group_by(Outbox.status)
            ).all()
        return {str(status): count for status, count in rows}

    def working(self) -> set[int]:
        """The process ids of the workers that have claimed outbox rows (each leases a row in
        its own name, `host:pid`; the name stays on the row once it is sent)."""
        with self.engine.connect() as connection:
            owners = connection.execute(
                select(Outbox.lease_owner).where(Outbox.lease_owner.is_not(None)).distinct()
            ).scalars()
            return {int(owner.rpartition(":")[2]) for owner in owners if owner}

    def done(self) -> int:
        """Interim rows sent or failed for good."""
        counts = self.interim_counts()
        return counts.get(OutboxStatus.SENT, 0) + counts.get(OutboxStatus.FAILED, 0)

    def settled(self, expected: int) -> bool:
        """Every expected interim row is sent or failed, none waiting or in flight."""
        try:
            counts = self.interim_counts()
        except OperationalError:  # the database is being restarted: not yet
            return False
        done = counts.get(OutboxStatus.SENT, 0) + counts.get(OutboxStatus.FAILED, 0)
        return done >= expected and sum(counts.values()) == done


def answers(url: str) -> bool:
    """The URL answers 200 (for /healthz: the web process is up and reaches the database)."""
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, context: Callable[[], str]
) -> None:
    """Return as soon as `condition()` holds, checking five times a second; fail with
    `context()` after `timeout` seconds. The other processes' state can only be polled: this
    waits for what they did, never for a guessed duration."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{context()}")
        time.sleep(POLL)


@contextmanager
def scale_rig(
    pg: PostgresServer, database: str, workdir: Path, **worker: str | int
) -> Iterator[Rig]:
    """A migrated database of its own on `pg`, the fake Twilio, and a rig ready to start."""
    url = pg.create_database(database)
    upgrade(url)
    with ExitStack() as stack:
        twilio = stack.enter_context(FakeTwilio())
        rig = Rig(pg, url, twilio, workdir, scale_config("https://support.example.com", **worker))
        stack.callback(rig.stop)
        yield rig


class Faults:
    """A background thread that acts every few seconds, or sooner when `due()` says so (the
    run reached a milestone), until stopped. `act()` returns False when it could not act yet
    (a replaced worker is still starting): it is tried again at the next check, and the next
    interval starts only once it acted."""

    def __init__(
        self,
        every: tuple[float, float],
        act: Callable[[], bool],
        seed: int,
        due: Callable[[], bool] = lambda: False,
    ) -> None:
        self.every, self.act, self.due = every, act, due
        self.rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="faults", daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> Faults:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        next_at = time.monotonic() + self.rng.uniform(*self.every)
        while not self._stop.wait(POLL):
            try:
                if (time.monotonic() >= next_at or self.due()) and self.act():
                    next_at = time.monotonic() + self.rng.uniform(*self.every)
            except BaseException as exc:  # surfaced in the test by __exit__
                self.error = exc
                return


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def lateness(engine: Engine) -> list[float]:
    """Seconds between each interim update's due time and its hand-over to Twilio."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(Outbox.due_at, Outbox.sent_at).where(
                Outbox.kind == OutboxKind.INTERIM, Outbox.status == OutboxStatus.SENT
            )
        ).all()
    return [(sent - due).total_seconds() for due, sent in rows if due and sent]


def due_now(_: int) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=1)
