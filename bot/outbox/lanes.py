"""One channel's part of a send run: the most urgent claimed row first, one customer's messages
one at a time, `send_threads` provider calls in flight.

A paced channel (an SMS sender's one segment a second) is where priorities matter: each slot is
spent on the most urgent message that is due when the slot comes. So one dispatcher per channel
picks a row, waits for its slot, then hands it to a send thread and picks again; it never holds
more than the one slot it waits for, and once a slot has come it asks the database, in one
read (`look`), whether the row is still wanted and whether anything more urgent was queued since
the claim, which it then claims (`pull_urgent`) before the next pick; so a reply queued after a
batch of 200 updates was claimed takes the next slot, not the 201st. Each channel has its own
dispatcher and threads: Slack alerts never wait on an SMS sender's pace, nor customers' SMS on
Slack's. An SMS pool has one lane per number, so ten numbers send ten segments a second at
1 mps each.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from bot.outbox.priority import Urgency
from channels.base import OutboundMessage


@dataclass(frozen=True, order=True)
class Claimed:
    """A claimed row ready to go, in sending order: class, then oldest due, then queued first."""

    priority: int
    not_before: datetime
    row_id: int
    outbound: OutboundMessage = field(compare=False)


@dataclass(frozen=True)
class Look:
    """What a paced lane reads once a row's slot has come (`ChannelLane.look`)."""

    wanted: bool  # False: dropped while this run held it (an update its case's next replaced)
    urgent_waiting: bool  # something more urgent than the lane's next row is queued


@dataclass
class ChannelLane:
    """Sends one channel's claimed rows (see top). `deliver` hands one over and returns its
    outcome; `release` gives back rows untried once the deadline has passed."""

    rows: list[Claimed]
    threads: int
    paced: bool
    wait_turn: Callable[[OutboundMessage], None]
    deliver: Callable[[Claimed], None]
    release: Callable[[list[int]], None]
    pull_urgent: Callable[[int], list[Claimed]]
    deadline: float
    # Asked once a paced row's slot has come, with the class of the next row in the lane: a
    # dropped row's slot goes to the next row, and only a look that saw something more urgent
    # queued makes the lane claim it.
    look: Callable[[Claimed, int], Look] = lambda _row, _below: Look(True, True)
    # Seconds between two looks at least: 0, a look after every slot, unless a slot is worth
    # less than a look costs (a short code's hundreds a second): see sender.look_every.
    look_every: float = 0.0
    _looked_at: float = -math.inf
    _busy: set[str] = field(default_factory=set)  # recipients with a message in flight
    _in_flight: int = 0
    _done: threading.Condition = field(default_factory=threading.Condition)

    def run(self) -> None:
        heap = list(self.rows)
        heapq.heapify(heap)
        threads = max(1, min(self.threads, len(heap)))
        futures: list[Future[None]] = []
        pool = ThreadPoolExecutor(threads, thread_name_prefix="send") if threads > 1 else None
        slot_in_hand = False  # a slot taken for a row dropped while it waited
        urgent_waiting = True  # until a look says otherwise
        try:
            while heap:
                if self.paced and urgent_waiting and heap[0].priority > Urgency.ANSWER:
                    for row in self.pull_urgent(heap[0].priority):
                        heapq.heappush(heap, row)
                row = self._next(heap, threads)
                if time.monotonic() > self.deadline:  # before its slot: a slot taken is spent
                    self._finished(row)
                    self.release([row.row_id, *(left.row_id for left in heap)])
                    break
                if self.paced:
                    # A row is marked handed only as it really goes, after its slot; the lease
                    # it must still have then is checked by the hand-over.
                    if not slot_in_hand:
                        self.wait_turn(row.outbound)
                    # The oldest update is the likeliest to be replaced by its case's next one,
                    # and that may happen while it waits: its slot then goes to the next row.
                    if time.monotonic() - self._looked_at >= self.look_every:
                        self._looked_at = time.monotonic()
                        seen = self.look(row, heap[0].priority if heap else Urgency.ANSWER)
                        urgent_waiting, slot_in_hand = seen.urgent_waiting, not seen.wanted
                    if slot_in_hand:
                        self._finished(row)
                        continue
                if pool is None:
                    self._send(row)
                else:
                    futures.append(pool.submit(self._send, row))
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        for future in futures:
            future.result()  # a send that raised fails the run, as a lane's did

    def _next(self, heap: list[Claimed], threads: int) -> Claimed:
        """The most urgent row whose recipient has nothing in flight (so one customer's
        messages go in order), once a send thread is free."""
        with self._done:
            while True:
                if self._in_flight < threads:
                    skipped: list[Claimed] = []
                    found = None
                    while heap:
                        candidate = heapq.heappop(heap)
                        if candidate.outbound.to not in self._busy:
                            found = candidate
                            break
                        skipped.append(candidate)
                    for candidate in skipped:
                        heapq.heappush(heap, candidate)
                    if found is not None:
                        self._busy.add(found.outbound.to)
                        self._in_flight += 1
                        return found
                self._done.wait()

    def _send(self, row: Claimed) -> None:
        try:
            self.deliver(row)
        finally:
            self._finished(row)

    def _finished(self, row: Claimed) -> None:
        with self._done:
            self._busy.discard(row.outbound.to)
            self._in_flight -= 1
            self._done.notify_all()
