"""`POST /slack/events`: one endpoint for Slack's slash commands, button clicks, modal
submissions and events, served by a bolt App.

Bolt checks X-Slack-Signature with SLACK_SIGNING_SECRET and refuses requests older than five
minutes (401, nothing stored). Every listener runs before the answer goes back
(`process_before_response`): its work is a database change committed before Slack hears "ok",
so nothing is left running in a thread that a restart would lose. Messages to customers only
go into the outbox; the few calls made here (opening a modal, a note in an alert's thread,
taking the buttons off an answered DM) are for the person who clicked.

What people read here is templated: templates/agents/alert_action.txt.j2 (what was done about an
alert) and case_modal.json.j2, templates/slack/answer.txt.j2 and answered.txt.j2 (a customer's
tapped answer).

Retried events (X-Slack-Retry-Num) store nothing twice: a message is kept once per
conversation and `ts`.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from slack_bolt import Ack, App
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.agents.commands import role_of, run_command
from bot.core import Core
from bot.domain import agent
from bot.engine import actions
from bot.engine.inbound import answer_or_keep
from bot.errors import InvalidInput, KeeppostedError, NotConfigured
from channels.catalog import ChannelName
from channels.slack import SlackInbound
from flows.intents import Intent

slack_routes = Blueprint(ChannelName.SLACK, __name__)
logger = logging.getLogger(__name__)
EXTENSION = "keepposted.slack"
TEXT_LIMIT = 1600  # an update or resolution: what one SMS thread can carry


@slack_routes.post("/slack/events")
def events() -> Response:
    handler: SlackRequestHandler | None = current_app.extensions.get(EXTENSION)
    if handler is None:
        raise NotConfigured(
            "Slack is not set up here: set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN "
            "(see README, Slack)"
        )
    retry = request.headers.get("X-Slack-Retry-Num")
    if retry:
        logger.info("Slack retry %s (%s)", retry, request.headers.get("X-Slack-Retry-Reason"))
    return handler.handle(request)


def register_slack(flask_app: Flask, core: Core) -> None:
    """Mount the bolt App when Slack's credentials are set; without them the endpoint says so."""
    channel = core.channels.inbound(ChannelName.SLACK, SlackInbound)
    settings = core.settings
    if not (settings.slack_signing_secret and settings.slack_bot_token):
        return
    if channel is None or channel.client is None:
        return
    bolt = App(
        signing_secret=settings.slack_signing_secret,
        client=channel.client,  # carries SLACK_BOT_TOKEN and SLACK_API_URL
        process_before_response=True,
        # No call to Slack while the app starts; bolt asks auth.test on the first request.
        token_verification_enabled=False,
        logger=logging.getLogger("keepposted.slack.bolt"),
    )
    SlackListeners(core, channel).attach(bolt)
    flask_app.extensions[EXTENSION] = SlackRequestHandler(bolt)


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

    def on_case_command(self, ack: Ack, command: dict[str, Any]) -> None:
        reply = run_command(self.core, str(command.get("user_id", "")), command.get("text") or "")
        ack(text=reply.text, blocks=reply.blocks, response_type="ephemeral")

    def on_alert_button(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        user = str(body["user"]["id"])
        container = body.get("container") or {}
        where = {"channel": container.get("channel_id"), "ts": container.get("message_ts")}
        if role_of(self.core.config, user) is None:
            self._tell(client, where["channel"], user, self._say("not_agent"))
            return
        case_id = int(action["value"])
        kind = action["action_id"]
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
        with self.core.sessions.begin() as session:
            case = actions.get_case(session, case_id)
            shown = {"label": case.label, "subject": case.subject}
        which = "update" if kind == "alert_update" else "resolve"
        view = self._modal(which, shown, {"case": case_id, **where})
        client.views_open(trigger_id=body["trigger_id"], view=view)

    def on_modal_submit(
        self, ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        user = str(body["user"]["id"])
        meta = json.loads(view.get("private_metadata") or "{}")
        text = str(view["state"]["values"]["text"]["text"].get("value") or "").strip()
        if role_of(self.core.config, user) is None:
            ack(response_action="errors", errors={"text": self._say("not_agent")})
            return
        try:
            with self.core.sessions.begin() as session:
                case = actions.get_case(session, int(meta["case"]), lock=True)
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

    def on_customer_answer(
        self, ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        action_id = str(action["action_id"])
        value = str(action.get("value") or "")
        case_text, _, score = value.partition(":")
        if action_id == "customer_confirm":
            words, answer = self.core.keywords.answer_word(Intent.CONFIRM), "confirm"
        elif action_id == "customer_reopen":
            words, answer = self.core.keywords.answer_word(Intent.REOPEN), "reopen"
        else:
            words = answer = score or action_id.rsplit("_", 1)[-1]
        case_id = int(case_text) if case_text.isdigit() else None
        answer_or_keep(self.core, self.channel.button_answer(body, action, words, case_id))
        self._show_answer(client, body, answer)

    def on_message(self, body: dict[str, Any]) -> None:
        inbound = self.channel.message_event(body)
        if inbound is not None:
            answer_or_keep(self.core, inbound)

    def _show_answer(self, client: WebClient, body: dict[str, Any], answer: str) -> None:
        """Swap the buttons for the answer, so the question cannot be answered twice by a tap."""
        templates = self.core.templates
        message = body.get("message") or {}
        container = body.get("container") or {}
        if not (message and container.get("channel_id")):
            return
        kept = [b for b in message.get("blocks") or [] if b.get("type") != "actions"]
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
                channel=container["channel_id"],
                ts=str(container.get("message_ts") or message.get("ts")),
                text=message.get("text")
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

    def _thread_note(self, client: WebClient, where: dict[str, Any], text: str) -> None:
        """What was done about an alert, in its thread, for the rest of the team to see."""
        if not (where.get("channel") and where.get("ts")):
            return
        try:
            client.chat_postMessage(channel=where["channel"], thread_ts=where["ts"], text=text)
        except SlackApiError as exc:
            logger.warning(
                "could not note the action in the alert thread: %s", exc.response.get("error")
            )
