"""Web chat: the customer's page `GET /c/<token>`, its JSON API `GET|POST /c/<token>/messages`,
and `/widget.js`, which embeds the same page in a company's own site.

Every request goes link -> case -> engine: the signed link is checked first (403 when it is not
ours, 410 when it expired or was replaced), then the case it opens. A post is answered at once
through the same flows as an SMS (so Confirm shows the case closed before the page polls again);
if answering fails, the words are kept for the worker. Posting is rate-limited per contact,
counted in the database so every web process sees the same count, and counted in the
transaction that stores the post, holding the contact, so a burst cannot slip past the count.

Every sentence the customer reads is a template, in their language: the page's fixed words
come from templates/webchat/page_words.json.j2, a refused post's words from problem.txt.j2, a
link's problem from link_error.txt.j2, whether it shows on the page, as the JSON error's
message, or in chat.js (the page hands the script its wording).
"""

from __future__ import annotations

import logging
import math
import secrets
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session, joinedload

from bot.core import Core
from bot.engine.inbound import answer_or_keep
from bot.engine.messages import contact_locale
from bot.errors import InvalidInput, KeeppostedError, NotConfigured
from bot.render import UNSUFFIXED_LOCALE
from bot.resources import static_root
from bot.store.models import Case, Contact
from bot.web.webchat_view import (
    answer_state,
    case_view,
    hold_poster,
    message_authors,
    message_view,
    recent_posts,
    stored_post,
    timeline,
)
from channels.base import InboundMessage
from channels.catalog import ChannelName
from channels.webchat import (
    MessageTooLong,
    PostingTooFast,
    WebchatInbound,
    in_words,
    link_problem,
    page_words,
    script_wording,
)
from flows.interim import contact_zone

webchat_routes = Blueprint(ChannelName.WEBCHAT, __name__)

STATIC = static_root(ChannelName.WEBCHAT)
EXAMPLE_PAGE = STATIC / "example.html"
MAX_POST_BYTES = 32 * 1024  # a reply of max_chars in JSON is far below this
RATE_WINDOW = timedelta(minutes=1)
# Why a link failed, for the friendly page: its status and the template's wording key.
LINK_PROBLEMS = {"link_not_valid": 403, "link_expired": 410, "link_replaced": 410}
logger = logging.getLogger(__name__)


def _core() -> tuple[Core, WebchatInbound]:
    core: Core = current_app.extensions["keepposted"]
    channel = core.channels.inbound(ChannelName.WEBCHAT, WebchatInbound)
    if channel is None:
        raise NotConfigured("web chat is not set up on this server")
    return core, channel


def _open_case(session: Session, core: Core, channel: WebchatInbound, token: str) -> Case:
    """The case a link opens, or LinkNotValid / LinkGone / NotConfigured."""
    claim = channel.claim(token)
    assert core.links is not None  # claim() refuses when there are no links
    case = session.get(Case, claim.case_id, options=[joinedload(Case.contact)])
    return core.links.check_current(claim, case)


@webchat_routes.after_request
def security_headers(response: Response) -> Response:
    core, _ = _core()
    embedders = " ".join(core.config.channels.webchat.embed_origins)
    # The example page is a company site holding the chat in the widget's frame.
    frames = "frame-src 'self'; " if request.endpoint == "webchat.widget_example" else ""
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'; form-action 'self'; base-uri 'none'; {frames}"
        f"frame-ancestors 'self' {embedders}".rstrip()
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    # The link is the customer's key: never hand it to another site in a Referer header
    # (same-origin, not no-referrer, so the page's own posts still carry their Origin).
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "webchat.widget":
        response.headers["Cache-Control"] = "no-store"
    return response


@webchat_routes.get("/c/<token>")
def page(token: str) -> Response | tuple[str, int]:
    core, channel = _core()
    try:
        return Response(_render_page(core, channel, token))
    except KeeppostedError as exc:
        return _problem_page(core, exc, _reader_locale(core, channel, token))


def _reader_locale(core: Core, channel: WebchatInbound, token: str) -> str:
    """The language to explain a problem in: the locale of the contact the link was made for,
    while the link still says who that is (a replaced one does; an expired one no longer
    opens), else the browser's preferred language among those we have words in, else the
    program's."""
    try:
        claim = channel.claim(token)
    except KeeppostedError:
        claim = None
    if claim is not None:
        with core.readers() as session:
            contact = session.get(Contact, claim.contact_id)
            if contact is not None:
                return contact_locale(contact, core)
    ours = [core.config.program.locale, UNSUFFIXED_LOCALE, *sorted(core.templates.translations())]
    return request.accept_languages.best_match(ours) or core.config.program.locale


def _render_page(core: Core, channel: WebchatInbound, token: str, **form: Any) -> str:
    now = core.clock.now()
    with core.readers() as session:
        case = _open_case(session, core, channel, token)
        shown = timeline(session, core, case, 0, now)
        wording = script_wording(core.templates, core.config, contact_locale(case.contact, core))
        return core.templates.page(
            ChannelName.WEBCHAT,
            "page",
            {
                "program": core.config.program.for_locale(contact_locale(case.contact, core)),
                "case": case_view(core, case),
                "state": answer_state(core, case, now),
                "messages": shown.messages,
                "cursor": shown.cursor,
                "urls": {
                    "messages": url_for(".messages", token=token),
                    "css": url_for("static", filename="webchat/chat.css"),
                    "js": url_for("static", filename="webchat/chat.js"),
                },
                "max_chars": channel.max_chars,
                "words": wording["page"],
                "wording": wording,
                "embed": request.args.get("embed") == "1",
                # The no-script form's post id: sending the same form twice stores it once.
                "form_id": secrets.token_hex(16),
                "error": form.get("error", ""),
                "draft": form.get("draft", ""),
            },
        )


