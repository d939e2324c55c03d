"""Short leases on claimed outbox rows, renewed while the worker that holds them is alive.

A worker that claims rows (bot/outbox/sender.py) owns them until `worker.lease` runs out. The
lease is short (15 s by default) so that rows claimed by a worker that dies, SIGKILL or a lost
machine, are back in the queue within seconds; a live worker keeps its rows by renewing their
leases every `worker.renew_every` from a thread of its own, while a send may still be waiting
for a slow provider. A thread rather than a scheduler job: a renewal must not wait behind the
scheduler's own timing (APScheduler drops a run that starts late) or its busy executor.

Only rows this process is working on are renewed (`Leases.hold`), never every row in its name:
a row whose bookkeeping it gave up on must lapse, so that another worker settles it.

Every lease time is the worker's clock (`core.clock`), as the claim and the recovery of expired
leases use it: keep the machines on NTP, as for pacing (channels/pacing.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import update

from bot.config import WorkerSettings
from bot.domain import OutboxStatus
from bot.store.db import unreachable
from bot.store.models import Outbox

if TYPE_CHECKING:
    from bot.core import Core  # annotations only: the engine must not load the registry

logger = logging.getLogger(__name__)


def hand_over_margin(worker: WorkerSettings) -> timedelta:
    """The lease a row must have left to be handed to the provider: one renewal's worth, so
    the send and its bookkeeping stay covered even if the next renewal fails."""
    return min(worker.renew_every, worker.lease / 2)


class Leases:
    """The claimed rows this worker is sending, and the renewal of their leases.

    `hold` and `drop` are called by send runs (several threads); `renew` by the heartbeat
    thread, started and stopped with the worker's scheduler (bot/worker.py), or by a test with its
    own clock. Without a heartbeat, leases are simply not renewed: a run then ends well inside
    its claim's lease (the sender's run bound is at most half of it).
    """

    def __init__(self, core: Core, worker_id: str) -> None:
        self.core, self.worker_id = core, worker_id
        self._held: dict[int, datetime | None] = {}  # row id: the end its last renewal set
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, row_ids: Iterable[int]) -> None:
        with self._lock:
            self._held.update(dict.fromkeys(row_ids))

    def drop(self, row_ids: Iterable[int]) -> None:
        with self._lock:
            for row_id in row_ids:
                self._held.pop(row_id, None)

    @property
    def held(self) -> frozenset[int]:
        with self._lock:
            return frozenset(self._held)

    def renew(self, now: datetime | None = None) -> int:
        """Move the lease of every held row still ours, and not yet run out, to a full lease
        from now; returns how many. A lease that ran out stays out: its row is the next
        run's to recover, whoever runs it."""
        held = self.held
        if not held:
            return 0
        now = now or self.core.clock.now()
        until = now + self.core.config.worker.lease
        with self.core.sessions.begin() as session:
            renewed = session.scalars(
                update(Outbox)
                .where(
                    Outbox.id.in_(held),
                    Outbox.status == OutboxStatus.SENDING,
                    Outbox.lease_owner == self.worker_id,
                    Outbox.lease_until > now,
                )
                .values(lease_until=until)
                .returning(Outbox.id)
                .execution_options(synchronize_session=False)
            ).all()
        with self._lock:
            for row_id in renewed:
                if row_id in self._held:
                    self._held[row_id] = until
        return len(renewed)

    def deadline(self, row_id: int, known: datetime) -> float:
        """`time.monotonic()` when a held row's lease ends, given the end read with it
        (`known`): later if a renewal has moved it since. The bookkeeping that must follow a
        send is retried until then, while the database is away."""
        with self._lock:
            renewed = self._held.get(row_id)
        end = max(known, renewed) if renewed is not None else known
        return time.monotonic() + (end - self.core.clock.now()).total_seconds()

    # -- the heartbeat --------------------------------------------------------------------------

    def start(self) -> None:
        """Renew every `worker.renew_every` in a daemon thread, until `stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._beat, name=f"lease-heartbeat {self.worker_id}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _beat(self) -> None:
        every = self.core.config.worker.renew_every.total_seconds()
        while not self._stop.wait(every):
            try:
                self.renew()
            except Exception as exc:  # the next beat tries again; hand-overs check the lease
                if unreachable(exc):
                    logger.warning("renewing outbox leases: database unreachable; next beat")
                else:
                    logger.exception("renewing outbox leases failed; trying again next beat")
