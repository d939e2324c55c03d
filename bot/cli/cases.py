"""`keepposted case`: open, list, show, resolve cases and give out their web chat links."""

from __future__ import annotations

from datetime import datetime

import click
from sqlalchemy import select

from bot.cli.state import CLI_ACTOR, State, pass_state
from bot.core import Core
from bot.domain import CaseStatus
from bot.durations import format_duration, parse_when
from bot.engine import actions
from bot.store.models import Case, LogEntry, Message
from bot.store.records import iso
from channels.catalog import channel_names


@click.group()
def case() -> None:
    """Create, list, show and resolve cases."""


@case.command("new")
@click.option("--subject", required=True)
@click.option("--phone", help="the customer's phone, any common format")
@click.option("--slack-user", help="the customer's Slack user id")
@click.option("--name")
@click.option(
    "--priority", default="P3", show_default=True, type=click.Choice(["P1", "P2", "P3", "P4"])
)
@click.option("--category")
@click.option("--ref", help="the ticket id in the CRM")
@click.option("--assignee", help="the agent's Slack user id")
@click.option("--eta", help="2026-11-24T15:00 or a duration such as 2h")
# Plain strings: click matches an Enum choice by its member name (SMS), not its value.
@click.option("--channel", type=click.Choice([str(name) for name in channel_names()]))
@click.option("--timezone", help="the customer's IANA time zone")
@pass_state
def case_new(
    state: State,
    subject: str,
    phone: str | None,
    slack_user: str | None,
    name: str | None,
    priority: str,
    category: str | None,
    ref: str | None,
    assignee: str | None,
    eta: str | None,
    channel: str | None,
    timezone: str | None,
) -> None:
    """Open a case for a customer."""
    core = state.core
    now = core.clock.now()
    contact = {
        k: v
        for k, v in {
            "phone": phone,
            "slack_user_id": slack_user,
            "name": name,
            "channel": channel,
            "timezone": timezone,
        }.items()
        if v
    }
    when = _when(eta, core) if eta else None
    with core.sessions.begin() as session:
        opened = actions.open_case(
            session,
            core,
            subject=subject,
            contact=contact,
            priority=priority,
            category=category,
            ref=ref,
            assignee=assignee,
            eta=when,
            actor=CLI_ACTOR,
            now=now,
        )
        click.echo(_card(opened))


def _when(text: str, core: Core) -> datetime:
    try:
        return parse_when(text, core.clock.now(), core.config.timezone)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--eta") from None


@case.command("list")
@click.option("--status", type=click.Choice([s.value for s in CaseStatus]))
@click.option("--limit", default=50, show_default=True, type=int)
@pass_state
def case_list(state: State, status: str | None, limit: int) -> None:
    """List cases, newest first."""
    query = select(Case).order_by(Case.id.desc()).limit(limit)
    if status:
        query = query.where(Case.status == status)
    with state.core.sessions() as session:
        rows = list(session.scalars(query))
        if not rows:
            click.echo("no cases")
        for c in rows:
            due = c.next_update_at.strftime("%Y-%m-%d %H:%M") if c.next_update_at else "-"
            click.echo(
                f"{c.label:>7}  {c.status:<8} {c.priority}  next update {due:<16}  {c.subject}"
            )


@case.command("show")
@click.argument("case_id", type=int)
@pass_state
def case_show(state: State, case_id: int) -> None:
    """A case with its messages and its log."""
    with state.core.sessions() as session:
        found = actions.get_case(session, case_id)
        click.echo(_card(found))
        click.echo("\nmessages:")
        for m in session.scalars(
            select(Message).where(Message.case_id == case_id).order_by(Message.at, Message.id)
        ):
            arrow = "<-" if m.direction == "in" else "->"
            click.echo(f"  {m.at:%Y-%m-%d %H:%M:%S} {arrow} {m.channel:<7} [{m.status}] {m.body}")
        click.echo("\nlog:")
        for e in session.scalars(
            select(LogEntry).where(LogEntry.case_id == case_id).order_by(LogEntry.seq)
        ):
            click.echo(f"  {e.seq:>6} {e.at:%Y-%m-%d %H:%M:%S} {e.event:<24} {e.actor}")


@case.command("resolve")
@click.argument("case_id", type=int)
@click.argument("resolution")
@pass_state
def case_resolve(state: State, case_id: int, resolution: str) -> None:
    """Propose a case as fixed; the customer is asked to confirm."""
    core = state.core
    with core.sessions.begin() as session:
        found = actions.get_case(session, case_id, lock=True)
        actions.resolve(
            session, core, found, resolution=resolution, actor=CLI_ACTOR, now=core.clock.now()
        )
        click.echo(_card(found))
    click.echo("The confirmation request goes out with the worker's next run.")


@case.command("link")
@click.argument("case_id", type=int)
@click.option("--revoke", is_flag=True, help="stop every link given out so far; print a new one")
@pass_state
def case_link(state: State, case_id: int, revoke: bool) -> None:
    """The case's web chat link: the customer's page to read and answer it (needs SECRET_KEY)."""
    core = state.core
    if core.links is None:
        raise click.ClickException("web chat links need SECRET_KEY in the environment")
    with core.sessions.begin() as session:
        found = actions.get_case(session, case_id, lock=True)
        if revoke:
            actions.revoke_webchat_links(session, found, actor=CLI_ACTOR, now=core.clock.now())
        click.echo(core.links.url(found))
    ttl = core.config.channels.webchat.link_ttl
    older = "; older links no longer work." if revoke else "."
    click.echo(f"It works for {format_duration(ttl)}{older}", err=True)


def _card(c: Case) -> str:
    # Ops see the time agents gave, and whether it passed (customers are told they are late).
    eta = f"{iso(c.eta) or '-'}{' (missed)' if c.eta_missed_at else ''}"
    who = c.contact.name or c.contact.phone or c.contact.slack_user_id
    lines = [
        f"{c.label} {c.subject}",
        f"  status {c.status}  priority {c.priority}  category {c.category or '-'}  "
        f"ref {c.ref or '-'}",
        f"  contact {who} via {c.contact.channel}  assignee {c.assignee or '-'}",
        f"  next update {iso(c.next_update_at) or '-'}  eta {eta}",
    ]
    return "\n".join(lines)
