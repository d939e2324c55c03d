"""The web chat channel: customers read and answer their case on a page keepposted serves
(`/c/<token>`, bot/web/webchat.py), or in the widget a company embeds with `/widget.js`.

Nothing leaves keepposted: sending a message to web chat means the page shows it. A request is
"verified" when its link is: signed with SECRET_KEY, not expired (bot/engine/links.py). What a
customer posts becomes an InboundMessage exactly as an SMS does, so it goes through the same flows.

A post the customer can fix (empty, too long, ...) is refused with a `Worded` error: it names
its wording in templates/webchat/problem.txt.j2, which bot/web/webchat.py renders into the
message the page shows. Errors only a broken client can cause keep their developer wording.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from bot.clock import Clock
from bot.config import Config
from bot.engine.links import LinkClaim, WebchatLinks
from bot.errors import (
    InvalidInput,
    KeeppostedError,
    MalformedBody,
    NotConfigured,
    TooLarge,
    TooManyRequests,
)
from bot.render import BLOCKS, Templates, locale_chain, template_key
from bot.unstorable import unstorable
from channels.base import ChannelParts, ChannelSetup, InboundMessage, OutboundMessage, SendResult
from channels.catalog import ChannelName
from flows.intents import Intent

CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
DELETE = "\x7f"  # no keyboard types it either; the page refuses it with the rest
SCORES = range(1, 6)
# Why a link does not open (an error code), each worded in templates/webchat/link_error.txt.j2.
LINK_REASONS = ("link_expired", "link_replaced", "link_not_valid", "not_configured")
# What chat.js may have to say itself (templates/webchat/problem.txt.j2); it fills in {count}
# and {status}. And the link problem it shows for a 403 or 410 that is not our JSON (a proxy's).
SCRIPT_PROBLEMS: dict[str, dict[str, Any]] = {
    "empty": {},
    "unavailable": {},
    "offline_reply": {},
    "offline_answer": {},
    "reconnecting": {},
    "characters_left": {"count": "{count}"},
    "failed": {"status": "{status}"},
}
SCRIPT_LINK_PROBLEMS = {403: "link_not_valid", 410: "link_expired"}
# The page's fixed words: labels, headings, buttons (templates/webchat/page_words.json.j2).
PAGE_WORDS = "page_words"
# Every problem.txt.j2 wording with sample values: `keepposted config check` renders each.
PROBLEM_SAMPLES: dict[str, dict[str, Any]] = {
    "too_long": {"length": 2001, "max_chars": 2000},
    "unstorable": {},
    "too_big": {"kb": 32},
    "too_fast": {"count": 10, "seconds": 42},
    **SCRIPT_PROBLEMS,
}


class Worded:
    """An error the customer reads: `problem` picks its sentence in templates/webchat/
    problem.txt.j2 and `details` fill it in. Until rendered, its message is the problem's name."""

    problem: str
    details: dict[str, Any]

    def word(self, problem: str, **details: Any) -> None:
        self.problem, self.details = problem, details


