"""`POST /slack/events`: one endpoint for Slack's slash commands, button clicks, modal
submissions and events, served by a bolt App.

Before bolt sees a request, `SlackEndpoint` checks X-Slack-Signature with SLACK_SIGNING_SECRET
(slack_sdk's SignatureVerifier, with a numeric timestamp no more than five minutes off): 401
and nothing read, parsed, stored or logged from the body otherwise. A signed body bolt cannot
read (not JSON, not an object, parts that are not the types Slack sends) gets 400. A command or
an interaction whose signature was already seen is a replay: 200 with an empty body, so Slack
shows nothing and nothing is done twice (`slack_requests_seen`). Events skip that store: Slack
retries them (X-Slack-Retry-Num), and a message is kept once per conversation and `ts`.

Every listener runs before the answer goes back (`process_before_response`): its work is a
database change committed before Slack hears "ok", so nothing is left running in a thread that
a restart would lose. Messages to customers only go into the outbox; the few calls made here
(opening a modal, a note in an alert's thread, taking the buttons off an answered DM) are for
the person who clicked. A KeeppostedError in a listener answers with its status and JSON.

What people read here is templated: templates/agents/alert_action.txt.j2 (what was done about an
alert) and case_modal.json.j2, templates/slack/answer.txt.j2 and answered.txt.j2 (a customer's
tapped answer).

bolt writes whole request bodies into some of its log lines; its loggers keep them out above
DEBUG (`WithoutRequestBodies`).
"""

from __future__ import annotations

import functools
import json
import logging
import re
import traceback
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, ParamSpec
from urllib.parse import parse_qsl

from flask import Blueprint, Flask, Request, Response, current_app, request
from slack_bolt import Ack, App, BoltRequest, BoltResponse
from slack_bolt.adapter.flask.handler import to_bolt_request, to_flask_response
from slack_bolt.context.context import BoltContext
from slack_bolt.request.internals import (
    build_context,
    parse_body,  # bolt's own: both read a body alike
)
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Table, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.agents.args import too_long, untypable
from bot.agents.commands import role_of, run_command
from bot.clock import SystemClock
from bot.core import Core
from bot.domain import agent
from bot.engine import actions
from bot.engine.inbound import answer_or_keep, check_inbound
from bot.errors import (
    InvalidInput,
    KeeppostedError,
    MalformedBody,
    NotConfigured,
    Unauthorized,
)
from bot.store.db import unreachable
from bot.store.models import MAX_ID, SlackRequestSeen
from channels.catalog import ChannelName
from channels.slack import SlackInbound, is_set, user_of
from flows.intents import Intent

slack_routes = Blueprint(ChannelName.SLACK, __name__)
logger = logging.getLogger(__name__)
EXTENSION = "keepposted.slack"
BOLT_LOGGER = "keepposted.slack.bolt"
TEXT_LIMIT = 1600  # an update or resolution: what one SMS thread can carry
CASE_NUMBER = re.compile(r"[0-9]{1,19}")
SCORES = frozenset("12345")
# Events API bodies: Slack retries these itself and they are deduplicated by what they carry.
EVENTS_API = ("event_callback", "url_verification", "app_rate_limited")
# Slack lets a request in while its timestamp is within five minutes of now, either way, so the
# same signature can pass again for up to ten minutes after it was first seen.
REPLAY_WINDOW = timedelta(minutes=5)
KEPT_FOR = 2 * REPLAY_WINDOW
# Slack's timestamps are wall-clock time; the replay store keeps to it, whatever core.clock says.
WALL_CLOCK = SystemClock()
# What bolt raises when a part of a signed body is not the type Slack sends (it reads
# `body["event"]["type"]`, `body["actions"][0]`, ...). Anything else is a fault of ours: a 500.
UNREADABLE = (KeyError, IndexError, TypeError, AttributeError, ValueError, RecursionError)

# How a log line of bolt's, or a traceback, says that a part was left out.
LEFT_OUT = " (the rest is left out: it may quote the request)"
WITHOUT_MESSAGE = "Traceback (most recent call last):\n%s%s (its message is left out)"

# True once one of our listeners has started: a failure before that is bolt failing to read
# the request (400), a failure after it is ours.
_LISTENING: ContextVar[bool] = ContextVar("keepposted_slack_listening", default=False)
Arguments = ParamSpec("Arguments")


