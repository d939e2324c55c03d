"""The engine's entry points for customers.

SMS, Slack and web chat call them after checking their provider's signature. A message is stored
first (idempotent on the provider id), then read into an intent, matched to a case and answered by
the conversation in flows/confirmation.py, in one transaction. The conversation's handlers decide;
`_Actions.take_turn` applies what they return through bot/engine/actions.py (the one writer of a
case's status), then queues the answers they asked for.

Two ways in: `handle_inbound` stores and answers at once (for channels whose page waits for the
answer, the demo and tests); `accept_inbound` only stores, so a webhook answers its provider in
about a millisecond however busy the flows are, and the worker's `handle_received` reads and
answers what was accepted, oldest first. A crash between the two loses nothing: the message is
stored and stays unhandled until a worker handles it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.config import check_locale
from bot.domain import CUSTOMER, AlertKind, CaseStatus, Direction, LogEvent, MessageStatus
from bot.domain import OutboxKind as Kind
from bot.engine import actions
from bot.engine.alerts import queue_alert
from bot.engine.contacts import Address, find_by_address
from bot.engine.messages import queue_to_contact
from bot.engine.status import other_cases
from bot.errors import InvalidInput
from bot.ledger import chain as log
from bot.outbox.delivery import change_opt_out
from bot.outbox.queue import enqueue
from bot.render import language_of
from bot.store.models import Case, Contact, Message
from bot.unstorable import unstorable
from channels.base import InboundMessage
from channels.catalog import traits
from flows.confirmation import (
    CONVERSATION,
    Handler,
    Turn,
    in_csat_window,
    in_reopen_window,
    provider_answers_keywords,
)
from flows.intents import Intent, Reading, read_reply
from flows.sentiment import sentiment

if TYPE_CHECKING:
    from bot.core import Core  # annotations only: the engine must not load the registry

UNKNOWN_SENDER_REPLY_EVERY = timedelta(hours=24)  # one helpful reply, not a loop with a bot
ANSWERED_BY_NAMING = (Intent.CONFIRM, Intent.REOPEN)
REMEMBERED_FROM_STRANGERS = (Intent.OPT_OUT,)
logger = logging.getLogger(__name__)

# Runs in the storing transaction before a message is stored; raises to refuse it.
Admit = Callable[[Session], None]


@dataclass
class InboundResult:
    message_id: int | None
    duplicate: bool = False
    intent: str | None = None
    case_id: int | None = None


def check_inbound(inbound: InboundMessage) -> None:
    """Refuse a message no database can store as it is, before anything is stored: every
    channel's messages pass here, so a new channel cannot forget it."""
    fields = {"body": inbound.body, "sender": inbound.sender, "provider_id": inbound.provider_id}
    fields |= {f"media_urls[{i}]": url for i, url in enumerate(inbound.media_urls)}
    for name, text in fields.items():
        if problem := unstorable(text):
            raise InvalidInput(
                f"the message's {name} holds {problem}: only text, tabs and line breaks can be"
                " kept",
                field=name,
            )


def accept_inbound(core: Core, inbound: InboundMessage) -> InboundResult:
    """Store a customer's message for the worker to answer; a repeat stores nothing."""
    check_inbound(inbound)
    statement = _store_ignoring_repeats(core.engine.dialect.name)
    with core.engine.begin() as connection:  # one statement: no ORM session needed
        message_id = connection.execute(statement, _values(inbound, None)).scalar()
    return InboundResult(message_id, duplicate=message_id is None)


def handle_inbound(
    core: Core, inbound: InboundMessage, *, admit: Admit | None = None
) -> InboundResult:
    """Store, read and answer one customer message. A repeat of a stored one changes nothing.

    `admit` runs in the same transaction just before the message is stored and refuses it by
    raising (web chat's rate limit: the count and the insert cannot be split by another post).
    """
    check_inbound(inbound)
    # Read before the transaction opens: on SQLite it holds the write lock for every writer.
    # The score reads the language the words are in (flows/sentiment.py guesses it when the
    # keywords do not say), so a furious Spanish message alerts as an English one does.
    reading = read_reply(inbound.body, core.keywords)
    score = sentiment(inbound.body, reading.language)
    with core.sessions.begin() as session:
        if admit is not None:
            admit(session)
        message = _insert_once(session, inbound, str(reading.intent))
        if message is None:
            return InboundResult(message_id=None, duplicate=True)
        return _answer(session, core, message, reading, score, inbound.case_id)


