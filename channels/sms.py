"""SMS over Twilio: webhook signatures, inbound and status-callback parsing (`SmsInbound`),
and sending through the real twilio Client over pooled HTTP (`channels.twilio_http`), paced per
sender (`SmsSender`).

Without Twilio credentials the channel still takes signed webhooks (when TWILIO_AUTH_TOKEN is
set, as `keepposted dev` does) and prints what it would send, like the dry-run sender.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from bot.clock import Clock
from bot.config import Config, Settings
from bot.domain import AddressProblem, MessageStatus
from bot.errors import ChannelError, ConfigError, KeeppostedError, shortened
from bot.phones import to_e164
from bot.store.db import is_sqlite
from channels.base import (
    ChannelParts,
    ChannelSetup,
    DeliveryReport,
    InboundMessage,
    OutboundMessage,
    SendResult,
)
from channels.catalog import ChannelName
from channels.dryrun import DryRunSender
from channels.pacing import Pacer, Pacing, SharedPacer
from channels.segments import count_segments
from channels.twilio_http import PooledTwilioHttp

# Twilio error codes that say an address must not be sent to again.
ADDRESS_PROBLEMS = {
    "21610": AddressProblem.OPTED_OUT,  # the recipient replied STOP to this sender
    "30005": AddressProblem.UNREACHABLE,  # unknown destination handset
    "30006": AddressProblem.UNREACHABLE,  # landline or unreachable carrier
    "21211": AddressProblem.UNREACHABLE,  # invalid 'To' phone number
    "21614": AddressProblem.UNREACHABLE,  # 'To' is not a mobile number
}
# Twilio's message statuses in our words; callbacks only ever move a message forward.
STATUSES = {
    "accepted": MessageStatus.QUEUED,
    "scheduled": MessageStatus.QUEUED,
    "queued": MessageStatus.QUEUED,
    "sending": MessageStatus.SENT,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}
# Interim updates and delay notices go stale: Twilio drops them if still queued after this.
EXPIRING_KINDS = frozenset({"interim", "delay_notice"})
MAX_VALIDITY_SECONDS = 36_000  # Twilio's ceiling (10 hours)
SID = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
MAX_MEDIA = 10  # Twilio sends at most ten media items per message
# Every parameter Twilio documents for its incoming-message webhook and its status callback:
# SMS and MMS, the geographic lookups, Messaging Services, Advanced Opt-Out, Add-ons, and the
# fields a WhatsApp sender adds on the same webhook. The signature runs names and values
# together, so a captured request can be re-cut into other names, or into one name given
# twice, and still check out: a name not listed here, or given twice, is refused.
TWILIO_PARAMETERS = frozenset(
    {
        # the message and whose it is
        "MessageSid", "SmsSid", "SmsMessageSid", "AccountSid", "MessagingServiceSid",
        "ApiVersion", "From", "To", "Body", "NumMedia", "NumSegments", "MessageType",
        "SmsStatus", "MessageStatus", "ErrorCode", "ErrorMessage", "RawDlrDoneDate",
        "EventType", "StructuredMessage", "OptOutType", "AddOns", "ChannelMetadata",
        "ChannelToAddress", "ChannelPrefix", "ChannelInstallSid",
        # where the numbers are
        "FromCity", "FromState", "FromZip", "FromCountry",
        "ToCity", "ToState", "ToZip", "ToCountry",
        # WhatsApp: the profile, forwarding, buttons, a shared location, click-to-chat ads,
        # the message a reply quotes
        "ProfileName", "WaId", "Forwarded", "FrequentlyForwarded", "ButtonText",
        "ButtonPayload", "Latitude", "Longitude", "Address", "Label",
        "ReferralBody", "ReferralHeadline", "ReferralSourceId", "ReferralSourceType",
        "ReferralSourceUrl", "ReferralMediaId", "ReferralMediaContentType", "ReferralMediaUrl",
        "ReferralNumMedia", "ReferralCtwaClid",
        "OriginalRepliedMessageSender", "OriginalRepliedMessageSid", "ListId", "ListTitle",
    }
)  # fmt: skip
MEDIA_PARAMETER = re.compile(r"(?:MediaUrl|MediaContentType)[0-9]")  # one per item, 0 to 9
SHOWN_NAME = 64  # a refused name is quoted back this far, however long it was
SEND_TIMEOUT_SECONDS = 15
EMPTY_TWIML = str(MessagingResponse())  # "got it": the replies follow through the REST API


class SmsInbound:
    """Twilio's webhooks: the X-Twilio-Signature check, a customer's text, a status callback.
    Checks need only TWILIO_AUTH_TOKEN; without it every request is refused."""

    name = ChannelName.SMS

    def __init__(self, config: Config, settings: Settings, *, clock: Clock) -> None:
        self.public_url = config.public_url.rstrip("/")
        self.default_region = config.default_region
        self.clock = clock
        token = settings.twilio_auth_token
        self.validator = RequestValidator(token) if token else None

    def signed_url(self, request: Any) -> str:
        """The URL Twilio signed: the public URL plus the exact path and query we were called
        on, so a TLS-terminating proxy in front of us does not break the check."""
        query = request.query_string.decode("latin-1")
        return f"{self.public_url}{request.path}" + (f"?{query}" if query else "")

    def verify(self, request: Any) -> bool:
        signature = request.headers.get("X-Twilio-Signature", "")
        if self.validator is None or not signature:
            return False
        return bool(self.validator.validate(self.signed_url(request), request.form, signature))

    def parse_inbound(self, request: Any) -> InboundMessage:
        form = request.form
        _only_twilio_parameters(form)
        sid = form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid") or ""
        sender = form.get("From", "").strip()
        if not SID.fullmatch(sid):
            raise KeeppostedError("MessageSid is missing or malformed", field="MessageSid")
        if not sender or len(sender) > 64:
            raise KeeppostedError("From is missing or too long", field="From")
        media_count = _media_count(form.get("NumMedia"))
        media = tuple(url for i in range(media_count) if (url := form.get(f"MediaUrl{i}")))
        return InboundMessage(
            channel=self.name,
            sender=self._normalise(sender),
            body=form.get("Body", ""),
            provider_id=sid,
            received_at=self.clock.now(),
            media_count=media_count,
            media_urls=media,
        )

    def parse_status(self, request: Any) -> DeliveryReport | None:
        """A status callback; None for a status we do not track (nothing to change)."""
        form = request.form
        _only_twilio_parameters(form)
        sid = form.get("MessageSid") or form.get("SmsSid") or ""
        if not SID.fullmatch(sid):
            raise KeeppostedError("MessageSid is missing or malformed", field="MessageSid")
        status = STATUSES.get((form.get("MessageStatus") or form.get("SmsStatus") or "").lower())
        if status is None:
            return None
        ours = request.args.get("m")
        if ours is not None and not _ascii_number(ours, digits=18):
            raise KeeppostedError("m must be a message id", field="m")
        code = form.get("ErrorCode") or None
        if code is not None and not _ascii_number(code, digits=10):
            raise KeeppostedError("ErrorCode must be a Twilio error number", field="ErrorCode")
        return DeliveryReport(
            channel=self.name,
            provider_id=sid,
            status=str(status),
            message_id=int(ours) if ours else None,
            error_code=code,
            problem=_problem(code),
        )

    def _normalise(self, sender: str) -> str:
        """E.164 when it is a phone number; short codes and sender names are kept as sent."""
        if E164.match(sender):  # what Twilio sends: no need to parse it again
            return sender
        try:
            return to_e164(sender, self.default_region)
        except KeeppostedError:
            return sender


class SmsSender:
    """Texts through the real twilio Client, paced per sender (`channels.sms.mps`), with a
    status callback per message. Without Twilio credentials it prints what it would send."""

    name = ChannelName.SMS

    def __init__(
        self,
        config: Config,
        settings: Settings,
        *,
        client: Client | None = None,
        pacer: Pacing | None = None,
    ) -> None:
        self.sms = config.channels.sms
        self.public_url = config.public_url.rstrip("/")
        self.client = client if client is not None else build_client(config, settings)
        self.pacer = pacer or Pacer(self.sms.mps)
        self.dry_run = DryRunSender(self.name)

    def line_of(self, message: OutboundMessage) -> str:
        """The pool's sender for this recipient: each paced alone at `mps`."""
        return sender_for(message.to, self.sms.pool) or "dry-run"

    def close(self) -> None:
        """Let go of the pooled HTTP connections to Twilio."""
        http = getattr(self.client, "http_client", None)
        if isinstance(http, PooledTwilioHttp):
            http.close()

    def status_callback_url(self, message_id: int) -> str:
        """Where Twilio reports on a message; our id rides along so a callback that beats the
        send's own bookkeeping still finds its message."""
        return f"{self.public_url}/sms/status?m={message_id}"

    def line_rate(self) -> float | None:
        """A number's segments a second: a text of one segment each, the most it can be."""
        return self.sms.mps if self.client is not None else None

    def wait_turn(self, message: OutboundMessage) -> None:
        if self.client is not None:
            self.pacer.wait(self.line_of(message), count_segments(message.body).segments)

    def send(self, message: OutboundMessage) -> SendResult:
        """Send through Twilio; the caller has waited its turn (`wait_turn`)."""
        if self.client is None:
            return self.dry_run.send(message)
        options: dict[str, Any] = {
            "to": message.to,
            "body": message.body,
            "status_callback": self.status_callback_url(message.message_id),
        }
        if self.sms.messaging_service_sid:
            options["messaging_service_sid"] = self.sms.messaging_service_sid
        else:
            options["from_"] = self.line_of(message)
        if message.kind in EXPIRING_KINDS:
            seconds = int(self.sms.interim_validity.total_seconds())
            options["validity_period"] = max(1, min(seconds, MAX_VALIDITY_SECONDS))
        try:
            created = self.client.messages.create(**options)
        except TwilioRestException as exc:
            raise _rest_error(exc) from None
        # The connection's failures are ChannelErrors already (PooledTwilioHttp); what is
        # left is an answer that came whole but cannot be read.
        except (TwilioException, OSError, ValueError) as exc:
            raise ChannelError(
                f"Twilio answer unusable: {exc}", retryable=True, maybe_sent=True
            ) from None
        return SendResult(provider_id=str(created.sid))