@slack_routes.post("/slack/events")
def events() -> Response:
    endpoint: SlackEndpoint | None = current_app.extensions.get(EXTENSION)
    if endpoint is None:
        raise NotConfigured(
            "Slack is not set up here: set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN "
            "(see README, Slack)"
        )
    return endpoint.handle(request)


def register_slack(flask_app: Flask, core: Core) -> None:
    """Mount the bolt App when Slack's credentials are set; without them the endpoint says so."""
    channel = core.channels.inbound(ChannelName.SLACK, SlackInbound)
    settings = core.settings
    if not (is_set(settings.slack_signing_secret) and is_set(settings.slack_bot_token)):
        return
    if channel is None or channel.client is None:
        return
    bolt = App(
        signing_secret=settings.slack_signing_secret,
        client=channel.client,  # carries SLACK_BOT_TOKEN and SLACK_API_URL
        process_before_response=True,
        # No call to Slack while the app starts; bolt asks auth.test on the first request.
        token_verification_enabled=False,
        # SlackEndpoint has checked the signature before bolt sees the request.
        request_verification_enabled=False,
        logger=logging.getLogger(BOLT_LOGGER),
    )
    SlackListeners(core, channel).attach(bolt)
    bolt.error(on_bolt_error)
    _filter_bolt_loggers()
    flask_app.extensions[EXTENSION] = SlackEndpoint(core, channel, bolt)


class SlackEndpoint:
    """What is checked before bolt reads a request, then bolt's dispatch."""

    def __init__(self, core: Core, channel: SlackInbound, bolt: App) -> None:
        self.core, self.channel, self.bolt = core, channel, bolt

    def handle(self, req: Request) -> Response:
        if not self.channel.verify(req):
            # Nothing of the body is parsed or logged: it may come from anyone.
            logger.warning("refused a Slack request: X-Slack-Signature missing, stale or wrong")
            raise Unauthorized("X-Slack-Signature is missing, stale or does not match the body")
        readable = bolt_request(req)
        if readable.body.get("type") not in EVENTS_API and not first_sighting(
            self.core, req.headers["X-Slack-Signature"]
        ):
            # Slack never sends a request twice; a copy is someone replaying it. An empty 200
            # shows nothing in Slack and does nothing here.
            logger.warning("ignored a replayed Slack request: its signature was seen before")
            return Response(status=200)
        retry = req.headers.get("X-Slack-Retry-Num")
        if retry:
            reason = req.headers.get("X-Slack-Retry-Reason")
            logger.info("Slack retry %.8s (%.40s)", retry, reason)
        token = _LISTENING.set(False)
        try:
            answer = self.bolt.dispatch(readable)
        except UNREADABLE:
            if _LISTENING.get():
                raise
            # bolt indexes into the body again while it answers (`body["actions"][0]`, even for
            # its error handler's arguments), so a part that is not Slack's type escapes it.
            logger.warning("bolt could not read a signed Slack request")
            raise MalformedBody("the body is not shaped like a Slack request") from None
        finally:
            _LISTENING.reset(token)
        return to_flask_response(answer)


def bolt_request(req: Request) -> BoltRequest:
    """The verified request as bolt reads it (its own parse_body: JSON, a form, or a form with a
    JSON `payload`), or MalformedBody where bolt would raise on it."""
    content_type = (req.headers.get("Content-Type") or "").split(";")[0] or None
    try:
        body: object = parse_body(req.get_data(as_text=True), content_type)
    except (ValueError, RecursionError):  # broken JSON, or nested deeper than the parser goes
        raise MalformedBody("the body is neither the JSON nor the form Slack sends") from None
    if not isinstance(body, dict):
        raise MalformedBody("the body is not a JSON object")
    try:
        readable = to_bolt_request(req)  # reads the team, user and channel ids out of the body
    except UNREADABLE:
        raise MalformedBody("the body's team, user or channel is not shaped like Slack's") from None
    if not readable.body and content_type == "application/x-www-form-urlencoded":
        # bolt reads any form holding the word "payload" as an interaction and, finding no
        # `payload` field, as nothing: `/case update 12 payload delivered` would be lost.
        form = dict(parse_qsl(req.get_data(as_text=True), keep_blank_values=True))
        if form and "payload" not in form:
            readable.body = form
            readable.context = build_context(BoltContext({}), form)
    return readable


