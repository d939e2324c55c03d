"""`keepposted simulate sms FROM TEXT`: play the customer against a running server. It posts
the form Twilio would post, signed with TWILIO_AUTH_TOKEN the way Twilio signs it, so the whole
inbound path (signature, idempotency, flows) runs for real; then it watches the server's
database for the replies the worker sends back, as the customer's phone would receive them."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

import requests
from sqlalchemy import Engine, select
from twilio.request_validator import RequestValidator

from bot.config import Config
from bot.domain import Direction, MessageStatus
from bot.errors import KeeppostedError
from bot.phones import to_e164
from bot.store.models import Message
from channels.catalog import ChannelName
from channels.sms import sender_for

TIMEOUT_SECONDS = 15  # Twilio's own webhook timeout


@dataclass(frozen=True)
class SimulatedReply:
    status: int
    sid: str = ""
    sender: str = ""
    error: str | None = None


@dataclass
class Replies:
    handled: bool = False  # False: the server never read the text (no worker, other database)
    bodies: list[str] = field(default_factory=list)


def inbound_form(
    config: Config, sender: str, text: str, *, sid: str | None = None, media: tuple[str, ...] = ()
) -> dict[str, str]:
    """The fields of an inbound SMS webhook, as Twilio sends them."""
    number = to_e164(sender, config.default_region, field="FROM")
    form = {
        "MessageSid": sid or "SM" + secrets.token_hex(16),
        "AccountSid": "AC" + "0" * 32,
        "From": number,
        "To": sender_for(number, config.channels.sms.pool) or "+15005550006",
        "Body": text,
        "NumMedia": str(len(media)),
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
    }
    if config.channels.sms.messaging_service_sid:
        form["MessagingServiceSid"] = config.channels.sms.messaging_service_sid
    for index, url in enumerate(media):
        form[f"MediaUrl{index}"] = url
        form[f"MediaContentType{index}"] = "image/jpeg"
    form["SmsMessageSid"] = form["SmsSid"] = form["MessageSid"]
    return form


def simulate_sms(
    config: Config,
    auth_token: str,
    sender: str,
    text: str,
    *,
    server: str | None = None,
    sid: str | None = None,
    media: tuple[str, ...] = (),
) -> SimulatedReply:
    """Post one signed inbound SMS; the signature covers `public_url`, the post goes to
    `server` (default the public URL too), as when a proxy sits in front of keepposted."""
    form = inbound_form(config, sender, text, sid=sid, media=media)
    signed_url = config.public_url.rstrip("/") + "/sms/inbound"
    target = (server.rstrip("/") + "/sms/inbound") if server else signed_url
    signature = RequestValidator(auth_token).compute_signature(signed_url, form)
    try:
        response = requests.post(
            target,
            data=form,
            headers={"X-Twilio-Signature": signature},
            timeout=TIMEOUT_SECONDS,
        )
    except requests.RequestException as exc:
        raise KeeppostedError(f"could not reach {target}: is the server running? ({exc})") from None
    if response.status_code != 200:
        return SimulatedReply(response.status_code, error=response.text.strip()[:500])
    return SimulatedReply(response.status_code, sid=form["MessageSid"], sender=form["From"])


def already_stored(engine: Engine, sid: str) -> bool:
    """True when the server already has a text with this MessageSid (a repeat is ignored)."""
    with engine.connect() as connection:
        found = connection.execute(
            select(Message.id).where(Message.channel == ChannelName.SMS, Message.provider_id == sid)
        ).first()
    return found is not None


def wait_for_replies(engine: Engine, sid: str, sender: str, timeout: float) -> Replies:
    """The texts sent back to `sender` after the worker answered message `sid`."""
    deadline = time.monotonic() + timeout
    found = Replies()
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            inbound = connection.execute(
                select(Message.id, Message.handled_at).where(
                    Message.channel == ChannelName.SMS, Message.provider_id == sid
                )
            ).first()
            if inbound is not None and inbound.handled_at is not None:
                replies = connection.execute(
                    select(Message.body, Message.status)
                    .where(
                        Message.channel == ChannelName.SMS,
                        Message.direction == Direction.OUT,
                        Message.address == sender,
                        Message.id > inbound.id,
                    )
                    .order_by(Message.id)
                ).all()
                found = Replies(True, [reply.body for reply in replies])
                if all(reply.status != MessageStatus.QUEUED for reply in replies):
                    return found  # every reply has left the outbox
        time.sleep(0.2)
    return found
