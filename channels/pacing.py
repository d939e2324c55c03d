"""Pacing: hold each sender to its messages per second, so the provider does not answer 429
(Twilio queues what a number cannot send at once and fails it when its validity period ends).

A reservation per sender: each send takes the sender's next free slot and waits for it, so
threads sending from one sender line up instead of bursting. This paces one process; workers on
several machines share one database and pace through it (see the scale-out notes in README).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


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
        """Block until `sender` may send `cost` units (e.g. SMS segments); returns the wait."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_free.get(sender, now))
            self._next_free[sender] = slot + cost * self.interval
        delay = slot - now
        if delay > 0:
            self._sleep(delay)
        return delay
