"""Alerts: telling the team that a case needs a person. They go to the alerts channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.core import Core
from bot.domain import AlertKind, OutboxKind
from bot.models import Case, Outbox


def queue_alert(
    session: Session, core: Core, *, case: Case, kind: AlertKind, now: datetime, **extra: Any
) -> None:
    """Tell the team something needs a person; goes to the alerts channel, else the assignee."""
    to = core.config.channels.slack.alerts_channel or case.assignee or "alerts"
    context = {
        "case": {
            "label": case.label,
            "subject": case.subject,
            "status": str(case.status),
            "priority": case.priority,
        },
        "assignee": case.assignee or "",
        **extra,
    }
    body = core.templates.render("alerts", str(kind), context)
    session.add(
        Outbox(
            case_id=case.id,
            kind=OutboxKind.ALERT,
            channel="slack",
            address=to,
            body=body,
            not_before=now,
            created_at=now,
        )
    )