def answer_or_keep(
    core: Core, inbound: InboundMessage, *, admit: Admit | None = None
) -> InboundResult:
    """Answer now (for a channel whose user waits on the answer); if answering fails, keep
    the customer's words anyway, and the worker answers them later. A message `admit`
    refuses is refused, not kept."""
    check_inbound(inbound)  # refused, not kept: storing it is what would fail
    admitted = False

    def admit_and_note(session: Session) -> None:
        nonlocal admitted
        if admit is not None:
            admit(session)
        admitted = True

    try:
        return handle_inbound(core, inbound, admit=admit_and_note)
    except Exception:
        if not admitted:
            raise
        logger.exception("could not answer %s now; kept for the worker", inbound.provider_id)
        return accept_inbound(core, inbound)


def handle_received(core: Core, limit: int | None = None) -> int:
    """Read and answer accepted messages, oldest first, each in its own transaction; returns
    how many were handled. Claims skip rows another worker holds (SKIP LOCKED)."""
    handled = 0
    limit = limit or core.config.worker.batch_size
    while handled < limit:
        with core.sessions.begin() as session:
            message = session.scalar(
                select(Message)
                .where(Message.direction == Direction.IN, Message.handled_at.is_(None))
                .order_by(Message.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if message is None:
                return handled
            if _waits_for_an_older_one(session, message):
                return handled  # another worker is answering this customer's earlier message
            try:
                # Read inside the claim, which is what picks the message: sentiment's cap
                # (flows/sentiment.py) keeps that to milliseconds whatever the text.
                reading = read_reply(message.body, core.keywords)
                with session.begin_nested():
                    _answer(
                        session, core, message, reading, sentiment(message.body, reading.language)
                    )
            except Exception:  # a message the flows choke on is kept, not retried forever
                logger.exception("could not answer message %s; it is kept unanswered", message.id)
                message.handled_at = core.clock.now()
        handled += 1
    return handled


def _waits_for_an_older_one(session: Session, message: Message) -> bool:
    """Answer each customer's messages in order: YES before the score that follows it."""
    older = session.scalar(
        select(Message.id)
        .where(
            Message.direction == Direction.IN,
            Message.handled_at.is_(None),
            Message.channel == message.channel,
            Message.address == message.address,
            Message.id < message.id,
        )
        .limit(1)
    )
    return older is not None


def _answer(
    session: Session,
    core: Core,
    message: Message,
    reading: Reading,
    score: float,
    known_case_id: int | None = None,
) -> InboundResult:
    """Answer a stored message, read (`reading`, `score`) by the caller, in its transaction."""
    now = core.clock.now()
    message.intent = str(reading.intent)
    message.sentiment = score
    message.handled_at = now
    channel, sender = message.channel, message.address or ""
    contact = find_by_address(session, channel, sender)
    if contact is None and reading.intent in REMEMBERED_FROM_STRANGERS:
        # STOP from a number we do not know yet still binds us: remember it.
        contact = _stranger_contact(session, channel, sender, now)
    if contact is None:
        _answer_stranger(session, core, channel, sender, reading, now)
        return InboundResult(message.id, intent=message.intent)
    message.contact_id = contact.id
    inferred = _infer_locale(contact, message.body, reading, core)
    writer = _Actions(session, core, contact, message, now)
    with session.no_autoflush:  # its reads need none of this transaction's writes
        case, asked_which = _choose_case(session, contact, reading, known_case_id, writer)
    if not asked_which:
        turn = Turn(
            case=case,
            contact=contact,
            message=message,
            reading=reading,
            now=now,
            config=core.config,
            actions=writer,
        )
        if case is not None:
            message.case_id = case.id
            log.append(
                session,
                event=LogEvent.CUSTOMER_MESSAGE,
                at=now,
                actor=CUSTOMER,
                case_id=case.id,
                channel=channel,
                message_id=message.id,
                detail={
                    "words": message.body,
                    "intent": message.intent,
                    "media": message.media_count,
                }
                # Say where the contact's language came from: their words, not the CRM.
                | ({"locale_inferred": inferred} if inferred else {}),
            )
        handler = CONVERSATION.handler_for(reading.intent, case.status if case else None)
        writer.take_turn(handler, turn)  # the handler decides; its decision is applied here
        if case is not None and writer.upset is not None and not writer.alerted:
            # Nothing else told the team about this message, but the customer needs a person.
            writer.alert(case, AlertKind.NEGATIVE_MESSAGE)
    return InboundResult(message.id, intent=message.intent, case_id=message.case_id)


def _infer_locale(contact: Contact, words: str, reading: Reading, core: Core) -> str | None:
    """A contact whose locale was not given (none, or one guessed from their number's country)
    who writes in another language gets that language from now on; returns it when stored. A
    locale the CRM set is never replaced. YES and REOPEN alone say nothing: they are what the
    chat page's and Slack's buttons send, whatever language the customer reads."""
    language = reading.language
    if not language or (contact.locale and not contact.locale_inferred):
        return None
    if reading.intent in ANSWERED_BY_NAMING and words.strip().casefold() == (
        core.keywords.answer_word(reading.intent).casefold()
    ):
        return None
    if language == language_of(contact.locale or core.config.program.locale):
        return None  # already reads their language (es-MX keeps its region)
    try:
        contact.locale = check_locale(language)
    except ValueError:  # a label the keyword lists carry but CLDR does not know
        return None
    contact.locale_inferred = True
    return contact.locale


def _insert_once(session: Session, inbound: InboundMessage, intent: str | None) -> Message | None:
    """Insert-or-ignore on (channel, provider_id): fifty copies of one webhook store one row.
    The row comes back as a Message in the session, with no second query."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(Message)
        .values(**_values(inbound, intent))
        .on_conflict_do_nothing(index_elements=["channel", "provider_id"])
        .returning(Message)
    )
    return session.scalars(statement).one_or_none()


@functools.cache
def _store_ignoring_repeats(dialect: str) -> Any:
    """The webhook's one statement, built once: a plain table insert with bound parameters is
    a fraction of the ORM's per-call cost on this hot path."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = Message.__table__
    assert isinstance(table, Table)
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=["channel", "provider_id"])
        .returning(table.c.id)
    )


