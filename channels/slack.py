"""Slack: customers reached as DMs (Confirm / Reopen buttons, typed replies) and the team's
alerts, sent through slack_sdk's WebClient; the base URL comes from SLACK_API_URL when set.

Retries: only Slack's own 429 is retried here (RateLimitErrorRetryHandler waits Retry-After).
slack_sdk's default connection-error retry is left out on purpose: a post whose answer was lost
may already be in the customer's DMs, and the outbox decides what may be sent again (an interim
update never is). Posts are paced to about one a second per conversation, Slack's limit for
chat.postMessage.

The `/slack/events` endpoint (commands, buttons, events) is bolt's, in bot/web/slack.py;
this module checks its signature and turns what it receives into InboundMessages, refusing
(MalformedBody) what is not shaped the way Slack sends it.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Mapping
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier

from bot.clock import Clock
from bot.config import Settings
from bot.domain import AddressProblem
from bot.errors import ChannelError, MalformedBody
from bot.render import mrkdwn
from channels.base import ChannelParts, ChannelSetup, InboundMessage, OutboundMessage, SendResult
from channels.catalog import ChannelName
from channels.dryrun import DryRunSender
from channels.pacing import Pacer

SEND_TIMEOUT_SECONDS = 15
RATE_LIMIT_RETRIES = 2
# Message subtypes that are a person writing; edits, deletions, joins and bots are not.
CUSTOMER_SUBTYPES = (None, "file_share", "thread_broadcast")
# Slack errors that say this person can never get a DM from us. (`account_inactive` is not
# one: Slack sends it when our own token's user or workspace is gone.)
UNREACHABLE_ERRORS = frozenset(
    {"user_not_found", "user_disabled", "cannot_dm_bot", "user_not_visible"}
)
# Errors that will not go away by trying again: our token, scopes or the address are wrong.
FINAL_ERRORS = UNREACHABLE_ERRORS | {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "msg_too_long",
    "no_text",
    "invalid_blocks",
    "invalid_auth",
    "not_authed",
    "token_revoked",
    "token_expired",
    "account_inactive",
    "missing_scope",
    "restricted_action",
}
# Slack's word that the call failed part-way: the post may have been made all the same.
MAYBE_DONE_ERRORS = frozenset({"internal_error", "fatal_error"})
# chat.update's word that the alert it was to edit is gone or can no longer be edited (someone
# deleted it, or the channel's retention did): the edit is posted as a fresh alert instead.
UNEDITABLE_ERRORS = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
# What Slack's error codes look like; slack_sdk puts a sentence in `error` when the body was not
# JSON (a 5xx page), and messages.error_code holds 32 characters.
ERROR_CODE = re.compile(r"[a-z0-9_]{1,32}")
# What Slack's signature headers hold. SignatureVerifier calls int() on the timestamp and
# compare_digest() on the signature, which raise on anything else instead of saying no.
TIMESTAMP = re.compile(r"[0-9]{1,12}")
SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
# Slack's ids (U…, W…, D…, C…) and message timestamps; anything else in an event is not Slack's
# and must not become an address or a key (messages.address and provider_id hold 64 characters).
SLACK_ID = re.compile(r"[A-Z0-9]{2,32}")
MESSAGE_TS = re.compile(r"[0-9]{1,12}\.[0-9]{1,9}")
ACTION_TS = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,11})?")
logger = logging.getLogger(__name__)


def build_client(settings: Settings) -> WebClient:
    """The real WebClient, retrying only Slack's 429s; pointed at SLACK_API_URL when set."""
    options: dict[str, Any] = {}
    if settings.slack_api_url:
        options["base_url"] = settings.slack_api_url.rstrip("/") + "/"
    return WebClient(
        token=settings.slack_bot_token,
        timeout=SEND_TIMEOUT_SECONDS,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES)],
        **options,
    )


def is_user(address: str) -> bool:
    """A person (U…/W…) gets a DM; anything else (C…, G…, D…, #name) is a conversation."""
    return address[:1] in ("U", "W") and address[1:].isalnum()


def is_set(secret: str | None) -> bool:
    """A credential that is there: a blank one is as good as none (SignatureVerifier refuses it)."""
    return bool(secret and secret.strip())


def slack_id(value: Any, what: str) -> str:
    """`value` as one of Slack's ids; MalformedBody naming `what` when it is not one."""
    if isinstance(value, str) and SLACK_ID.fullmatch(value):
        return value
    raise MalformedBody(f"{what} is not a Slack id", field=what)


def user_of(body: Mapping[str, Any]) -> str:
    """Who clicked or submitted: `user.id` of an interaction payload."""
    user = body.get("user")
    found = slack_id(user.get("id") if isinstance(user, Mapping) else None, "user.id")
    if not is_user(found):
        raise MalformedBody("user.id is not a Slack user id", field="user.id")
    return found