def sender_for(recipient: str, pool: tuple[str, ...]) -> str | None:
    """The pool's number a recipient always hears from, so their texts stay one thread on
    their phone. Rendezvous hashing: each recipient takes the number that scores highest with
    it, so adding a number moves only the recipients that now score highest with the new one
    (about 1 in n), and removing one moves only that number's recipients."""
    if len(pool) <= 1:
        return pool[0] if pool else None

    def score(number: str) -> bytes:
        return hashlib.blake2b(f"{number}|{recipient}".encode(), digest_size=8).digest()

    return max(pool, key=score)


def build(setup: ChannelSetup) -> ChannelParts:
    """SMS's two halves. With a shared database (not SQLite) the sender is paced through it,
    so several workers together keep each sender to `channels.sms.mps`; SQLite runs one
    worker, paced in memory."""
    pacer = None
    if setup.engine is not None and not is_sqlite(setup.engine.url.drivername):
        pacer = SharedPacer(setup.engine, setup.config.channels.sms.mps)
    return ChannelParts(
        sender=SmsSender(setup.config, setup.settings, pacer=pacer),
        inbound=SmsInbound(setup.config, setup.settings, clock=setup.clock),
    )


def build_client(config: Config, settings: Settings) -> Client | None:
    """The real twilio Client when credentials are set; its base URL may point at a fake."""
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        return None
    sms = config.channels.sms
    if not sms.pool:
        raise ConfigError(
            ["channels.sms: set `from` or `messaging_service_sid` to send SMS through Twilio"]
        )
    http = PooledTwilioHttp(timeout=SEND_TIMEOUT_SECONDS, connections=config.worker.send_threads)
    client = Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http)
    if settings.twilio_api_base_url:
        client.api.base_url = settings.twilio_api_base_url.rstrip("/")
    return client