def first_sighting(core: Core, signature: str) -> bool:
    """Record a verified request's signature; False when it was already recorded (a replay).
    The insert-or-ignore on the key decides, so of many concurrent copies one goes through."""
    now = WALL_CLOCK.now()
    table = SlackRequestSeen.__table__
    assert isinstance(table, Table)
    insert = pg_insert if core.engine.dialect.name == "postgresql" else sqlite_insert
    with core.engine.begin() as connection:
        connection.execute(delete(table).where(table.c.seen_at < now - KEPT_FOR))
        recorded = connection.execute(
            insert(table)
            .values(signature=signature, seen_at=now)
            .on_conflict_do_nothing(index_elements=["signature"])
            .returning(table.c.signature)
        ).scalar()
    return recorded is not None


def on_bolt_error(error: Exception) -> BoltResponse:
    """What bolt answers when a listener or its own reading of the request raises."""
    if isinstance(error, KeeppostedError):
        return _error_response(error.http_status, error.code, error.message, error.field)
    if unreachable(error):  # a database restart or failover: Slack may try again (bot/app.py)
        logger.warning("database unreachable: answered Slack 503 (%s)", type(error).__name__)
        return _error_response(503, "unavailable", "the database is unavailable; retry", None)
    if not _LISTENING.get() and isinstance(error, UNREADABLE):
        logger.warning("bolt could not read a signed Slack request (%s)", type(error).__name__)
        problem = MalformedBody("the body is not shaped like a Slack request")
        return _error_response(problem.http_status, problem.code, problem.message, None)
    logger.error("a Slack listener failed:\n%s", _without_message(error))
    return _error_response(500, "internal_error", "something went wrong on our side", None)


def _error_response(status: int, code: str, message: str, field: str | None) -> BoltResponse:
    return BoltResponse(
        status=status, body={"error": {"code": code, "message": message, "field": field}}
    )


def _without_message(error: BaseException) -> str:
    """Where an exception was raised, without what it says (it may quote the request)."""
    frames = "".join(traceback.format_tb(error.__traceback__))
    return WITHOUT_MESSAGE % (frames, type(error).__name__)