def provider_id(conversation: str, ts: str) -> str:
    """Slack's `ts` is unique only inside one conversation; together they name one message."""
    return f"{conversation}:{ts}"


class SlackInbound:
    """What bolt hands us from `/slack/events`: the signature check, a customer's DM, a click
    on an answer button. `client` is the bot's WebClient (bolt answers through it); None
    without SLACK_BOT_TOKEN."""

    name = ChannelName.SLACK

    def __init__(self, settings: Settings, clock: Clock, *, client: WebClient | None) -> None:
        self.clock = clock
        self.signing_secret = settings.slack_signing_secret
        self.client = client

    def verify(self, request: Any) -> bool:
        """Slack's signature over the exact body, and its 5-minute replay window (bolt runs the
        same check). A timestamp that is not a number, a signature not in Slack's form and a
        body that is not UTF-8 (Slack signs UTF-8 text) are refused like a wrong signature."""
        secret = self.signing_secret
        if secret is None or not is_set(secret):
            return False
        stamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not (TIMESTAMP.fullmatch(stamp) and SIGNATURE.fullmatch(signature)):
            return False
        try:
            body = request.get_data().decode("utf-8")
        except UnicodeDecodeError:
            return False
        return SignatureVerifier(secret).is_valid(body, stamp, signature)

    def parse_inbound(self, request: Any) -> InboundMessage:
        """A customer's DM from an Events API body; ValueError when it is not one."""
        message = self.message_event(request)
        if message is None:
            raise ValueError("not a customer's direct message")
        return message

    def message_event(self, body: Mapping[str, Any]) -> InboundMessage | None:
        """A person writing to us in a DM; None for our own posts, edits and channel chatter.
        MalformedBody for a DM event whose user, channel, ts or text is not what Slack sends:
        its words are never kept as the repr of an object, nor under an address that is not
        a user's."""
        event = body.get("event")
        if not isinstance(event, Mapping):
            return None
        if event.get("type") != "message" or event.get("channel_type") != "im":
            return None
        if event.get("bot_id") or event.get("subtype") not in CUSTOMER_SUBTYPES:
            return None
        user, conversation, ts = event.get("user"), event.get("channel"), event.get("ts")
        if not (user and conversation and ts):
            return None
        sender = slack_id(user, "event.user")
        if not is_user(sender):
            raise MalformedBody("event.user is not a Slack user id", field="event.user")
        conversation = slack_id(conversation, "event.channel")
        if not (isinstance(ts, str) and MESSAGE_TS.fullmatch(ts)):
            raise MalformedBody("event.ts is not a Slack message timestamp", field="event.ts")
        text = event.get("text")
        if not isinstance(text, str | None):  # a message's text is a string, or absent for a file
            raise MalformedBody("event.text is not text", field="event.text")
        files = _file_objects(event.get("files"))
        urls = (f.get("url_private") for f in files)
        return InboundMessage(
            channel=self.name,
            sender=sender,
            body=text or "",
            provider_id=provider_id(conversation, ts),
            received_at=self.clock.now(),
            media_count=len(files),
            media_urls=tuple(url for url in urls if isinstance(url, str) and url),
        )

    def button_answer(
        self, body: Mapping[str, Any], action: Mapping[str, Any], words: str, case_id: int | None
    ) -> InboundMessage:
        """A customer's click on Confirm, Reopen or a score, as the words it stands for.
        MalformedBody when who clicked, where, or when is not what Slack sends."""
        container, channel = body.get("container"), body.get("channel")
        conversation = container.get("channel_id") if isinstance(container, Mapping) else None
        if not conversation and isinstance(channel, Mapping):
            conversation = channel.get("id")
        conversation = slack_id(conversation, "container.channel_id")
        stamp = action.get("action_ts")
        if not (isinstance(stamp, str) and ACTION_TS.fullmatch(stamp)):
            raise MalformedBody("action_ts is not a Slack timestamp", field="action_ts")
        return InboundMessage(
            channel=self.name,
            sender=user_of(body),
            body=words,
            provider_id=provider_id(conversation, f"action-{stamp}"),
            received_at=self.clock.now(),
            case_id=case_id,
        )