def _rest_error(exc: TwilioRestException) -> ChannelError:
    code = str(exc.code) if exc.code is not None else None
    return ChannelError(
        f"Twilio answered {exc.status}" + (f" (error {code})" if code else "") + f": {exc.msg}",
        retryable=exc.status == 429 or exc.status >= 500,
        error_code=code or str(exc.status),
        problem=_problem(code),
    )


def _problem(code: str | None) -> str | None:
    problem = ADDRESS_PROBLEMS.get(code or "")
    return str(problem) if problem else None


def _only_twilio_parameters(form: Any) -> None:
    """Refuse a signed form Twilio cannot have sent: a name it never uses, or one given twice.
    Run after the signature check (so only a captured request gets this far) and before
    anything is read from the form."""
    for name, values in form.lists():
        shown = shortened(name, SHOWN_NAME)
        if len(values) > 1:
            raise KeeppostedError(
                f"{shown} is given {len(values)} times; Twilio sends each parameter once",
                field=shown,
            )
        if name not in TWILIO_PARAMETERS and not MEDIA_PARAMETER.fullmatch(name):
            raise KeeppostedError(f"{shown} is not a parameter Twilio sends", field=shown)


def _media_count(raw: str | None) -> int:
    if not raw:
        return 0
    if not _ascii_number(raw, digits=2) or int(raw) > MAX_MEDIA:
        raise KeeppostedError(
            f"NumMedia must be a whole number from 0 to {MAX_MEDIA}", field="NumMedia"
        )
    return int(raw)


def _ascii_number(raw: str, *, digits: int) -> bool:
    """0-9 only, at most `digits` of them: str.isdigit() alone also takes "²" and "٣", which
    int() refuses or reads, and int() refuses a string of thousands of digits."""
    return 0 < len(raw) <= digits and raw.isascii() and raw.isdigit()
