"""SQLAlchemy 2.0 models: the database is the one source of truth."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy import (
    Enum as SAEnum,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.domain import CaseStatus, Direction, MessageStatus, OutboxKind, OutboxStatus
from bot.outbox.priority import urgency_of
from channels.catalog import ChannelName


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC without a zone (portable across SQLite and PostgreSQL), returns aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC time")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def stored_enum(enum: type[StrEnum], length: int = 16) -> SAEnum:
    """A string enum stored as its value in a VARCHAR, read back as the enum member."""
    return SAEnum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
    )


MAX_ID = 2**63 - 1  # the largest id a 64-bit integer column holds, in SQLite and PostgreSQL


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)  # E.164
    slack_user_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    channel: Mapped[str] = mapped_column(String(16), default=ChannelName.SMS)  # preferred channel
    timezone: Mapped[str | None] = mapped_column(String(64))
    # True when `timezone` was read from the phone number rather than given by the API, CSV or
    # Slack: a later number re-infers it, a given zone replaces it for good.
    timezone_inferred: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The locale was read from the number's country or the customer's words, not given.
    locale_inferred: Mapped[bool] = mapped_column(default=False, server_default=false())
    locale: Mapped[str | None] = mapped_column(String(16))
    opted_out: Mapped[list[str]] = mapped_column(default=list)  # channels the contact left
    # Channels whose address the provider says can never be delivered to (e.g. a landline).
    unreachable: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime]

    cases: Mapped[list[Case]] = relationship(back_populates="contact")


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_next_update_at", "next_update_at"),
        Index("ix_cases_confirm_due_at", "confirm_due_at"),
        Index("ix_cases_eta_check", "status", "eta"),
        Index("ix_cases_contact_status", "contact_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(String(300))
    category: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(2), default="P3")
    status: Mapped[CaseStatus] = mapped_column(stored_enum(CaseStatus), default=CaseStatus.OPEN)
    waiting_reason: Mapped[str | None] = mapped_column(String(64))
    paused: Mapped[bool] = mapped_column(default=False)
    assignee: Mapped[str | None] = mapped_column(String(32))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    eta: Mapped[datetime | None]
    eta_missed_at: Mapped[datetime | None]
    cadence_every_s: Mapped[int | None]  # per-case override set with /case cadence
    next_update_at: Mapped[datetime | None]  # due column of the interim-update flow
    confirm_due_at: Mapped[datetime | None]  # due column of reminder and auto-close
    latest_update: Mapped[str | None] = mapped_column(Text)  # the agent's last words to them
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
    confirmation_requested_at: Mapped[datetime | None]
    reminder_sent_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(String(16))
    reopen_count: Mapped[int] = mapped_column(default=0)
    csat_requested_at: Mapped[datetime | None]
    csat_score: Mapped[int | None]
    clarified_in: Mapped[str | None] = mapped_column(String(16))  # status of last clarification
    # Web chat links carry this number; bumping it revokes every link handed out before.
    webchat_link_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    contact: Mapped[Contact] = relationship(back_populates="cases")

    @property
    def label(self) -> str:
        return f"#{self.id}"


class Message(Base):
    """Every inbound and outbound exchange; inbound text is never dropped."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "provider_id", name="uq_messages_channel_provider_id"),
        Index("ix_messages_case_id", "case_id"),
        Index("ix_messages_address", "channel", "address"),
        Index("ix_messages_unhandled", "direction", "handled_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[Direction] = mapped_column(stored_enum(Direction, 3))
    address: Mapped[str | None] = mapped_column(String(64))  # phone, Slack id, chat id
    body: Mapped[str] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[MessageStatus] = mapped_column(stored_enum(MessageStatus))
    error_code: Mapped[str | None] = mapped_column(String(32))
    intent: Mapped[str | None] = mapped_column(String(16))
    template: Mapped[str | None] = mapped_column(String(64))
    media_count: Mapped[int] = mapped_column(default=0)
    media_urls: Mapped[list[str] | None] = mapped_column(JSON)  # MMS pictures the customer sent
    sentiment: Mapped[float | None] = mapped_column(Float)  # VADER's score, -1 to +1
    at: Mapped[datetime]
    # Inbound only: when the flows read and answered it. A webhook stores the message and
    # answers the provider at once; the worker reads it (see bot/engine/inbound.py).
    handled_at: Mapped[datetime | None]

    contact: Mapped[Contact | None] = relationship()


def _priority_from_kind(context: Any) -> int:
    """A row queued without its class (an alert) gets its kind's (bot/outbox/priority.py)."""
    return int(urgency_of(context.get_current_parameters()["kind"]))


class Outbox(Base):
    """Messages waiting to be handed to a channel; written in the transaction that wants them."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "not_before"),
        # The sender's claim: the most urgent class first, oldest due first within it.
        Index("ix_outbox_claim", "status", "priority", "not_before", "id"),
        Index("ix_outbox_message_id", "message_id"),  # the chat page's join (webchat_view)
        # A case's unsent updates, dropped when they go stale (bot/outbox/stale.py); without
        # it that look read every interim row ever sent.
        Index("ix_outbox_case_status", "case_id", "status"),
        Index("ix_outbox_kind_sent_at", "kind", "sent_at"),  # interim updates on time (report)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Customer messages point at their Message row; alerts to the team have none.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[OutboxKind] = mapped_column(stored_enum(OutboxKind))
    # Who goes first at a sender's limit: its kind's class, 0 (a customer's answer) to 4.
    priority: Mapped[int] = mapped_column(default=_priority_from_kind, server_default="4")
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    # Slack's Block Kit layout (buttons and all) sent beside `body`, which stays the plain text.
    blocks: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # The one message a contact who opted out may still get: the opt-out confirmation.
    to_opted_out: Mapped[bool] = mapped_column(default=False)
    status: Mapped[OutboxStatus] = mapped_column(
        stored_enum(OutboxStatus), default=OutboxStatus.PENDING
    )
    not_before: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    # Set just before this attempt goes to the provider: a lease that runs out with it set may
    # have reached the customer; one without it never left (bot/outbox.recover_expired_leases).
    handed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    # When the message was due: an interim update's cadence time, else when it was queued.
    # sent_at - due_at is how late it went out (README, Running at scale).
    due_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    # What the provider called the message once sent (Slack's "channel:ts" for an alert), so a
    # later row can edit it; customer messages keep theirs on messages.provider_id.
    provider_id: Mapped[str | None] = mapped_column(String(64))
    # Set on a row that edits the message another row posted (a coalesced alert's chat.update)
    # rather than posting its own.
    updates_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"), index=True)

    message: Mapped[Message | None] = relationship()
    case: Mapped[Case | None] = relationship()


class AlertBurst(Base):
    """The alert a case's latest customer messages are gathered in: one row per case, for the
    current burst. A message within alerts.coalesce_window of `last_at` edits the alert `outbox`
    posted instead of raising another (bot/engine/alerts.py)."""

    __tablename__ = "alert_bursts"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))  # the row that posts it
    started_at: Mapped[datetime]
    last_at: Mapped[datetime]  # when it was raised or last updated
    messages: Mapped[int] = mapped_column(default=1)  # customer messages it covers
    kinds: Mapped[list[str]] = mapped_column(default=list)  # AlertKinds, first seen first
    # The most negative sentiment score among them at or below sentiment.alert_below, if any.
    worst_upset: Mapped[float | None] = mapped_column(Float)

    outbox: Mapped[Outbox] = relationship(foreign_keys=[outbox_id])


class Note(Base):
    """Internal only: never rendered to any customer channel."""

    __tablename__ = "notes"
    # Newest first, so a search by tag or kind alone stops at its limit (notes_search).
    __table_args__ = (Index("ix_notes_created_at_id", "created_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(default=list)
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class NoteRevision(Base):
    """The text a note had before each edit, so edits keep their history."""

    __tablename__ = "note_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("notes.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(default=list)
    edited_by: Mapped[str] = mapped_column(String(64))
    edited_at: Mapped[datetime]


class SendSlot(Base):
    """The next free moment (Unix seconds) for one sender, shared by every worker process so
    that together they hold it to its messages per second (channels/pacing.SharedPacer)."""

    __tablename__ = "send_slots"

    sender: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_free: Mapped[float] = mapped_column(Float)


class SlackRequestSeen(Base):
    """A signed Slack request already taken, by its X-Slack-Signature: the same bytes sent again
    while their timestamp still passes the five-minute check are a replay, and do nothing
    (bot/web/slack.py). Rows past that window can match nothing Slack's check lets in, and are
    deleted as new ones come in."""

    __tablename__ = "slack_requests_seen"
    __table_args__ = (Index("ix_slack_requests_seen_seen_at", "seen_at"),)

    signature: Mapped[str] = mapped_column(String(80), primary_key=True)  # v0=<64 hex digits>
    seen_at: Mapped[datetime]


class LogChain(Base):
    """Head of one hash chain of the log. One chain per case (or per contact for events with no
    case), so writers lock only their own chain, never the whole log."""

    __tablename__ = "log_chains"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    length: Mapped[int] = mapped_column(default=0)
    head_hash: Mapped[str] = mapped_column(String(64))


class LogEntry(Base):
    """The resolution-confirmation log: append-only, each entry hashed over its predecessor."""

    __tablename__ = "log_entries"
    __table_args__ = (
        UniqueConstraint("chain", "chain_seq", name="uq_log_entries_chain_seq"),
        Index("ix_log_entries_case_id", "case_id"),
        Index("ix_log_entries_event_at", "event", "at"),  # the report's counts per day
        Index("ix_log_entries_case_event_seq", "case_id", "event", "seq"),  # time to confirm
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain: Mapped[str] = mapped_column(String(32))
    chain_seq: Mapped[int]
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    at: Mapped[datetime]
    event: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(16))
    message_id: Mapped[int | None]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditEvent(Base):
    """Who added, edited or viewed notes, who exported the log, who changed a case."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
