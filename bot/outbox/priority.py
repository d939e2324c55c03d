"""Which outbound message goes first when a sender cannot send everything at once.

A US long code sends one SMS segment a second: 150 interim updates due together (as when quiet
hours end) take two and a half minutes. The order below decides who waits for whom. Lower
numbers go first; within a class, the oldest due first (`not_before`, then `id`). The class is
stored on each outbox row (`outbox.priority`) so the claim reads it from an index.
"""

from __future__ import annotations

from enum import IntEnum

from bot.domain import OutboxKind


class Urgency(IntEnum):
    # A customer is looking at their phone waiting for this: the answer to STATUS, HELP, YES,
    # REOPEN, and the STOP/START confirmations. Nothing the system says on its own is worth a
    # second of that wait.
    ANSWER = 0
    # The team's alerts post to Slack, a channel (and pacing) of their own, so they never take a
    # customer's SMS slot; this rank only places them in the claim: right after the answers,
    # before anything the system says to customers on its own, so a backlog of updates never
    # keeps an alert out of a worker's batch.
    TEAM = 1
    # Asking whether the fix worked starts the confirmation clock (a case never auto-closes
    # unasked); a late question delays the close, a late update delays nothing.
    CONFIRMATION = 2
    # Something changed: the case waits, its ETA passed, it closed without the customer's YES.
    NOTICE = 3
    # "Still working on it": the next one comes on cadence, and a stale one is dropped (see
    # bot/outbox/stale.py), so these wait for everything else.
    UPDATE = 4


URGENCY: dict[OutboxKind, Urgency] = {
    OutboxKind.REPLY: Urgency.ANSWER,
    OutboxKind.ALERT: Urgency.TEAM,
    OutboxKind.CONFIRM_REQUEST: Urgency.CONFIRMATION,
    OutboxKind.REMINDER: Urgency.CONFIRMATION,
    OutboxKind.DELAY_NOTICE: Urgency.NOTICE,
    OutboxKind.CLOSING_NOTICE: Urgency.NOTICE,
    OutboxKind.INTERIM: Urgency.UPDATE,
}


def urgency_of(kind: OutboxKind | str) -> Urgency:
    """A kind's class; a kind added later without a class of its own waits with the updates."""
    return URGENCY.get(OutboxKind(kind), Urgency.UPDATE)
