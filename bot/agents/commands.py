"""`/case`: what agents do from Slack (README, Slack). Nothing here knows Slack's libraries:
bot/web/slack.py hands in the user and the command text and sends the Reply back as the
command's ephemeral answer.

What agents read is templates/agents/case_reply.txt.j2 (one `reply` per situation),
templates/agents/summary.txt.j2 (the summary, through bot/engine/summary.py) and the layouts in
templates/slack/; nothing here writes a sentence.

Each subcommand is one database transaction, committed before the answer goes back, so a
restart right after the answer loses nothing; messages to customers are only queued (outbox).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.agents.args import (
    UsageError,
    Words,
    case_id,
    duration,
    is_case_number,
    moment,
    phone_or_user,
    priority,
    untypable,
    user_id,
)
from bot.config import Config
from bot.core import Core
from bot.domain import CaseStatus, NoteKind, agent
from bot.durations import format_duration
from bot.engine import actions
from bot.engine.summary import summarize
from bot.errors import InvalidInput, KeeppostedError, NotFound
from bot.render import format_when, mention, mrkdwn
from bot.store.models import Case, Note
from channels.catalog import ChannelName
from flows.interim import cadence_of, earliest_send

LIST_LIMIT = 20
NOTES_LIMIT = 20
LIST_FILTERS = ("open", "mine", "waiting", "resolved", "reopened")


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"


def role_of(config: Config, user: str) -> Role | None:
    slack = config.channels.slack
    if user in slack.supervisors:
        return Role.SUPERVISOR
    if user in slack.agents:
        return Role.AGENT
    return None


@dataclass
class Reply:
    """The ephemeral answer: `text` always (notifications, screen readers), `blocks` to show."""

    text: str
    blocks: list[dict[str, Any]] | None = None


@dataclass
class Call:
    """One `/case` run: who asked, the words after the subcommand, and the open transaction."""

    core: Core
    session: Session
    user: str
    role: Role
    now: datetime
    words: Words
    options: dict[str, list[str]] = field(default_factory=dict)

    @property
    def actor(self) -> str:
        return agent(self.user)

    @property
    def zone(self) -> str:
        return self.core.config.timezone

    def say(self, reply: str, **context: Any) -> str:
        return say(self.core, reply, **context)

    def option(self, name: str) -> str | None:
        return self.options.get(name, [None])[0]

    def case(self, index: int = 1) -> Case:
        """The case named by word `index` (`#12`, `12` or its ref), locked for the change."""
        wanted = case_id(self.words.word(index))
        if isinstance(wanted, int):
            return actions.get_case(self.session, wanted, lock=True)
        found = self.session.scalar(select(Case).where(Case.ref == wanted).with_for_update())
        if found is None:
            raise NotFound(self.say("no_case", wanted=repr(wanted)))
        return found

    def text(self, index: int, what: str) -> str:
        """The words from `index` on; `what` names what is missing (case_reply.txt.j2)."""
        said = self.words.rest(index)
        if not said:
            raise UsageError(self.say("missing", what=what))
        return said

    def card(self, case: Case, headline: str) -> Reply:
        links = self.core.links
        context = {
            "headline": headline,
            "case": case_view(case, self.zone),
            # Only the agent sees the card: the link is theirs to give the customer.
            "chat_url": links.url(case) if links else "",
        }
        blocks = self.core.templates.render_blocks(ChannelName.SLACK, "case_card", context)
        shown = {"label": case.label, "subject": case.subject, "status": str(case.status)}
        return Reply(self.say("card", headline=headline, case=shown), blocks)


@dataclass(frozen=True)
class Subcommand:
    usage: str
    about: str
    run: Callable[[Call], Reply]
    supervisors_only: bool = False
    options: tuple[str, ...] = ()


SUBCOMMANDS: dict[str, Subcommand] = {}


def say(core: Core, reply: str, **context: Any) -> str:
    """One answer from templates/agents/case_reply.txt.j2."""
    return core.templates.render("agents", "case_reply", {"reply": reply, **context})


def subcommand(
    usage: str, about: str, *, supervisors_only: bool = False, options: tuple[str, ...] = ()
) -> Callable[[Callable[[Call], Reply]], Callable[[Call], Reply]]:
    def register(run: Callable[[Call], Reply]) -> Callable[[Call], Reply]:
        name = usage.split(" ", 1)[0]
        SUBCOMMANDS[name] = Subcommand(usage, about, run, supervisors_only, options)
        return run

    return register


def run_command(core: Core, user: str, text: str) -> Reply:
    """Run `/case <text>` for Slack user `user`; every outcome is a Reply, never an exception."""
    role = role_of(core.config, user)
    if role is None:
        return Reply(say(core, "not_agent", user=user))
    words = Words.of(text)
    name = (words.word(0) or "help").lower()
    if is_case_number(name):  # `/case 12` shows the case
        name, words = "status", Words.of(f"status {text}")
    sub = SUBCOMMANDS.get(name)
    if sub is None:
        return Reply(say(core, "unknown", name=name, help=help_text(core)))
    if sub.supervisors_only and role != Role.SUPERVISOR:
        return Reply(say(core, "supervisors_only", name=name))
    if problem := untypable(text):  # it would be a subject, a note or a customer's update
        return Reply(say(core, "bad_usage", problem=problem, usage=sub.usage))
    try:
        # Only subcommands with options read `--words`; elsewhere they are the agent's text.
        options = words.take_options(sub.options, repeatable=("tag",)).values if sub.options else {}
        with core.sessions.begin() as session:
            call = Call(core, session, user, role, core.clock.now(), words, options)
            return sub.run(call)
    except (UsageError, InvalidInput) as exc:
        problem = exc.message if isinstance(exc, InvalidInput) else str(exc)
        return Reply(say(core, "bad_usage", problem=problem, usage=sub.usage))
    except KeeppostedError as exc:  # not found, not allowed in this state
        return Reply(say(core, "refused", problem=exc.message))


def help_text(core: Core) -> str:
    commands = [(sub.usage, sub.about) for sub in SUBCOMMANDS.values()]
    return say(core, "help", commands=commands)


def case_view(case: Case, zone: str) -> dict[str, Any]:
    """What an agent's card shows, as plain values (times in the operation's zone)."""
    contact = case.contact
    customer = contact.name or ""
    if contact.slack_user_id and contact.channel == ChannelName.SLACK:
        address = mention(contact.slack_user_id)
    else:
        address = mrkdwn(contact.phone or f"contact {contact.id}")
    state = str(case.status)
    if case.status == CaseStatus.WAITING and case.waiting_reason:
        state += f" ({case.waiting_reason.replace('_', ' ')})"
    if case.paused:
        state += ", updates paused"
    return {
        "id": case.id,
        "label": case.label,
        "subject": case.subject,
        "state": state,
        "priority": case.priority,
        "customer": (mrkdwn(customer) + " " if customer else "") + address,
        "channel": contact.channel,
        "assignee": case.assignee or "",
        "next_update": format_when(case.next_update_at, zone),
        "eta": format_when(case.eta, zone),
        "ref": case.ref or "",
        "category": case.category or "",
        "resolution": case.resolution or "",
        "reopen_count": case.reopen_count,
        "csat": case.csat_score,
    }


# -- the subcommands, in the order `/case help` lists them ------------------------------------


@subcommand(
    "new <phone|@user> <subject> [--priority P2] [--category c] [--ref ZD-1] [--name 'Ana']",
    "opens a case for a customer and assigns it to you.",
    options=("priority", "category", "ref", "name"),
)
def new_case(call: Call) -> Reply:
    contact, subject = phone_or_user(call.words, 1, call.core.config.default_region)
    if not subject:
        raise UsageError(call.say("missing", what="subject"))
    if call.option("name"):
        contact["name"] = call.option("name") or ""
    case = actions.open_case(
        call.session,
        call.core,
        subject=subject,
        contact=contact,
        actor=call.actor,
        now=call.now,
        priority=priority(call.option("priority") or "P3"),
        category=call.option("category"),
        ref=call.option("ref"),
        assignee=call.user,
    )
    first = format_when(case.next_update_at, call.zone)
    return call.card(case, call.say("opened", case=case, first=first))


@subcommand("update <id> <text>", "sends the customer an update now and restarts the cadence.")
def update(call: Call) -> Reply:
    case = call.case()
    text = call.text(2, "update")
    message = actions.send_update(
        call.session, call.core, case, text=text, actor=call.actor, now=call.now
    )
    if message is None:
        return call.card(case, call.say("update_opted_out", case=case))
    held = earliest_send(call.now, case.contact, message.channel, call.core.config)
    until = format_when(held, call.zone) if held > call.now else ""
    return call.card(
        case, call.say("update_queued", case=case, channel=message.channel, held=until)
    )


@subcommand(
    "note <id> [kind] <text> [--tag t]",
    f"adds an internal note ({', '.join(NoteKind)}); customers never see notes.",
    options=("tag",),
)
def note(call: Call) -> Reply:
    case = call.case()
    kind_word = (call.words.word(2) or "").lower().replace("-", "_")
    kinds = {k.value for k in NoteKind}
    kind, start = (kind_word, 3) if kind_word in kinds else (NoteKind.INTERACTION.value, 2)
    added = actions.add_note(
        call.session,
        case,
        kind=kind,
        text=call.text(start, "note"),
        tags=[t.lstrip("#").lower() for t in call.options.get("tag", [])],
        author=call.actor,
        now=call.now,
    )
    return Reply(call.say("note_added", case=case, kind=kind, tags=added.tags))


@subcommand("notes <id>", "lists the case's internal notes.")
def notes(call: Call) -> Reply:
    case = call.case()
    found = list(
        call.session.scalars(
            select(Note).where(Note.case_id == case.id).order_by(Note.created_at, Note.id)
        )
    )
    actions.audit(
        call.session, actor=call.actor, action="notes_viewed", case_id=case.id, at=call.now
    )
    shown = found[-NOTES_LIMIT:]
    context = {
        "case": case_view(case, call.zone),
        "notes": [
            {
                "kind": n.kind,
                "text": n.text,
                "tags": n.tags,
                "author": n.author.removeprefix("agent:"),
                "at": format_when(n.created_at, call.zone),
                "edited": n.updated_at != n.created_at,
            }
            for n in shown
        ],
        "hidden": len(found) - len(shown),
    }
    blocks = call.core.templates.render_blocks(ChannelName.SLACK, "notes", context)
    return Reply(call.say("notes", case=case, count=len(found)), blocks)


@subcommand("status <id>", "shows the case card.")
def status(call: Call) -> Reply:
    case = call.case()
    return call.card(case, "")


@subcommand(
    "wait <id> <reason> [eta]",
    "puts the case on hold for a reason (the customer is told at once), with an optional ETA.",
)
def wait(call: Call) -> Reply:
    case = call.case()
    reason = (call.words.word(2) or "").lower().replace("-", "_")
    if not reason:
        raise UsageError(call.say("no_reason", reasons=list(call.core.config.waiting_reasons)))
    eta_text = call.words.rest(3)
    eta = moment(eta_text, call.now, call.zone) if eta_text else None
    if eta is not None and eta <= call.now:
        raise UsageError(call.say("passed", what="eta", when=format_when(eta, call.zone)))
    actions.put_waiting(
        call.session, call.core, case, reason=reason, eta=eta, actor=call.actor, now=call.now
    )
    return call.card(case, call.say("waiting", case=case))


@subcommand("eta <id> <when>", "sets when the fix is expected (`tomorrow 3pm`, `4h`).")
def eta(call: Call) -> Reply:
    case = call.case()
    when = moment(call.text(2, "time"), call.now, call.zone)
    if when <= call.now:
        raise UsageError(call.say("passed", what="time", when=format_when(when, call.zone)))
    actions.set_eta(call.session, case, eta=when, actor=call.actor, now=call.now)
    return call.card(case, call.say("eta_set", case=case, when=format_when(when, call.zone)))


@subcommand("cadence <id> <every>", "changes how often the customer hears from us (`4h`).")
def cadence(call: Call) -> Reply:
    case = call.case()
    every = duration(call.text(2, "interval"))
    actions.set_cadence(call.session, call.core, case, every=every, actor=call.actor, now=call.now)
    return call.card(case, call.say("cadence_set", case=case, every=format_duration(every)))


@subcommand("pause <id>", "stops the cadence updates until `resume`.")
def pause(call: Call) -> Reply:
    case = call.case()
    actions.pause(call.session, case, actor=call.actor, now=call.now)
    return call.card(case, call.say("paused", case=case))


@subcommand("resume <id>", "restarts the cadence updates.")
def resume(call: Call) -> Reply:
    case = call.case()
    actions.resume(call.session, call.core, case, actor=call.actor, now=call.now)
    every = format_duration(cadence_of(case, call.core.config).every)
    return call.card(case, call.say("resumed", case=case, every=every))


@subcommand("resolve <id> <resolution>", "marks it fixed and asks the customer to confirm.")
def resolve(call: Call) -> Reply:
    case = call.case()
    resolution = call.text(2, "resolution")
    actions.resolve(
        call.session, call.core, case, resolution=resolution, actor=call.actor, now=call.now
    )
    return call.card(case, call.say("resolved", case=case))


@subcommand("close <id>", "closes the case without the customer's word.", supervisors_only=True)
def close(call: Call) -> Reply:
    case = call.case()
    actions.close(call.session, call.core, case, actor=call.actor, now=call.now)
    return call.card(case, call.say("closed", case=case, user=call.user))


@subcommand("reopen <id>", "reopens a resolved or closed case.", supervisors_only=True)
def reopen(call: Call) -> Reply:
    case = call.case()
    actions.reopen(call.session, call.core, case, actor=call.actor, now=call.now)
    return call.card(case, call.say("reopened", case=case))


@subcommand("assign <id> <@user|me>", "gives the case to someone.")
def assign(call: Call) -> Reply:
    case = call.case()
    who = call.words.word(2)
    assignee = call.user if (who or "").lower() == "me" else user_id(who)
    actions.assign(call.session, case, assignee=assignee, actor=call.actor, now=call.now)
    return call.card(case, call.say("assigned", case=case, assignee=assignee))


@subcommand(
    "list [mine|open|waiting|resolved|reopened]", "lists cases (open ones when you name none)."
)
def list_cases(call: Call) -> Reply:
    which = (call.words.word(1) or "open").lower()
    query = select(Case).options(selectinload(Case.contact))
    if which == "mine":
        query = query.where(Case.assignee == call.user, Case.status != CaseStatus.CLOSED)
    elif which == "open":
        query = query.where(Case.status.in_(actions.OPEN_STATES))
    elif which in ("waiting", "resolved"):
        query = query.where(Case.status == CaseStatus(which))
    elif which == "reopened":
        query = query.where(Case.reopen_count > 0, Case.status != CaseStatus.CLOSED)
    else:
        raise UsageError(call.say("list_filter", which=repr(which), filters=LIST_FILTERS))
    found = list(call.session.scalars(query.order_by(Case.priority, Case.id).limit(LIST_LIMIT + 1)))
    context = {
        "which": which,
        "cases": [case_view(c, call.zone) for c in found[:LIST_LIMIT]],
        "more": len(found) > LIST_LIMIT,
    }
    blocks = call.core.templates.render_blocks(ChannelName.SLACK, "case_list", context)
    count = f"{LIST_LIMIT}+" if context["more"] else str(len(found))
    return Reply(call.say("list", count=count, which=which), blocks)


@subcommand("summary <id>", "gives the case's story in a few sentences, with its key times.")
def summary(call: Call) -> Reply:
    case = call.case()
    told = summarize(call.session, case, call.zone, call.core.templates)
    context = {
        "case": case_view(case, call.zone),
        "text": told.text,
        "times": [(label, format_when(at, call.zone)) for label, at in told.key_times],
    }
    blocks = call.core.templates.render_blocks(ChannelName.SLACK, "summary", context)
    return Reply(call.say("summary", case=case, text=told.text), blocks)


@subcommand("help", "shows this list.")
def show_help(call: Call) -> Reply:
    return Reply(help_text(call.core))