class NotSendable(InvalidInput, Worded):
    """422: the words cannot be taken as they are (empty, characters no database stores)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem, field="text")
        self.word(problem)


class MessageTooLong(TooLarge, Worded):
    """413: longer than channels.webchat.max_chars, or a post over the byte limit."""

    def __init__(self, problem: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(problem, field=field)
        self.word(problem, **details)


class PostingTooFast(TooManyRequests, Worded):
    """429: over channels.webchat.posts_per_minute; `seconds` until the next post is taken."""

    def __init__(self, *, count: int, seconds: int) -> None:
        super().__init__("too_fast", retry_after=seconds)
        self.word("too_fast", count=count, seconds=seconds)


def problem_text(
    templates: Templates, config: Config, problem: str, *, locale: str | None = None, **details: Any
) -> str:
    """The sentence for a post the chat cannot take (templates/webchat/problem.txt.j2), in the
    reader's `locale` (the program's by default)."""
    context = {"program": config.program.for_locale(locale), "problem": problem, **details}
    return templates.render(ChannelName.WEBCHAT, "problem", context, locale=locale)


def link_problem(
    templates: Templates, config: Config, reason: str, locale: str | None = None
) -> tuple[str, str]:
    """The heading and the explanation of why a link does not open (link_error.txt.j2)."""
    context = {"program": config.program.for_locale(locale), "reason": reason}
    text = templates.render(ChannelName.WEBCHAT, "link_error", context, locale=locale)
    title, _, explanation = text.partition("\n")
    return title, explanation


def in_words(
    templates: Templates, config: Config, exc: KeeppostedError, locale: str | None = None
) -> KeeppostedError:
    """`exc` with the customer's wording as its message, which the page and the JSON show.
    A link problem's message is its heading and its explanation on two lines."""
    if isinstance(exc, Worded):
        exc.message = problem_text(templates, config, exc.problem, locale=locale, **exc.details)
    elif exc.code in LINK_REASONS and exc.code != "not_configured":
        exc.message = "\n".join(link_problem(templates, config, exc.code, locale))
    return exc


def page_words(templates: Templates, config: Config, locale: str | None = None) -> dict[str, str]:
    """The chat page's fixed words (templates/webchat/page_words.json.j2, one JSON object) in
    `locale`. Each file along the locale chain is laid over the English one, so a key a
    translation lacks still reads, in the next language of the chain."""
    context = {"program": config.program.for_locale(locale)}
    chain = [s for group in locale_chain(locale, templates.default_locale) for s in group]
    words: dict[str, str] = {}
    for suffix in reversed(chain):  # English first, the reader's own language last
        key = template_key(ChannelName.WEBCHAT, PAGE_WORDS, suffix, BLOCKS)
        if not templates.exists(key):
            continue
        loaded = json.loads(templates.env.get_template(key).render(context))
        if not isinstance(loaded, dict):
            raise ValueError(key + " must render one JSON object of words")  # for developers
        words.update({str(name): str(text) for name, text in loaded.items()})
    return words


def script_wording(
    templates: Templates, config: Config, locale: str | None = None
) -> dict[str, Any]:
    """The sentences chat.js shows itself, handed over by the page, so none is in the script;
    `page` holds the page's fixed words, which the page itself is written with too."""
    said: dict[str, Any] = {
        name: problem_text(templates, config, name, locale=locale, **details)
        for name, details in SCRIPT_PROBLEMS.items()
    }
    said["links"] = {
        str(status): "\n".join(link_problem(templates, config, reason, locale))
        for status, reason in SCRIPT_LINK_PROBLEMS.items()
    }
    said["page"] = page_words(templates, config, locale)
    return said


def webchat_address(contact_id: int) -> str:
    """How a contact is addressed on web chat: there is no phone number or user id, only them."""
    return f"contact:{contact_id}"


def contact_of_address(address: str) -> int | None:
    """The contact id in a `webchat_address`; None for anything else (ASCII digits only: "١٢"
    passes str.isdigit and int() reads it, but no address of ours is written that way)."""
    digits = address.removeprefix("contact:")
    if digits == address or not (digits.isascii() and digits.isdigit()) or len(digits) > 19:
        return None
    return int(digits)