def _problem_page(core: Core, exc: KeeppostedError, locale: str) -> tuple[str, int]:
    status = LINK_PROBLEMS.get(exc.code, exc.http_status)
    title, explanation = link_problem(core.templates, core.config, exc.code, locale)
    html = core.templates.page(
        ChannelName.WEBCHAT,
        "link_error",
        {
            "program": core.config.program.for_locale(locale),
            "lang": locale,
            "words": page_words(core.templates, core.config, locale),
            "status": status,
            "reason": exc.code,
            "title": title,
            "explanation": explanation,
            "css_url": url_for("static", filename="webchat/chat.css"),
        },
    )
    return html, status


@webchat_routes.get("/c/<token>/messages")
def messages(token: str) -> Response:
    core, channel = _core()
    after = request.args.get("after", "0")
    if not (after.isascii() and after.isdigit() and len(after) <= 18):
        raise InvalidInput("after must be a message id (a whole number)", field="after")
    now = core.clock.now()
    with core.readers() as session:
        try:
            case = _open_case(session, core, channel, token)
        except KeeppostedError as exc:
            locale = _reader_locale(core, channel, token)
            raise in_words(core.templates, core.config, exc, locale) from None
        shown = timeline(session, core, case, int(after), now)
        return jsonify(
            {
                "case": case_view(core, case),
                "state": answer_state(core, case, now),
                "messages": shown.messages,
                "cursor": shown.cursor,
            }
        )


@webchat_routes.post("/c/<token>/messages")
def post_message(token: str) -> ResponseReturnValue:
    core, channel = _core()
    try:
        return _post(core, channel, token)
    except KeeppostedError as exc:
        locale = _reader_locale(core, channel, token)
        in_words(core.templates, core.config, exc, locale)
        if request.is_json:
            raise  # the app's JSON error, with Retry-After on a 429
        if exc.code in LINK_PROBLEMS or exc.http_status >= 500:
            return _problem_page(core, exc, locale)
        # The no-script form: the page again, with the problem and the words still in the box.
        draft = request.form.get("text", "")
        return _render_page(core, channel, token, error=exc.message, draft=draft), exc.http_status


def _post(core: Core, channel: WebchatInbound, token: str) -> ResponseReturnValue:
    if (request.content_length or 0) > MAX_POST_BYTES:
        raise MessageTooLong("too_big", kb=MAX_POST_BYTES // 1024)
    with core.readers() as session:
        case = _open_case(session, core, channel, token)
        zone = str(contact_zone(case.contact, core.config))
        locale = contact_locale(case.contact, core)
        authors = message_authors(core, case.contact)
        contact_id = case.contact_id
        inbound = channel.parse_inbound(request)
    duplicate = _answer_within_limit(core, contact_id, inbound)
    if not request.is_json:
        return redirect(url_for(".page", token=token), 303)  # post, redirect, get
    with core.readers() as session:
        stored = stored_post(session, inbound.provider_id)
        assert stored is not None  # answered, or kept for the worker: stored either way
        body = {
            "message": message_view(stored, None, authors, zone, locale),
            "duplicate": duplicate,
        }
    return jsonify(body), 200 if duplicate else 201


def _answer_within_limit(core: Core, contact_id: int, inbound: InboundMessage) -> bool:
    """Store and answer a post unless its contact is over the rate limit; True for a post
    already stored. The count runs in the transaction that stores the post, holding the
    contact (a row lock; SQLite's write lock), so concurrent posts cannot all pass one count.
    If answering fails, the words are kept for the worker (`answer_or_keep`)."""

    def admit(session: Session) -> None:
        hold_poster(session, contact_id)
        if stored_post(session, inbound.provider_id) is None:  # a retry is not a new post
            _check_rate(session, core, inbound.sender)

    return answer_or_keep(core, inbound, admit=admit).duplicate


def _check_rate(session: Session, core: Core, address: str) -> None:
    now = core.clock.now()
    posts = recent_posts(session, address, now - RATE_WINDOW)
    limit = core.config.channels.webchat.posts_per_minute
    if len(posts) >= limit:
        wait = math.ceil((posts[-limit] + RATE_WINDOW - now).total_seconds())
        raise PostingTooFast(count=len(posts), seconds=max(wait, 1))


@webchat_routes.get("/widget.js")
def widget() -> Response:
    response = Response((STATIC / "widget.js").read_bytes(), mimetype="text/javascript")
    response.cache_control.public, response.cache_control.max_age = True, 3600
    # Any site may load the script; that is what it is for.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@webchat_routes.get("/widget/example")
def widget_example() -> Response:
    """The documented example host page (static/webchat/example.html): open it with
    ?kp_chat=<token>."""
    return Response(EXAMPLE_PAGE.read_bytes(), mimetype="text/html")