class SlackSender:
    """Posts to a person's DM (opened once and remembered) or to a team channel, paced per
    conversation. Without SLACK_BOT_TOKEN (`client` None) it prints what it would send."""

    name = ChannelName.SLACK

    def __init__(self, client: WebClient | None, *, posts_per_second: float = 1.0) -> None:
        self.client = client
        self.dry_run = DryRunSender(self.name)
        # chat.postMessage allows about one message a second per conversation.
        self.pacer = Pacer(posts_per_second)
        self._dms: dict[str, str] = {}
        self._dms_lock = threading.Lock()

    def line_of(self, message: OutboundMessage) -> str:
        """Slack paces per conversation inside `send`: one line."""
        return self.name

    def line_rate(self) -> float | None:
        """Slack's pace is per conversation and kept inside `send`: not one line's rate."""
        return None

    def wait_turn(self, message: OutboundMessage) -> None:
        """Slack's pace is per conversation, known only once the DM is open: `send` waits."""

    def send(self, message: OutboundMessage) -> SendResult:
        if self.client is None:
            return self.dry_run.send(message)
        # Alerts are written as Slack markup (quoted words already escaped); customer messages
        # are plain text and are escaped here, so `<` or `&` in them shows as typed.
        text = message.body if message.kind == "alert" else mrkdwn(message.body)
        posting = False  # nothing can reach the customer before chat.postMessage goes out
        edits = message.metadata.get("edits")
        try:
            if edits:
                posting = True
                answer = self._edit(str(edits), message.to, text, message.metadata.get("blocks"))
            else:
                conversation = self._conversation(message.to)
                self.pacer.wait(conversation)
                posting = True
                answer = self._post(conversation, text, message.metadata.get("blocks"))
        except SlackApiError as exc:
            raise _api_error(exc, posting=posting) from None
        except (URLError, TimeoutError, SlackClientError, OSError) as exc:
            raise ChannelError(
                f"lost the connection to Slack: {exc}",
                retryable=True,
                maybe_sent=posting and not _never_connected(exc),
            ) from None
        return SendResult(provider_id=provider_id(str(answer["channel"]), str(answer["ts"])))

    def _post(self, conversation: str, text: str, blocks: Any) -> Any:
        assert self.client is not None
        return self.client.chat_postMessage(
            channel=conversation, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
        )

    def _edit(self, edits: str, address: str, text: str, blocks: Any) -> Any:
        """Edit the message `edits` names (our provider id, "channel:ts"): a coalesced alert's
        latest state. Paced like a post in its conversation; one Slack will not edit any more
        is posted afresh to `address`, and the caller keeps the new message's id."""
        assert self.client is not None
        conversation, _, ts = edits.partition(":")
        self.pacer.wait(conversation)
        try:
            return self.client.chat_update(channel=conversation, ts=ts, text=text, blocks=blocks)
        except SlackApiError as exc:
            if exc.response.get("error") not in UNEDITABLE_ERRORS:
                raise
        logger.info("the alert %s could not be edited; posting it afresh", edits)
        fresh = self._conversation(address)
        self.pacer.wait(fresh)
        return self._post(fresh, text, blocks)

    def _conversation(self, address: str) -> str:
        """Where to post: a person's DM (opened once and remembered) or the address itself."""
        if not is_user(address):
            return address
        with self._dms_lock:
            known = self._dms.get(address)
        if known:
            return known
        assert self.client is not None
        opened = self.client.conversations_open(users=address)
        conversation = str(opened["channel"]["id"])
        with self._dms_lock:
            self._dms[address] = conversation
        return conversation


def build(setup: ChannelSetup) -> ChannelParts:
    """Slack's two halves, sharing one WebClient (SLACK_BOT_TOKEN, SLACK_API_URL)."""
    settings = setup.settings
    client = build_client(settings) if is_set(settings.slack_bot_token) else None
    return ChannelParts(
        sender=SlackSender(client, posts_per_second=setup.config.channels.slack.mps),
        inbound=SlackInbound(settings, setup.clock, client=client),
    )


def _file_objects(files: Any) -> list[Mapping[str, Any]]:
    """The file objects of a message. Anything else where they belong (a string, a number in
    the list) is not Slack's: it is left out, and the words beside it are kept."""
    if files is None:
        return []
    objects = [f for f in files if isinstance(f, Mapping)] if isinstance(files, list) else []
    if not isinstance(files, list) or len(objects) != len(files):
        logger.warning("a Slack message's files are not all file objects: those were left out")
    return objects


def _api_error(exc: SlackApiError, *, posting: bool) -> ChannelError:
    status = exc.response.status_code
    answered = str(exc.response.get("error") or status)
    error = answered if ERROR_CODE.fullmatch(answered) else str(status)
    if status == 429 or error == "ratelimited":
        return ChannelError(
            "Slack kept answering 429 (rate limited)", retryable=True, error_code="ratelimited"
        )
    problem = str(AddressProblem.UNREACHABLE) if error in UNREACHABLE_ERRORS else None
    return ChannelError(
        f"Slack answered {status}: {answered}",
        # Slack's 5xx and unknown errors may pass; a 5xx (or Slack's internal_error) on the post
        # may even have posted the message.
        retryable=error not in FINAL_ERRORS,
        maybe_sent=posting and (status >= 500 or error in MAYBE_DONE_ERRORS),
        error_code=error,
        problem=problem,
    )


def _never_connected(exc: BaseException) -> bool:
    """True when the request cannot have reached Slack (the connection was refused)."""
    reason = exc.reason if isinstance(exc, URLError) else exc
    return isinstance(reason, ConnectionRefusedError | socket.gaierror)
