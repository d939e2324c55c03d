"""Twilio's webhooks: `POST /sms/inbound` (a customer's text) and `POST /sms/status` (what
became of a text we sent). A request whose X-Twilio-Signature does not check out gets 403 and
nothing is stored; a signed one Twilio cannot have sent (a parameter it never uses, or one
given twice: a captured request re-cut so that it still checks out) gets 400 naming it.

Inbound only stores the text (one insert-or-ignore) and answers Twilio with empty TwiML: about a
millisecond, so a burst of thousands of replies after a mass update never meets Twilio's
15-second webhook timeout (Twilio does not retry, and the customer's words would be lost). The
worker reads and answers what was stored a moment later; replies go out through the outbox
with status callbacks, paced and logged like every other text."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request

from bot.core import Core
from bot.engine.inbound import accept_inbound
from bot.errors import Forbidden
from bot.outbox.delivery import record_report
from channels.catalog import ChannelName
from channels.sms import EMPTY_TWIML, SmsInbound

sms_routes = Blueprint(ChannelName.SMS, __name__)
logger = logging.getLogger(__name__)


def _verified() -> tuple[Core, SmsInbound]:
    core: Core = current_app.extensions["keepposted"]
    channel = core.channels.inbound(ChannelName.SMS, SmsInbound)
    if channel is None or not channel.verify(request):
        logger.warning("refused %s: missing or wrong X-Twilio-Signature", request.path)
        raise Forbidden("the X-Twilio-Signature header is missing or does not match")
    return core, channel


@sms_routes.post("/sms/inbound")
def inbound() -> Response:
    core, channel = _verified()
    accept_inbound(core, channel.parse_inbound(request))
    return Response(EMPTY_TWIML, mimetype="application/xml")


@sms_routes.post("/sms/status")
def status() -> Response:
    core, channel = _verified()
    report = channel.parse_status(request)
    if report is not None:
        record_report(core, report)
    return Response(EMPTY_TWIML, mimetype="application/xml")