def _values(inbound: InboundMessage, intent: str | None) -> dict[str, Any]:
    return {
        "channel": inbound.channel,
        "direction": str(Direction.IN),
        "address": inbound.sender,
        "body": inbound.body,
        "provider_id": inbound.provider_id,
        "status": str(MessageStatus.RECEIVED),
        "media_count": inbound.media_count,
        "media_urls": list(inbound.media_urls) or None,
        "intent": intent,
        "at": inbound.received_at,
        "handled_at": None,
    }


def _stranger_contact(session: Session, channel: str, sender: str, now: datetime) -> Contact | None:
    field = traits(channel).address_field  # a web chat link always names its contact
    if field is None:
        return None
    contact = Contact(channel=channel, opted_out=[], created_at=now, **{field: sender})
    session.add(contact)
    session.flush()
    return contact


def _answer_stranger(
    session: Session, core: Core, channel: str, sender: str, reading: Reading, now: datetime
) -> None:
    """Keep the message unmatched. HELP always gets the program's help (carrier rules);
    anything else gets one pointer a day at most, so two bots never loop."""
    template = "help" if reading.intent == Intent.HELP else "unknown_sender"
    if template == "help" and provider_answers_keywords(channel, core.config):
        return
    recently = template == "unknown_sender" and session.scalar(
        select(Message.id)
        .where(
            Message.channel == channel,
            Message.address == sender,
            Message.direction == Direction.OUT,
            Message.template == "unknown_sender",
            Message.at >= now - UNKNOWN_SENDER_REPLY_EVERY,
        )
        .limit(1)
    )
    if recently:
        return
    context = {"program": core.config.program.for_locale(reading.language)}
    # No contact to store a language on: answer in the one the stranger wrote in.
    body = core.templates.render(channel, template, context, locale=reading.language)
    enqueue(
        session,
        address=Address(channel, sender),
        body=body,
        template=template,
        kind=Kind.REPLY,
        now=now,
    )


def _choose_case(
    session: Session,
    contact: Contact,
    reading: Reading,
    known_case_id: int | None,
    writer: _Actions,
) -> tuple[Case | None, bool]:
    """The case a reply is about: the one it names, the only one awaiting confirmation, or the
    contact's most recent. With several awaiting and none named, ask which: (None, True)."""
    named = reading.case_id or known_case_id
    if named is not None:
        case = session.scalar(
            select(Case).where(Case.id == named, Case.contact_id == contact.id).with_for_update()
        )
        if case is not None:
            return case, False
    awaiting = list(
        session.scalars(
            select(Case)
            .where(Case.contact_id == contact.id, Case.status == CaseStatus.RESOLVED)
            .order_by(Case.id)
            .with_for_update()
        )
    )
    if len(awaiting) > 1 and reading.intent in ANSWERED_BY_NAMING:
        writer.reply(
            "which_case",
            cases=[{"label": c.label, "subject": c.subject, "id": c.id} for c in awaiting],
            answer=writer.core.keywords.answer_word(reading.intent),
        )
        return None, True
    if len(awaiting) == 1:
        return awaiting[0], False
    if reading.intent in (Intent.RATING, Intent.REOPEN):
        # A score answers the CSAT question; REOPEN right after a YES means the case just
        # closed, not another one still open.
        recent = _recently_closed(session, writer, reading.intent)
        if recent is not None:
            return recent, False
    latest = session.scalar(
        select(Case)
        .where(Case.contact_id == contact.id)
        .order_by(Case.status == CaseStatus.CLOSED, Case.updated_at.desc(), Case.id.desc())
        .limit(1)
        .with_for_update()
    )
    return latest, False