class WebchatInbound:
    """Posts from the chat page and the widget: "verified" when their link is (signed with
    SECRET_KEY, not expired), read as the words they stand for."""

    name = ChannelName.WEBCHAT

    def __init__(self, links: WebchatLinks | None, config: Config, clock: Clock) -> None:
        self.links = links
        self.clock = clock
        self.max_chars = config.channels.webchat.max_chars
        keywords = config.keyword_set
        # The buttons stand for the words a customer would type, so they read the same in the
        # log and go through the same flows: Confirm is YES, Reopen is REOPEN.
        self.action_words = {
            "confirm": keywords.answer_word(Intent.CONFIRM),
            "reopen": keywords.answer_word(Intent.REOPEN),
        }

    def claim(self, token: str) -> LinkClaim:
        """What the link opens; raises when it is not valid, expired, or links are off."""
        if self.links is None:
            raise NotConfigured("web chat needs SECRET_KEY set on the server to sign its links")
        return self.links.read(token)

    def verify(self, request: Any) -> bool:
        try:
            self.claim(str((request.view_args or {}).get("token", "")))
        except KeeppostedError:
            return False
        return True

    def parse_inbound(self, request: Any) -> InboundMessage:
        """A post from the page (JSON) or its no-script form, as the words it stands for."""
        claim = self.claim(str((request.view_args or {}).get("token", "")))
        fields = _fields(request)
        client_id = fields.get("client_id") or uuid.uuid4().hex  # a form post without script
        if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
            raise InvalidInput(
                "client_id must be 16 to 64 letters, digits, - or _", field="client_id"
            )
        return InboundMessage(
            channel=self.name,
            sender=webchat_address(claim.contact_id),
            body=self.words(fields),
            # Unique per case: the page retries a lost post with the same client_id.
            provider_id=f"{claim.case_id}:{client_id}",
            received_at=self.clock.now(),
            case_id=claim.case_id,
        )

    def words(self, fields: Mapping[str, Any]) -> str:
        """The text a post stands for: typed words, or the word behind a button."""
        action = fields.get("action")
        if action is None or action == "":
            action = "text"
        if not isinstance(action, str):  # a list or an object is no key to look up
            raise InvalidInput("action must be confirm, reopen or rate", field="action")
        if action in self.action_words:
            return self.action_words[action]
        if action == "rate":
            return str(_score(fields.get("score")))
        if action != "text":
            raise InvalidInput("action must be confirm, reopen or rate", field="action")
        return self._text(fields.get("text"))

    def _text(self, text: Any) -> str:
        if not isinstance(text, str):
            raise InvalidInput("send your message as text", field="text")
        words: str = text.strip()
        if not words:
            raise NotSendable("empty")
        if len(words) > self.max_chars:
            raise MessageTooLong(
                "too_long", field="text", length=len(words), max_chars=self.max_chars
            )
        if unstorable(words) is not None or DELETE in words:
            raise NotSendable("unstorable")
        return words


class WebchatSender:
    """The page shows every sent message of the case: handing it over is all there is."""

    name = ChannelName.WEBCHAT

    def line_of(self, message: OutboundMessage) -> str:
        """No provider, no rate: one line."""
        return self.name

    def line_rate(self) -> float | None:
        return None

    def wait_turn(self, message: OutboundMessage) -> None:
        """The page reads the database: no provider, no rate."""

    def send(self, message: OutboundMessage) -> SendResult:
        return SendResult(provider_id=f"webchat-{message.message_id}")


def build(setup: ChannelSetup) -> ChannelParts:
    return ChannelParts(
        sender=WebchatSender(), inbound=WebchatInbound(setup.links, setup.config, setup.clock)
    )


def _score(score: Any) -> int:
    """A score as JSON sends it (5) or a form does ("5"). ASCII digits only: str.isdigit()
    also takes "²", which int() refuses, and int() refuses thousands of digits."""
    if isinstance(score, str) and score.isascii() and score.isdigit() and len(score) <= 3:
        score = int(score)
    if type(score) is not int or score not in SCORES:  # bool is an int, but no score
        raise InvalidInput("score must be a whole number from 1 to 5", field="score")
    return score


def _fields(request: Any) -> Mapping[str, Any]:
    if request.is_json:
        try:
            data = request.get_json(silent=True)
        except RecursionError:  # json gives up past the interpreter's recursion limit
            raise MalformedBody(
                "the JSON is nested too deeply to read; "
                'send a flat JSON object such as {"text": "..."}'
            ) from None
        if not isinstance(data, dict):
            raise InvalidInput('send a JSON object such as {"text": "..."}')
        return data
    form: Mapping[str, Any] = request.form
    return form
