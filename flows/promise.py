"""What we are promising a customer about their case right now: the one source the templates,
STATUS, the chat page and the API read, so none of them states what is no longer true.

- An ETA is a promise only while the case is being worked on (open or waiting) and the time is
  still ahead. Once it has passed, the promise is that we are late (`eta_missed`) until an agent
  sets a new one; a resolved or closed case promises no fix time at all.
- A resolution is "what we did" only while the customer is asked about it (resolved) or after
  the case closed on it. A reopen clears it from the case (bot/engine/actions.reopen); the log
  keeps it in the `resolution_proposed` entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.domain import CaseStatus
from flows.interim import UPDATING_STATES

if TYPE_CHECKING:
    from bot.store.models import Case


@dataclass(frozen=True)
class Promise:
    eta: datetime | None  # a fix time still ahead, while the case is worked on
    eta_missed: bool  # the time we gave has passed and no new one is set yet
    resolution: str | None  # what we did, while asked about it or once closed on it


def promise_of(case: Case, at: datetime) -> Promise:
    """The case's promise as a message read at `at` states it (`at` is when it is sent, which
    may be after quiet hours: a text held until 08:00 must not promise 07:00)."""
    resolution = (
        case.resolution if case.status in (CaseStatus.RESOLVED, CaseStatus.CLOSED) else None
    )
    if case.status not in UPDATING_STATES or case.eta is None:
        return Promise(eta=None, eta_missed=False, resolution=resolution)
    if case.eta <= at:
        return Promise(eta=None, eta_missed=True, resolution=resolution)
    return Promise(eta=case.eta, eta_missed=False, resolution=resolution)