class WithoutRequestBodies(logging.Filter):
    """bolt writes whole request bodies into some lines above DEBUG (a request failing its
    signature check, one no listener takes) and error messages into tracebacks: customers'
    words. Above DEBUG a record of bolt's keeps the words before its first bracket, brace or
    colon, and a traceback keeps where it was raised but not what the exception said."""

    _PLAIN = re.compile(r"[\w .,'-]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO:
            return True
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format
            message = str(record.msg)
        found = self._PLAIN.match(message)
        kept = found.group().rstrip() if found else ""
        if kept != message:
            kept = (kept + LEFT_OUT).lstrip()
        record.msg, record.args = kept, ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text, record.exc_info = _without_message(record.exc_info[1]), None
        return True


WITHOUT_BODIES = WithoutRequestBodies()


def _filter_bolt_loggers() -> None:
    """Ours and the loggers bolt made from it (`slack_bolt.RequestVerification`, ...) while the
    App and its listeners were made; those it makes later copy ours, filter included."""
    for name, found in list(logging.root.manager.loggerDict.items()):
        is_bolt = name == BOLT_LOGGER or name.startswith("slack_bolt")
        if is_bolt and isinstance(found, logging.Logger) and WITHOUT_BODIES not in found.filters:
            found.addFilter(WITHOUT_BODIES)


def _listener(method: Callable[Arguments, None]) -> Callable[Arguments, None]:
    """Marks that our listener runs (bolt reads the arguments it wants from the wrapped one)."""

    @functools.wraps(method)
    def run(*args: Arguments.args, **kwargs: Arguments.kwargs) -> None:
        _LISTENING.set(True)
        method(*args, **kwargs)

    return run


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _case_number(value: Any, what: str) -> int:
    """A case id from a button's value or a modal's metadata: we wrote it, so anything else is
    not Slack's echo of it."""
    if isinstance(value, str) and CASE_NUMBER.fullmatch(value):
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID:
        return value
    raise MalformedBody("this is not a case number keepposted gave Slack", field=what)


def _modal_meta(view: Mapping[str, Any]) -> dict[str, Any]:
    """The case and alert a modal is about, from the private_metadata we gave it."""
    raw = view.get("private_metadata")
    try:
        meta = json.loads(raw) if isinstance(raw, str) else None
    except (ValueError, RecursionError):
        meta = None
    if not isinstance(meta, dict):
        raise MalformedBody(
            "the modal's private_metadata is not the one keepposted gave it",
            field="view.private_metadata",
        )
    return {
        "case": _case_number(meta.get("case"), "view.private_metadata"),
        "channel": _text_or_none(meta.get("channel")),
        "ts": _text_or_none(meta.get("ts")),
    }


def _typed(view: Mapping[str, Any]) -> str:
    """What the agent typed into the modal's one input."""
    found: Any = view.get("state")
    for key in ("values", "text", "text"):
        found = found.get(key) if isinstance(found, Mapping) else None
    value = found.get("value") if isinstance(found, Mapping) else None
    if not isinstance(value, str | None):
        raise MalformedBody("the modal's text input holds no text", field="view.state")
    return (value or "").strip()


def _event_id(body: Mapping[str, Any]) -> str:
    found = body.get("event_id")
    return found[:40] if isinstance(found, str) else "without an id"


class SlackListeners:
    def __init__(self, core: Core, channel: SlackInbound) -> None:
        self.core, self.channel = core, channel

    def attach(self, bolt: App) -> None:
        bolt.command("/case")(self.on_case_command)
        bolt.action("customer_confirm")(self.on_customer_answer)
        bolt.action("customer_reopen")(self.on_customer_answer)
        bolt.action(re.compile(r"^customer_rate_[1-5]$"))(self.on_customer_answer)
        bolt.action("alert_update")(self.on_alert_button)
        bolt.action("alert_resolve")(self.on_alert_button)
        bolt.action("alert_assign")(self.on_alert_button)
        bolt.view("case_update")(self.on_modal_submit)
        bolt.view("case_resolve")(self.on_modal_submit)
        bolt.event("message")(self.on_message)

    # -- agents -------------------------------------------------------------------------------

    @_listener
    def on_case_command(self, ack: Ack, command: dict[str, Any]) -> None:
        user, text = command.get("user_id", ""), command.get("text")
        if not (isinstance(user, str) and isinstance(text, str | None)):
            raise MalformedBody("a slash command's user_id and text are text")
        reply = run_command(self.core, user, text or "")
        ack(text=reply.text, blocks=reply.blocks, response_type="ephemeral")

    @_listener
    def on_alert_button(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        user = user_of(body)
        container = body.get("container")
        container = container if isinstance(container, Mapping) else {}
        where = {
            "channel": _text_or_none(container.get("channel_id")),
            "ts": _text_or_none(container.get("message_ts")),
        }
        case_id = _case_number(action.get("value"), "action.value")
        kind = action["action_id"]
        trigger = body.get("trigger_id")
        if kind != "alert_assign" and not isinstance(trigger, str):
            raise MalformedBody("a button that opens a modal comes with a trigger_id")
        ack()
        if role_of(self.core.config, user) is None:
            self._tell(client, where["channel"], user, self._say("not_agent"))
            return
        if kind == "alert_assign":
            try:
                with self.core.sessions.begin() as session:
                    case = actions.get_case(session, case_id, lock=True)
                    actions.assign(
                        session, case, assignee=user, actor=agent(user), now=self.core.clock.now()
                    )
                    note = self._say("assigned", user=user, case=case)
            except KeeppostedError as exc:
                self._tell(client, where["channel"], user, exc.message)
                return
            self._thread_note(client, where, note)
            return
        try:
            with self.core.sessions.begin() as session:
                case = actions.get_case(session, case_id)
                shown = {"label": case.label, "subject": case.subject}
        except KeeppostedError as exc:  # the case is gone
            self._tell(client, where["channel"], user, exc.message)
            return
        which = "update" if kind == "alert_update" else "resolve"
        view = self._modal(which, shown, {"case": case_id, **where})
        try:
            client.views_open(trigger_id=trigger, view=view)
        except SlackApiError as exc:  # e.g. the trigger expired: the click came too late
            logger.warning("could not open the %s modal: %s", which, exc.response.get("error"))

    @_listener
    def on_modal_submit(
        self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        user = user_of(body)
        meta = _modal_meta(view)
        text = _typed(view)
        if role_of(self.core.config, user) is None:
            ack(response_action="errors", errors={"text": self._say("not_agent")})
            return
        # Slack holds the input to max_length; a longer or untypable text was not typed there.
        # The agent sees why under the input, as for an empty one.
        problem = too_long(text, TEXT_LIMIT) or untypable(text)
        if problem:
            ack(response_action="errors", errors={"text": problem})
            return
        try:
            with self.core.sessions.begin() as session:
                case = actions.get_case(session, meta["case"], lock=True)
                now = self.core.clock.now()
                if view["callback_id"] == "case_update":
                    actions.send_update(
                        session, self.core, case, text=text, actor=agent(user), now=now
                    )
                    note = self._say("updated", user=user, case=case, text=text)
                else:
                    actions.resolve(
                        session, self.core, case, resolution=text, actor=agent(user), now=now
                    )
                    note = self._say("resolved", user=user, case=case, text=text)
        except (InvalidInput, KeeppostedError) as exc:
            ack(response_action="errors", errors={"text": exc.message})
            return
        ack()
        self._thread_note(client, meta, note)

    # -- customers ----------------------------------------------------------------------------

    @_listener
    def on_customer_answer(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        action_id = str(action["action_id"])
        value = action.get("value")
        if not isinstance(value, str | None):
            raise MalformedBody("the button's value is not text", field="action.value")
        case_text, _, score = (value or "").partition(":")
        if action_id == "customer_confirm":
            words, answer = self.core.keywords.answer_word(Intent.CONFIRM), "confirm"
        elif action_id == "customer_reopen":
            words, answer = self.core.keywords.answer_word(Intent.REOPEN), "reopen"
        else:
            words = answer = score if score in SCORES else action_id.rsplit("_", 1)[-1]
        case_id = int(case_text) if CASE_NUMBER.fullmatch(case_text) else None
        if case_id is not None and case_id > MAX_ID:
            case_id = None
        inbound = self.channel.button_answer(body, action, words, case_id)
        ack()
        answer_or_keep(self.core, inbound)
        self._show_answer(client, body, answer)

    @_listener
    def on_message(self, body: dict[str, Any]) -> None:
        try:
            inbound = self.channel.message_event(body)
            if inbound is None:
                return
            check_inbound(inbound)
        except KeeppostedError as exc:
            # No real DM is shaped like this. Answered 200 all the same: an error would only
            # make Slack send the same event three more times, and turn the events off if
            # most of them fail.
            logger.warning("ignored Slack event %s: %s", _event_id(body), exc.message)
            return
        answer_or_keep(self.core, inbound)

    def _show_answer(self, client: WebClient, body: dict[str, Any], answer: str) -> None:
        """Swap the buttons for the answer, so the question cannot be answered twice by a tap."""
        templates = self.core.templates
        message, container = body.get("message"), body.get("container")
        if not (isinstance(message, Mapping) and message and isinstance(container, Mapping)):
            return
        channel = _text_or_none(container.get("channel_id"))
        ts = _text_or_none(container.get("message_ts")) or _text_or_none(message.get("ts"))
        if not (channel and ts):
            return
        blocks = message.get("blocks")
        kept: list[dict[str, Any]] = [
            b
            for b in (blocks if isinstance(blocks, list) else [])
            if isinstance(b, dict) and b.get("type") != "actions"
        ]
        kept.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": templates.render(ChannelName.SLACK, "answered", {"answer": answer}),
                    }
                ],
            }
        )
        try:
            client.chat_update(
                channel=channel,
                ts=ts,
                text=_text_or_none(message.get("text"))
                or templates.render(ChannelName.SLACK, "answer", {"answer": answer}),
                blocks=kept,
            )
        except SlackApiError as exc:
            logger.warning("could not update the answered message: %s", exc.response.get("error"))

    # -- notes to the team ------------------------------------------------------------------

    def _say(self, done: str, **context: Any) -> str:
        return self.core.templates.render("agents", "alert_action", {"done": done, **context})

    def _modal(self, action: str, case: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
        """The update or resolve modal (templates/agents/case_modal.json.j2)."""
        context = {
            "action": action,
            "case": case,
            "meta": json.dumps(meta),
            "max_length": TEXT_LIMIT,
        }
        view: dict[str, Any] = json.loads(
            self.core.templates.env.get_template("agents/case_modal.json.j2").render(context)
        )
        return view

    def _tell(self, client: WebClient, channel: str | None, user: str, text: str) -> None:
        if not channel:
            return
        try:
            client.chat_postEphemeral(channel=channel, user=user, text=text)
        except SlackApiError as exc:
            logger.warning("could not tell %s: %s", user, exc.response.get("error"))

    def _thread_note(self, client: WebClient, where: Mapping[str, Any], text: str) -> None:
        """What was done about an alert, in its thread, for the rest of the team to see."""
        if not (where.get("channel") and where.get("ts")):
            return
        try:
            client.chat_postMessage(channel=where["channel"], thread_ts=where["ts"], text=text)
        except SlackApiError as exc:
            logger.warning(
                "could not note the action in the alert thread: %s", exc.response.get("error")
            )
