"""The words of the domain, as string enums stored in SQL (SPEC §2)."""

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


PRIORITIES = ("P1", "P2", "P3", "P4")
CUSTOMER = "customer"
SYSTEM = "system"


def agent(user_id: str) -> str:
    """The log's actor string for an agent: `agent:<slack id>`."""
    return f"agent:{user_id}"