def _recently_closed(session: Session, writer: _Actions, intent: Intent) -> Case | None:
    """The contact's latest closed case that this rating or reopen request can still apply to."""
    config, now = writer.core.config, writer.now
    closed = session.scalars(
        select(Case)
        .where(Case.contact_id == writer.contact.id, Case.status == CaseStatus.CLOSED)
        .order_by(Case.closed_at.desc(), Case.id.desc())
        .limit(5)
        .with_for_update()
    )
    fits = in_csat_window if intent == Intent.RATING else in_reopen_window
    return next((case for case in closed if fits(case, config, now)), None)


class _Actions:
    """TurnActions over the database: what the conversation's handlers ask for, and the one
    place their decisions are applied (`take_turn`)."""

    def __init__(
        self,
        session: Session,
        core: Core,
        contact: Contact,
        message: Message,
        now: datetime,
    ) -> None:
        self.session, self.core, self.contact, self.message, self.now = (
            session,
            core,
            contact,
            message,
            now,
        )
        self.alerted = False  # the team already heard about this message
        score, threshold = message.sentiment, core.config.sentiment.alert_below
        self.upset = score if score is not None and score <= threshold else None
        self._held: list[Callable[[], None]] | None = None  # a handler's requests, while it runs

    def take_turn(self, handler: Handler, turn: Turn) -> None:
        """Run one handler the ConversationHandler way: it decides, this applies. What it asks
        for is held while it runs and done once its decision is applied, in the order asked, so
        every answer and alert reads the case as it now is ("Case #1 is now closed")."""
        self._held = []
        try:
            decided = handler(turn)
        finally:
            held, self._held = self._held, None
        if turn.case is not None and decided is not None:
            self.alerted |= actions.move_for_customer(
                self.session,
                self.core,
                turn.case,
                decided,
                message=self.message,
                now=self.now,
                upset=self.upset,
            )
        for request in held:
            request()

    def _do(self, request: Callable[[], None]) -> None:
        if self._held is None:
            request()
        else:
            self._held.append(request)

    def alert(self, case: Case, kind: AlertKind, **extra: Any) -> None:
        """Alert the team about this message, quoting their words (a burst of messages is one
        alert, edited: bot/engine/alerts.py); a strongly negative one also calls the
        supervisors."""
        self.alerted = True
        queue_alert(
            self.session,
            self.core,
            case=case,
            kind=kind,
            now=self.now,
            upset=self.upset,
            words=self.message.body,
            **extra,
        )

    @property
    def _from(self) -> Address:
        return Address(self.message.channel, self.message.address or "")

    def reply(self, template: str, *, to_opted_out: bool = False, **extra: Any) -> None:
        self._do(lambda: self._reply(template, to_opted_out, extra))

    def _reply(self, template: str, to_opted_out: bool, extra: dict[str, Any]) -> None:
        case = self.session.get(Case, self.message.case_id) if self.message.case_id else None
        queue_to_contact(
            self.session,
            self.core,
            contact=self.contact,
            case=case,
            template=template,
            kind=Kind.REPLY,
            now=self.now,
            extra=extra,
            address=self._from,
            to_opted_out=to_opted_out,
        )

    def tell_status(self, case: Case) -> None:
        """Where `case` stands, and a line for each other case the contact has open."""

        def tell() -> None:
            listed = other_cases(
                self.session,
                self.core,
                case,
                self.contact,
                channel=self._from.channel,
                at=self.now,
            )
            self._reply("status", False, listed)

        self._do(tell)

    def ask_csat(self, case: Case) -> None:
        """Ask for a 1-5 score; the CSAT window opens now."""

        def ask() -> None:
            case.csat_requested_at = self.now
            self._reply("csat_ask", False, {})

        self._do(ask)

    def record_csat(self, case: Case, score: int) -> None:
        self._do(lambda: self._record_csat(case, score))

    def _record_csat(self, case: Case, score: int) -> None:
        case.csat_score = score
        log.append(
            self.session,
            event=LogEvent.CSAT_RECEIVED,
            at=self.now,
            actor=CUSTOMER,
            case_id=case.id,
            channel=self.message.channel,
            message_id=self.message.id,
            detail={"score": score},
        )
        if score <= self.core.config.confirmation.csat.low_score:
            self.alert(case, AlertKind.LOW_CSAT, score=score)

    def opt(self, out: bool) -> None:
        self._do(lambda: self._opt(out))

    def _opt(self, out: bool) -> None:
        channel = self.message.channel
        changed = change_opt_out(
            self.session,
            self.contact,
            channel,
            out=out,
            now=self.now,
            actor=CUSTOMER,
            message_id=self.message.id,
        )
        if not changed:
            return
        if provider_answers_keywords(channel, self.core.config):
            return
        self._reply("opted_out" if out else "opted_in", out, {})

    def flag_unclear(self, case: Case) -> None:
        self._do(lambda: self.alert(case, AlertKind.UNCLEAR_REPLY))
