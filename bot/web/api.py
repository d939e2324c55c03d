"""REST API `/api/v1` for CRM webhooks and scripts: JSON in and out, bearer token,
errors as `{"error": {"code", "message", "field"}}`, never a stack trace."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core import Core
from bot.domain import CaseStatus, agent
from bot.durations import parse_when
from bot.engine import actions
from bot.engine.summary import summarize
from bot.errors import InvalidInput, MalformedBody, Unauthorized, UnsupportedMediaType
from bot.ledger.chain import entry_record
from bot.ops.notes_search import search_notes
from bot.store.models import MAX_ID, Case, LogEntry, Message
from bot.store.records import case_record, iso, message_record, note_record
from bot.web.inputs import moment, out_of_range, whole_number

api = Blueprint("api", __name__)
Model = TypeVar("Model", bound=BaseModel)
LIST_FILTERS = (*(s.value for s in CaseStatus), "reopened")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    actor: str | None = Field(default=None, max_length=32)  # the agent's Slack id, if any


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    slack_user_id: str | None = Field(default=None, max_length=32)
    channel: str | None = None
    timezone: str | None = None
    locale: str | None = Field(default=None, max_length=16)


class CaseIn(Body):
    subject: str = Field(min_length=1, max_length=300)
    priority: str = "P3"
    category: str | None = Field(default=None, max_length=64)
    ref: str | None = Field(default=None, max_length=64)
    assignee: str | None = Field(default=None, max_length=32)
    eta: str | None = Field(default=None, max_length=64)  # ISO 8601 or a duration
    contact: ContactIn


class UpdateIn(Body):
    text: str = Field(min_length=1, max_length=1600)


class WaitIn(Body):
    reason: str
    eta: str | None = Field(default=None, max_length=64)  # ISO 8601 or a duration


class ResolveIn(Body):
    resolution: str = Field(min_length=1, max_length=1000)


class NoteIn(Body):
    kind: str = "interaction"
    text: str = Field(min_length=1, max_length=10_000)
    tags: list[str] = Field(default_factory=list, max_length=20)


def core() -> Core:
    found: Core = current_app.extensions["keepposted"]
    return found


def parse(model: type[Model]) -> Model:
    """The JSON body as `model`: 415 when it is not sent as JSON, 400 when it is not valid
    JSON, 422 naming the field when it is JSON but not a valid `model`."""
    if request.content_length and not request.is_json:
        raise UnsupportedMediaType("send the body as JSON, with Content-Type: application/json")
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # json gives up on deep nesting with this, not a ValueError
        raise MalformedBody("the body is not valid JSON: it is nested too deeply") from None
    if request.content_length and data is None:
        raise MalformedBody("the body is not valid JSON")
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidInput(f"{field}: {message}" if field else message, field=field) from None


def _when(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        when = parse_when(value, core().clock.now(), core().config.timezone)
    except ValueError as exc:
        raise InvalidInput(str(exc), field=field) from None
    except OverflowError:  # a valid ISO time near year 1 or 9999 cannot be moved to UTC
        raise out_of_range(field, value) from None
    return moment(when, field)


def actor_of(body: Body) -> str:
    return agent(body.actor or "api")


def _record(case: Case) -> dict[str, Any]:
    links = core().links
    return case_record(case, links.url(case) if links else None, now=core().clock.now())


@api.before_request
def require_token() -> None:
    expected = core().settings.api_token
    if not expected:
        raise Unauthorized("the API is closed: set API_TOKEN on the server to open it")
    given = request.headers.get("Authorization", "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized("send the API token as `Authorization: Bearer <API_TOKEN>`")


@api.post("/cases")
def create_case() -> tuple[Response, int]:
    body = parse(CaseIn)
    with core().sessions.begin() as session:
        case = actions.open_case(
            session,
            core(),
            subject=body.subject,
            priority=body.priority,
            category=body.category,
            ref=body.ref,
            assignee=body.assignee,
            eta=_when(body.eta, "eta"),
            contact=body.contact.model_dump(exclude_none=True),
            actor=actor_of(body),
            now=core().clock.now(),
        )
        return jsonify(_record(case)), 201


@api.get("/cases")
def list_cases() -> Response:
    status = request.args.get("status")
    limit = whole_number("limit", 100, 1, 1000)
    offset = whole_number("offset", 0, 0, 10**9)
    query = select(Case).order_by(Case.id.desc()).limit(limit).offset(offset)
    if status == "reopened":
        query = query.where(Case.reopen_count > 0, Case.status != CaseStatus.CLOSED)
    elif status:
        if status not in LIST_FILTERS:
            raise InvalidInput(f"status must be one of {', '.join(LIST_FILTERS)}", field="status")
        query = query.where(Case.status == status)
    with core().sessions() as session:
        return jsonify({"cases": [_record(c) for c in session.scalars(query)]})


@api.get("/cases/<int:case_id>")
def show_case(case_id: int) -> Response:
    with core().sessions() as session:
        return jsonify(_record(actions.get_case(session, case_id)))


@api.get("/cases/<int:case_id>/messages")
def case_messages(case_id: int) -> Response:
    with core().sessions() as session:
        actions.get_case(session, case_id)
        rows = session.scalars(
            select(Message).where(Message.case_id == case_id).order_by(Message.at, Message.id)
        )
        return jsonify({"messages": [message_record(m) for m in rows]})


@api.get("/cases/<int:case_id>/log")
def case_log(case_id: int) -> Response:
    with core().sessions() as session:
        actions.get_case(session, case_id)
        rows = session.scalars(
            select(LogEntry).where(LogEntry.case_id == case_id).order_by(LogEntry.seq)
        )
        return jsonify({"entries": [entry_record(e) for e in rows]})


@api.get("/cases/<int:case_id>/summary")
def case_summary(case_id: int) -> Response:
    """The case's story in two to five sentences, with its key times (as `/case summary`)."""
    with core().sessions() as session:
        case = actions.get_case(session, case_id)
        told = summarize(session, case, core().config.timezone, core().templates)
        key_times = [{"label": label, "at": iso(at)} for label, at in told.key_times]
        return jsonify({"summary": told.text, "sentences": told.sentences, "key_times": key_times})


