"""Alerts: telling the team that a case needs a person. They go to the Slack alerts channel
(else to the assignee) as Block Kit with buttons that act on the case (bot/web/slack.py).
Their words are templates/alerts/<kind>.txt.j2 (with upset.txt.j2 and burst.txt.j2); the
layout is slack/alert.json.j2.

A burst of customer messages is one alert: a message about a case whose alert was raised or
last updated within alerts.coalesce_window edits that alert (the latest words, how many
messages since when, every kind among them, the strongest call-out) instead of posting
another. The case's current alert is its AlertBurst row, read and written in the transaction
that queues the alert; the edit is an outbox row like any post (bot/outbox/sender.py sends it
with chat.update), or, while the post itself is still waiting in the outbox, that row is
rewritten.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.domain import AlertKind, OutboxKind, OutboxStatus
from bot.render import mrkdwn
from bot.store.models import AlertBurst, Case, Outbox
from channels.catalog import ChannelName

if TYPE_CHECKING:
    from bot.core import Core  # annotations only: the engine must not load the registry

# Alerts about something a customer wrote: a burst of these is one alert. A low CSAT score is
# one too (the score is a message), and the complaint that often follows it belongs with it.
# A missed ETA and a failed delivery are the system's findings, not the customer's words: each
# asks for its own action (a new ETA, another way to reach the customer), they come one at a
# time, and folded into a customer's burst they would be lost under its words; they post fresh.
ABOUT_A_CUSTOMER_MESSAGE = frozenset(
    {AlertKind.REOPEN, AlertKind.UNCLEAR_REPLY, AlertKind.NEGATIVE_MESSAGE, AlertKind.LOW_CSAT}
)


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
    then says so and mentions the supervisors. An alert about a customer message within the
    coalescing window of the case's last one edits that one instead (see top)."""
    context = _context(case, kind, extra)
    if kind not in ABOUT_A_CUSTOMER_MESSAGE:
        session.add(_post(core, case, now, *_render(core, context, None, upset)))
        return
    burst = _current_burst(session, core, case, now)
    if burst is None:
        post = _post(core, case, now, *_render(core, context, None, upset))
        _start_burst(session, case, post, kind, now, upset)
        return
    burst.messages += 1
    burst.last_at = now
    if str(kind) not in burst.kinds:
        burst.kinds = [*burst.kinds, str(kind)]  # a new list: JSON columns see no in-place change
    if upset is not None and (burst.worst_upset is None or upset < burst.worst_upset):
        burst.worst_upset = upset
    _show(session, burst, now, *_render(core, context, burst, burst.worst_upset))


def _context(case: Case, kind: AlertKind, extra: dict[str, Any]) -> dict[str, Any]:
    case_view = {
        "id": case.id,
        "label": case.label,
        "subject": mrkdwn(case.subject),
        "status": str(case.status),
        "priority": case.priority,
    }
    return {
        "case": case_view,
        "assignee": case.assignee or "",
        "kind": str(kind),
        **{
            name: mrkdwn(value) if isinstance(value, str) else value
            for name, value in extra.items()
        },
    }


def _render(
    core: Core, context: dict[str, Any], burst: AlertBurst | None, upset: float | None
) -> tuple[str, list[dict[str, Any]] | None]:
    """The alert's text and blocks: what the latest message says, then (for a burst) how many
    messages it covers, then the call-out of the most negative one."""
    body = core.templates.render("alerts", context["kind"], context)
    if burst is not None and burst.messages > 1:
        zone = ZoneInfo(core.config.timezone)
        said = {
            "count": burst.messages,
            "since": burst.started_at.astimezone(zone).strftime("%H:%M"),
            "kinds": list(burst.kinds),
        }
        body += "\n" + core.templates.render("alerts", "burst", said)
    if upset is not None:
        supervisors = list(core.config.channels.slack.supervisors)
        called = {"upset": upset, "supervisors": supervisors}
        body += "\n" + core.templates.render("alerts", "upset", called)
    blocks = core.templates.render_blocks(ChannelName.SLACK, "alert", context | {"text": body})
    return body, blocks


def _post(
    core: Core, case: Case, now: datetime, body: str, blocks: list[dict[str, Any]] | None
) -> Outbox:
    return Outbox(
        case_id=case.id,
        kind=OutboxKind.ALERT,
        channel=ChannelName.SLACK,
        address=core.config.channels.slack.alerts_channel or case.assignee or "alerts",
        body=body,
        blocks=blocks,
        not_before=now,
        created_at=now,
    )


def _current_burst(session: Session, core: Core, case: Case, now: datetime) -> AlertBurst | None:
    """The case's alert a message now joins, or None when it needs a fresh one. The case row is
    locked first, so two messages about one case decide one after the other (PostgreSQL; on
    SQLite every write transaction already holds the database's one write lock)."""
    session.execute(select(Case.id).where(Case.id == case.id).with_for_update())
    burst = session.get(AlertBurst, case.id)
    if burst is None or now - burst.last_at >= core.config.alerts.coalesce_window:
        return None
    return burst


def _start_burst(
    session: Session,
    case: Case,
    post: Outbox,
    kind: AlertKind,
    now: datetime,
    upset: float | None,
) -> None:
    """Make `post` the case's current alert, in place of any earlier one."""
    session.add(post)
    burst = session.get(AlertBurst, case.id)
    if burst is None:
        burst = AlertBurst(case_id=case.id)
        session.add(burst)
    burst.outbox = post
    burst.started_at = burst.last_at = now
    burst.messages, burst.kinds, burst.worst_upset = 1, [str(kind)], upset


def _show(
    session: Session,
    burst: AlertBurst,
    now: datetime,
    body: str,
    blocks: list[dict[str, Any]] | None,
) -> None:
    """Put the burst's latest text in Slack: rewrite whatever of its rows still waits in the
    outbox (the post itself, or an edit queued while the post was on its way), else queue an
    edit of the posted alert. Rows are locked, so one a worker has just claimed is left to it."""
    post = burst.outbox
    if post.id is None:  # posted earlier in this same transaction
        session.flush()
    waiting = list(
        session.scalars(
            select(Outbox)
            .where(
                or_(Outbox.id == post.id, Outbox.updates_id == post.id),
                Outbox.status == OutboxStatus.PENDING,
            )
            .with_for_update()
        )
    )
    for row in waiting:
        row.body, row.blocks = body, blocks
    if waiting:
        return
    session.add(
        Outbox(
            case_id=post.case_id,
            kind=OutboxKind.ALERT,
            channel=post.channel,
            address=post.address,
            body=body,
            blocks=blocks,
            updates_id=post.id,
            not_before=now,
            created_at=now,
        )
    )
