"""Twilio's webhooks: `POST /sms/inbound` (a customer's text) and `POST /sms/status` (what
became of a text we sent). A request whose X-Twilio-Signature does not check out gets 403 and
nothing is stored. The work behind each is one database transaction, so Twilio gets its answer
in milliseconds, well inside its 15-second webhook timeout."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request
from sqlalchemy import update

from bot.core import Core
from bot.delivery import record_report
from bot.domain import MessageStatus
from bot.errors import Forbidden
from bot.inbound import handle_inbound
from bot.models import Message
from channels.sms import SmsChannel

sms_routes = Blueprint("sms", __name__)
logger = logging.getLogger(__name__)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


def _verified() -> tuple[Core, SmsChannel]:
    core: Core = current_app.extensions["keepposted"]
    channel = core.channels["sms"]
    if not isinstance(channel, SmsChannel) or not channel.verify(request):
        logger.warning("refused %s: missing or wrong X-Twilio-Signature", request.path)
        raise Forbidden("the X-Twilio-Signature header is missing or does not match")
    return core, channel


@sms_routes.post("/sms/inbound")
def inbound() -> Response:
    core, channel = _verified()
    message = channel.parse_inbound(request)
    result = handle_inbound(core, message, replies_inline=True)
    replies = [(reply.message_id, reply.body) for reply in result.replies]
    if replies and not channel.live:  # dry-run: nobody will report on them
        with core.sessions.begin() as session:
            session.execute(
                update(Message)
                .where(Message.id.in_([message_id for message_id, _ in replies]))
                .values(status=MessageStatus.SIMULATED)
            )
    return Response(channel.twiml(message.sender, replies), mimetype="application/xml")


@sms_routes.post("/sms/status")
def status() -> Response:
    core, channel = _verified()
    report = channel.parse_status(request)
    if report is not None:
        record_report(core, report)
    return Response(EMPTY_TWIML, mimetype="application/xml")
