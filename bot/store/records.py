"""How cases, messages and notes look in JSON (the REST API) and on the command line."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.store.models import Case, Contact, Message, Note
from flows.promise import promise_of


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def contact_record(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "name": contact.name,
        "phone": contact.phone,
        "slack_user_id": contact.slack_user_id,
        "channel": contact.channel,
        "timezone": contact.timezone,
        "timezone_inferred": contact.timezone_inferred,  # read from the number, not given
        "locale": contact.locale,
        "locale_inferred": contact.locale_inferred,  # read from the number or their words
        "opted_out": contact.opted_out,
    }


def case_record(case: Case, webchat_url: str | None = None, *, now: datetime) -> dict[str, Any]:
    """A case as JSON; `webchat_url` is its signed chat link (None when links are off).

    `eta` and `resolution` are what the customer is promised at `now` (flows/promise.py), as
    every message states them: a passed ETA is null with `eta_missed` true, a reopened case has
    no resolution, a closed one no ETA."""
    promise = promise_of(case, now)
    return {
        "id": case.id,
        "label": case.label,
        "ref": case.ref,
        "subject": case.subject,
        "category": case.category,
        "priority": case.priority,
        "status": str(case.status),
        "waiting_reason": case.waiting_reason,
        "paused": case.paused,
        "assignee": case.assignee,
        "eta": iso(promise.eta),
        "eta_missed": promise.eta_missed,
        "next_update_at": iso(case.next_update_at),
        "resolution": promise.resolution,
        "resolved_at": iso(case.resolved_at),
        "confirmation_requested_at": iso(case.confirmation_requested_at),
        "closed_at": iso(case.closed_at),
        "close_reason": case.close_reason,
        "reopen_count": case.reopen_count,
        "csat_score": case.csat_score,
        "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
        "contact": contact_record(case.contact),
        "webchat_url": webchat_url,
    }


def message_record(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "at": iso(message.at),
        "direction": str(message.direction),
        "channel": message.channel,
        "body": message.body,
        "status": str(message.status),
        "provider_id": message.provider_id,
        "intent": message.intent,
        "error_code": message.error_code,
        "template": message.template,
    }


def note_record(note: Note) -> dict[str, Any]:
    return {
        "id": note.id,
        "case_id": note.case_id,
        "kind": note.kind,
        "text": note.text,
        "tags": note.tags,
        "author": note.author,
        "created_at": iso(note.created_at),
        "updated_at": iso(note.updated_at),
    }
