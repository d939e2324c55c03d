"""The words of the domain, as string enums stored in SQL."""

from __future__ import annotations

from enum import StrEnum


class CaseStatus(StrEnum):
    OPEN = "open"
    WAITING = "waiting"
    RESOLVED = "resolved"  # proposed as fixed, awaiting the customer's word
    CLOSED = "closed"


class CloseReason(StrEnum):
    CONFIRMED = "confirmed"
    AUTO_CLOSED = "auto_closed"
    AGENT = "agent"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class MessageStatus(StrEnum):
    RECEIVED = "received"
    QUEUED = "queued"
    SENT = "sent"
    SIMULATED = "simulated"  # dry-run channel: stored and printed, not sent
    DELIVERED = "delivered"
    READ = "read"
    UNDELIVERED = "undelivered"  # the carrier could not deliver it
    FAILED = "failed"
    SKIPPED = "skipped"  # not sent on purpose, e.g. the contact opted out meanwhile


class OutboxKind(StrEnum):
    """What an outbound message is for; decides its log event and what a crash mid-send does."""

    INTERIM = "interim"
    DELAY_NOTICE = "delay_notice"
    CONFIRM_REQUEST = "confirm_request"
    REMINDER = "reminder"
    REPLY = "reply"
    ALERT = "alert"
    CLOSING_NOTICE = "closing_notice"  # the case closed without the customer's YES


# Messages the system sends on its own (not answers to the customer): they wait out quiet
# hours and are logged as sent or failed.
PROACTIVE = frozenset(
    {
        OutboxKind.INTERIM,
        OutboxKind.DELAY_NOTICE,
        OutboxKind.CONFIRM_REQUEST,
        OutboxKind.REMINDER,
        OutboxKind.CLOSING_NOTICE,
    }
)
# Messages a customer must never get twice: when in doubt whether one went out, it is not resent.
AT_MOST_ONCE = frozenset({OutboxKind.INTERIM, OutboxKind.DELAY_NOTICE, OutboxKind.CLOSING_NOTICE})


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class LogEvent(StrEnum):
    CASE_OPENED = "case_opened"
    INTERIM_SENT = "interim_sent"
    INTERIM_FAILED = "interim_failed"
    DELAY_NOTICE_SENT = "delay_notice_sent"
    RESOLUTION_PROPOSED = "resolution_proposed"
    CONFIRMATION_REQUESTED = "confirmation_requested"
    REMINDER_SENT = "reminder_sent"
    CONFIRMED = "confirmed"
    REOPEN_REQUESTED = "reopen_requested"
    REOPENED = "reopened"
    AUTO_CLOSED = "auto_closed"
    CLOSED = "closed"
    CSAT_RECEIVED = "csat_received"
    CUSTOMER_MESSAGE = "customer_message"
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"


class AddressProblem(StrEnum):
    """What a provider's error says about an address: never send there again."""

    OPTED_OUT = "opted_out"  # the person unsubscribed (Twilio 21610)
    UNREACHABLE = "unreachable"  # the number cannot get messages (landline, unknown number)


class NoteKind(StrEnum):
    INTERACTION = "interaction"
    ESCALATION = "escalation"
    FOLLOW_UP = "follow_up"
    RESOLUTION = "resolution"
    SUPERVISOR = "supervisor"
    TECHNICAL = "technical"
    SENTIMENT = "sentiment"


class AlertKind(StrEnum):
    REOPEN = "reopen"
    LOW_CSAT = "low_csat"
    DELIVERY_FAILED = "delivery_failed"
    ETA_MISSED = "eta_missed"
    UNCLEAR_REPLY = "unclear_reply"
    NEGATIVE_MESSAGE = "negative_message"


PRIORITIES = ("P1", "P2", "P3", "P4")
CUSTOMER = "customer"
SYSTEM = "system"


def agent(user_id: str) -> str:
    """The log's actor string for an agent: `agent:<slack id>`."""
    return f"agent:{user_id}"