@api.get("/notes")
def find_notes() -> Response:
    """Search notes by words (`q`), `tag`, `kind` and `case`; the search is audited."""
    args = request.args
    limit = whole_number("limit", 50, 1, 200)
    case_id = whole_number("case", 0, 1, MAX_ID) or None
    actor = args.get("actor", "")
    if len(actor) > 32:
        raise InvalidInput("actor must be a Slack user id (at most 32 characters)", field="actor")
    q, tag, kind = (args.get(name) or None for name in ("q", "tag", "kind"))
    with core().sessions.begin() as session:
        if case_id is not None:
            actions.get_case(session, case_id)  # 404 for a case that does not exist
        hits = search_notes(session, text=q, tag=tag, kind=kind, case_id=case_id, limit=limit)
        actions.audit(
            session,
            actor=agent(actor or "api"),
            action="notes_searched",
            case_id=case_id,
            at=core().clock.now(),
            q=q,
            tag=tag,
            kind=kind,
            note_ids=[hit.note.id for hit in hits],
        )
        notes = [note_record(hit.note) | {"snippet": hit.snippet} for hit in hits]
    return jsonify({"notes": notes})


def _act(
    case_id: int, model: type[Model], act: Callable[[Session, Case, Model, datetime], Any]
) -> tuple[Response, int]:
    """Parse the body, lock the case, act on it, and answer with the case as it now is."""
    body = parse(model)
    with core().sessions.begin() as session:
        case = actions.get_case(session, case_id, lock=True)
        result = act(session, case, body, core().clock.now())
        if result is not None:
            return jsonify(result), 201
        return jsonify(_record(case)), 200


@api.post("/cases/<int:case_id>/updates")
def send_update(case_id: int) -> tuple[Response, int]:
    def act(session: Session, case: Case, body: UpdateIn, now: datetime) -> None:
        actions.send_update(session, core(), case, text=body.text, actor=actor_of(body), now=now)

    return _act(case_id, UpdateIn, act)


@api.post("/cases/<int:case_id>/wait")
def wait(case_id: int) -> tuple[Response, int]:
    return _act(
        case_id,
        WaitIn,
        lambda s, c, b, now: actions.put_waiting(
            s, core(), c, reason=b.reason, eta=_when(b.eta, "eta"), actor=actor_of(b), now=now
        ),
    )


@api.post("/cases/<int:case_id>/resolve")
def resolve(case_id: int) -> tuple[Response, int]:
    return _act(
        case_id,
        ResolveIn,
        lambda s, c, b, now: actions.resolve(
            s, core(), c, resolution=b.resolution, actor=actor_of(b), now=now
        ),
    )


@api.post("/cases/<int:case_id>/close")
def close(case_id: int) -> tuple[Response, int]:
    return _act(
        case_id, Body, lambda s, c, b, now: actions.close(s, core(), c, actor=actor_of(b), now=now)
    )


@api.post("/cases/<int:case_id>/reopen")
def reopen(case_id: int) -> tuple[Response, int]:
    return _act(
        case_id, Body, lambda s, c, b, now: actions.reopen(s, core(), c, actor=actor_of(b), now=now)
    )


@api.post("/cases/<int:case_id>/webchat/revoke")
def revoke_webchat(case_id: int) -> tuple[Response, int]:
    """Every web chat link handed out for the case stops working; the answer carries a new one."""
    return _act(
        case_id,
        Body,
        lambda s, c, b, now: actions.revoke_webchat_links(s, c, actor=actor_of(b), now=now),
    )


@api.post("/cases/<int:case_id>/notes")
def add_note(case_id: int) -> tuple[Response, int]:
    return _act(
        case_id,
        NoteIn,
        lambda s, c, b, now: note_record(
            actions.add_note(
                s, c, kind=b.kind, text=b.text, tags=b.tags, author=actor_of(b), now=now
            )
        ),
    )
