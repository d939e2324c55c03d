"""`keepposted simulate sms FROM TEXT`: play the customer against a running server. It posts
the form Twilio would post, signed with TWILIO_AUTH_TOKEN the way Twilio signs it, and reads the
TwiML answer back, so the whole inbound path (signature, idempotency, flows) runs for real."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from xml.etree import ElementTree

import requests
from twilio.request_validator import RequestValidator

from bot.config import Config
from bot.errors import KeeppostedError
from bot.phones import to_e164

TIMEOUT_SECONDS = 15  # Twilio's own webhook timeout


@dataclass(frozen=True)
class SimulatedReply:
    status: int
    replies: list[str]
    error: str | None = None


def inbound_form(
    config: Config, sender: str, text: str, *, sid: str | None = None, media: tuple[str, ...] = ()
) -> dict[str, str]:
    """The fields of an inbound SMS webhook, as Twilio sends them."""
    form = {
        "MessageSid": sid or "SM" + secrets.token_hex(16),
        "AccountSid": "AC" + "0" * 32,
        "From": to_e164(sender, config.default_region, field="FROM"),
        "To": config.channels.sms.from_number or "+15005550006",
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
        return SimulatedReply(response.status_code, [], error=response.text.strip()[:500])
    return SimulatedReply(response.status_code, twiml_messages(response.text))


def twiml_messages(twiml: str) -> list[str]:
    """The texts a TwiML answer sends back."""
    root = ElementTree.fromstring(twiml)  # noqa: S314 - our own server's answer
    return [element.text or "" for element in root.iter("Message")]
