"""Alerts: telling the team that a case needs a person. They go to the Slack alerts channel
(else to the assignee) as Block Kit with buttons that act on the case (bot/web/slack.py).
Their words are templates/alerts/<kind>.txt.j2 (and upset.txt.j2); the layout is
slack/alert.json.j2."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from bot.domain import AlertKind, OutboxKind
from bot.render import mrkdwn
from bot.store.models import Case, Outbox
from channels.catalog import ChannelName

if TYPE_CHECKING:
    from bot.core import Core  # annotations only: the engine must not load the registry


def queue_alert(
    session: Session,
    core: Core,
    *,
    case: Case,
    kind: AlertKind,
    now: datetime,
    upset: float | None = None,
    **extra: Any,
) -> None:
    """Tell the team something needs a person. Everything quoted (a customer's words, a subject
    typed by a CRM) is escaped, so nobody can ping the channel or forge a link through it.

    `upset`: the sentiment score of a strongly negative message behind the alert; the alert
    then says so and mentions the supervisors."""
    case_view = {
        "id": case.id,
        "label": case.label,
        "subject": mrkdwn(case.subject),
        "status": str(case.status),
        "priority": case.priority,
    }
    context = {
        "case": case_view,
        "assignee": case.assignee or "",
        "kind": str(kind),
        **{
            name: mrkdwn(value) if isinstance(value, str) else value
            for name, value in extra.items()
        },
    }
    body = core.templates.render("alerts", str(kind), context)
    if upset is not None:
        supervisors = list(core.config.channels.slack.supervisors)
        said = {"upset": upset, "supervisors": supervisors}
        body += "\n" + core.templates.render("alerts", "upset", said)
    session.add(
        Outbox(
            case_id=case.id,
            kind=OutboxKind.ALERT,
            channel=ChannelName.SLACK,
            address=core.config.channels.slack.alerts_channel or case.assignee or "alerts",
            body=body,
            blocks=core.templates.render_blocks(
                ChannelName.SLACK, "alert", context | {"text": body}
            ),
            not_before=now,
            created_at=now,
        )
    )
