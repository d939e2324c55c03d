"""How far behind the workers are, from the database alone: what to monitor when running at
scale (README, Running at scale). `keepposted status` prints it; every figure is one cheap query.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.domain import OutboxKind, OutboxStatus
from bot.store.models import Case, Outbox
from flows.interim import UPDATING_STATES

RECENT_SENDS = 2_000  # lateness is read over the newest interim updates sent


@dataclass(frozen=True)
class Backlog:
    updates_due: int  # cases whose interim update is due and not yet queued
    oldest_due_seconds: float  # how long the most overdue of them has waited
    outbox_waiting: int  # messages ready to send and not yet taken
    oldest_waiting_seconds: float
    in_flight: int  # taken by a worker and being sent
    expired_leases: int  # taken by a worker that stopped: recovered on the next send run
    failed_last_hour: int
    late_p50_seconds: float | None  # sent_at - due_at over the newest interim updates
    late_p99_seconds: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _age(now: datetime, oldest: datetime | None) -> float:
    return round((now - oldest).total_seconds(), 1) if oldest else 0.0


def measure(session: Session, now: datetime) -> Backlog:
    due = session.execute(
        select(func.count(), func.min(Case.next_update_at)).where(
            Case.next_update_at <= now,
            Case.status.in_(UPDATING_STATES),
            Case.paused.is_(False),
        )
    ).one()
    waiting = session.execute(
        select(func.count(), func.min(Outbox.not_before)).where(
            Outbox.status == OutboxStatus.PENDING, Outbox.not_before <= now
        )
    ).one()
    sending = session.execute(
        select(Outbox.lease_until).where(Outbox.status == OutboxStatus.SENDING)
    ).scalars()
    leases = list(sending)
    failed = session.scalar(
        select(func.count()).where(
            Outbox.status == OutboxStatus.FAILED, Outbox.created_at >= now - timedelta(hours=1)
        )
    )
    late = sorted(
        (sent - due_at).total_seconds()
        for due_at, sent in session.execute(
            select(Outbox.due_at, Outbox.sent_at)
            .where(Outbox.kind == OutboxKind.INTERIM, Outbox.status == OutboxStatus.SENT)
            .order_by(Outbox.id.desc())
            .limit(RECENT_SENDS)
        )
        if due_at is not None and sent is not None
    )
    return Backlog(
        updates_due=due[0],
        oldest_due_seconds=_age(now, due[1]),
        outbox_waiting=waiting[0],
        oldest_waiting_seconds=_age(now, waiting[1]),
        in_flight=sum(1 for until in leases if until is None or until >= now),
        expired_leases=sum(1 for until in leases if until is not None and until < now),
        failed_last_hour=failed or 0,
        late_p50_seconds=_share(late, 0.5),
        late_p99_seconds=_share(late, 0.99),
    )


def _share(ordered: list[float], share: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 3)
