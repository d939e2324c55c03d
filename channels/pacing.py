"""Pacing: hold each sender to its messages per second, so the provider does not answer 429
(Twilio queues what a number cannot send at once and fails it when its validity period ends).

A reservation per sender: each send takes the sender's next free slot and waits for it, so
sends from one sender line up instead of bursting. `Pacer` keeps the slots in memory (one
process); `SharedPacer` keeps them in the database, so any number of worker processes on any
number of machines together hold a sender to its rate.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import Engine, case, insert, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from bot.store.models import SendSlot

logger = logging.getLogger(__name__)

# Seconds of a fast sender's slots a process reserves at once (SharedPacer).
RESERVE_AHEAD = 0.05


class Pacing(Protocol):
    def wait(self, sender: str, cost: int = 1) -> float:
        """Block until `sender` may send `cost` units (e.g. SMS segments); returns the wait."""
        ...


class Pacer:
    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.interval = 1.0 / per_second
        self._clock, self._sleep = clock, sleep
        self._next_free: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, sender: str, cost: int = 1) -> float:
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_free.get(sender, now))
            self._next_free[sender] = slot + cost * self.interval
        delay = slot - now
        if delay > 0:
            self._sleep(delay)
        return delay


class SharedPacer:
    """Slots in the `send_slots` table: one short UPDATE moves the sender's next free moment
    on, under the row's lock, so two workers never take the same slot.

    A fast sender (a short code's hundreds a second) would make that UPDATE, and its commit,
    once a text: there each process reserves RESERVE_AHEAD seconds' worth of the sender's slots
    at once and uses them one by one, as it sends. A slow one (a long code's one a second)
    reserves one slot at a time, as a slot is longer than that. A process that sends slower than
    its slots come uses them late, which never sends more than one text per slot, but may bunch
    up to RESERVE_AHEAD's worth of them; the other processes queue behind its reservation for
    that long at most.

    Times are Unix seconds from each machine's clock: keep the machines on NTP (a few
    milliseconds of skew is a few milliseconds of pacing error). If the database cannot be
    reached the send is paced in this process alone rather than held up: a message already
    claimed should go out, and the database being away is already being retried elsewhere.
    """

    def __init__(
        self,
        engine: Engine,
        per_second: float,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.interval = 1.0 / per_second
        self._engine, self._clock, self._sleep = engine, clock, sleep
        self._fallback = Pacer(per_second, clock=clock, sleep=sleep)
        # Per sender, what is left of this process's reservation: (its next slot, its end).
        self._reserved: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait(self, sender: str, cost: int = 1) -> float:
        try:
            slot = self._take(sender, cost * self.interval)
        except DBAPIError as exc:
            logger.warning("pacing %s in this process only: database unreachable (%s)", sender, exc)
            return self._fallback.wait(sender, cost)
        delay = slot - self._clock()
        if delay > 0:
            self._sleep(delay)
        return max(delay, 0.0)

    def _take(self, sender: str, length: float) -> float:
        """The start of the next `length` seconds of this process's reservation, reserving more
        when what is left is too short (its rest goes unused)."""
        with self._lock:  # a pool's lanes share the pacer; each sender's reservation is its own
            start, end = self._reserved.get(sender, (0.0, 0.0))
            if start + length > end:
                block = max(length, RESERVE_AHEAD)
                start = self._reserve(sender, block)
                end = start + block
            self._reserved[sender] = (start + length, end)
            return start

    def _reserve(self, sender: str, length: float) -> float:
        """Take `length` seconds of the sender's time, from its next free moment (now, if that
        has passed); returns their start."""
        now = self._clock()
        column = SendSlot.next_free
        with self._engine.begin() as connection:
            end = connection.execute(
                update(SendSlot)
                .where(SendSlot.sender == sender)
                .values(next_free=case((column > now, column), else_=now) + length)
                .returning(column)
            ).scalar_one_or_none()
        if end is not None:
            return float(end) - length
        try:  # the sender's first send ever: its row does not exist yet
            with self._engine.begin() as connection:
                connection.execute(insert(SendSlot).values(sender=sender, next_free=now + length))
        except IntegrityError:  # another worker made it first; take a slot in it
            return self._reserve(sender, length)
        return now
