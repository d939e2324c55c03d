"""The customer's side of a case as one conversation: for each case status, which intent is
handled how (python-telegram-bot's ConversationHandler shape).

Handlers decide; they never write a case's status. A handler says what to answer through
`turn.actions` and returns the status the case moves to, or None to leave it where it is (the status
it is already in means the same). bot/engine/inbound.py applies the move through
bot/engine/actions.py, the one writer of a case's status, and only then queues what the handler
asked for, so every answer reads the case as the customer's words left it. The customer can make two
moves: YES closes a resolved case, REOPEN opens a resolved or recently closed one.

`entry_points` win over everything (carrier rules: STOP and START always work), `states` are the
case statuses stored in SQL, and `fallback` keeps anything else as a customer message, alerts the
assignee and asks one short clarification per case status. No customer text is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from bot.config import Config
from bot.domain import CaseStatus
from channels.catalog import traits
from flows.intents import Intent, Reading

if TYPE_CHECKING:
    from bot.store.models import Case, Contact, Message


@dataclass
class Turn:
    """One inbound message being answered. `actions` does the writing (see
    bot/engine/inbound.py)."""

    case: Case | None
    contact: Contact
    message: Message
    reading: Reading
    now: datetime
    config: Config
    actions: TurnActions


class TurnActions(Protocol):
    """What a handler may ask for; implemented over the database in bot/engine/inbound.py. Nothing
    here changes a case's status: that is what the handler returns."""

    def reply(self, template: str, *, to_opted_out: bool = False, **extra: Any) -> None: ...
    def tell_status(self, case: Case) -> None: ...
    def ask_csat(self, case: Case) -> None: ...
    def record_csat(self, case: Case, score: int) -> None: ...
    def opt(self, out: bool) -> None: ...
    def flag_unclear(self, case: Case) -> None: ...


Handler = Callable[[Turn], CaseStatus | None]
"""Returns the status the case moves to; None leaves it as it is."""


@dataclass(frozen=True)
class Conversation:
    entry_points: dict[Intent, Handler]
    states: dict[CaseStatus, dict[Intent, Handler]]
    fallback: Handler
    no_case: Handler

    def handler_for(self, intent: Intent, status: CaseStatus | None) -> Handler:
        if intent in self.entry_points:
            return self.entry_points[intent]
        if status is None:
            return self.no_case
        return self.states[status].get(intent, self.fallback)


# -- timing: pure functions of (case, config, now) ------------------------------------------


class Timer(StrEnum):
    REMIND = "remind"
    AUTO_CLOSE = "auto_close"


def confirmation_timer(case: Case, now: datetime) -> Timer | None:
    """What the confirmation clock asks for now: one reminder, then the auto-close."""
    if case.status != CaseStatus.RESOLVED or case.confirm_due_at is None:
        return None
    if case.confirm_due_at > now:
        return None
    return Timer.REMIND if case.reminder_sent_at is None else Timer.AUTO_CLOSE


def in_reopen_window(case: Case, config: Config, now: datetime) -> bool:
    return case.closed_at is not None and now - case.closed_at <= config.confirmation.reopen_window


def in_csat_window(case: Case, config: Config, now: datetime) -> bool:
    csat = config.confirmation.csat
    return (
        csat.enabled
        and case.csat_requested_at is not None
        and case.csat_score is None
        and now - case.csat_requested_at <= csat.window
    )


# -- handlers --------------------------------------------------------------------------------


def opt_out(turn: Turn) -> CaseStatus | None:
    turn.actions.opt(out=True)
    return None


def opt_in(turn: Turn) -> CaseStatus | None:
    turn.actions.opt(out=False)
    return None


def provider_answers_keywords(channel: str, config: Config) -> bool:
    """Twilio's Advanced Opt-Out answers STOP, START and HELP itself; a second answer from us
    would break the carrier rules it exists to keep."""
    switch = getattr(config.channels, channel, None)  # that channel's config section
    return traits(channel).provider_keywords and bool(getattr(switch, "advanced_opt_out", False))


def send_help(turn: Turn) -> CaseStatus | None:
    if not provider_answers_keywords(turn.message.channel, turn.config):
        turn.actions.reply("help", to_opted_out=True)  # carriers want HELP answered, always
    return None


def tell_status(turn: Turn) -> CaseStatus | None:
    if turn.case is not None:
        turn.actions.tell_status(turn.case)
    return None


def confirm(turn: Turn) -> CaseStatus | None:
    """YES to a resolved case closes it; with CSAT on, the thanks comes with the score question."""
    assert turn.case is not None
    turn.actions.reply("confirm_thanks")
    if turn.config.confirmation.csat.enabled:
        turn.actions.ask_csat(turn.case)
    return CaseStatus.CLOSED


def reopen(turn: Turn) -> CaseStatus | None:
    """REOPEN opens the case again (and alerts the assignee with the customer's words)."""
    turn.actions.reply("reopen_ack")
    return CaseStatus.OPEN


def reopen_if_in_window(turn: Turn) -> CaseStatus | None:
    assert turn.case is not None
    if not in_reopen_window(turn.case, turn.config, turn.now):
        turn.actions.reply("reopen_expired")
        return None
    return reopen(turn)


def rate(turn: Turn) -> CaseStatus | None:
    assert turn.case is not None and turn.reading.rating is not None
    if not in_csat_window(turn.case, turn.config, turn.now):
        return keep_unclear(turn)
    turn.actions.record_csat(turn.case, turn.reading.rating)
    turn.actions.reply("csat_thanks", score=turn.reading.rating)
    return None


def already_closed(turn: Turn) -> CaseStatus | None:
    """A second YES (or a late one after auto-close): kept, nothing more to do."""
    return None


def keep_unclear(turn: Turn) -> CaseStatus | None:
    assert turn.case is not None
    turn.actions.flag_unclear(turn.case)
    if turn.case.clarified_in != turn.case.status:
        # A picture with no words is not unclear to the customer: say we got it.
        media_only = turn.message.media_count > 0 and not turn.message.body.strip()
        turn.actions.reply("media_received" if media_only else "clarify")
        turn.case.clarified_in = str(turn.case.status)
    return None


def no_case(turn: Turn) -> CaseStatus | None:
    turn.actions.reply("unknown_sender")
    return None


CONVERSATION = Conversation(
    entry_points={Intent.OPT_OUT: opt_out, Intent.OPT_IN: opt_in, Intent.HELP: send_help},
    states={
        CaseStatus.OPEN: {Intent.STATUS: tell_status},
        CaseStatus.WAITING: {Intent.STATUS: tell_status},
        CaseStatus.RESOLVED: {
            Intent.CONFIRM: confirm,
            Intent.REOPEN: reopen,
            Intent.STATUS: tell_status,
        },
        CaseStatus.CLOSED: {
            Intent.REOPEN: reopen_if_in_window,
            Intent.RATING: rate,
            Intent.CONFIRM: already_closed,
            Intent.STATUS: tell_status,
        },
    },
    fallback=keep_unclear,
    no_case=no_case,
)
