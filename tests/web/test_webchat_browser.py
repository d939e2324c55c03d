"""The web chat page in a real browser: Playwright drives Debian's Chromium (/usr/bin/chromium)
against the app served on an ephemeral port, with a worker sending beside it.

Screenshots of the page on a phone and on a desktop are saved under test-artifacts/screenshots/
(KEEPPOSTED_ARTIFACTS overrides the folder) for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, or_, select

from bot.clock import FrozenClock
from bot.domain import Direction, OutboxStatus
from bot.store.models import Message, Outbox
from tests.conftest import log_events
from tests.support.ci import missing
from tests.support.webchat_harness import LiveChat, serve_chat

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - the test extra installs it
    sync_playwright = None  # type: ignore[assignment]

CHROMIUM = os.environ.get("KEEPPOSTED_CHROMIUM", "/usr/bin/chromium")
# Chromium on a machine with no network: no sandbox as root, no calls home.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LIVE = 3_000  # ms: a new message must show within 3 seconds, without a reload
ARTIFACTS = Path(os.environ.get("KEEPPOSTED_ARTIFACTS", "test-artifacts")) / "screenshots"
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}

# Every test here drives Chromium (the `browser` fixture marks them too, tests/conftest.py).
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if sync_playwright is None:
        missing("playwright is not installed (pip install -e '.[test]')")
    if not shutil.which(CHROMIUM):
        missing(f"Chromium is not at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def chat(database_url: str, clock: FrozenClock) -> Iterator[LiveChat]:
    with serve_chat(database_url, clock) as served:
        yield served


class Watched:
    """A page that records what would betray a broken page: script errors, CSP refusals,
    dialogs (an XSS payload's alert)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        page.on("console", self._console)
        page.on("dialog", self._dialog)

    def _console(self, message: Any) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.problems.append(f"console: {message.text}")

    def _dialog(self, dialog: Any) -> None:
        self.problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()


@pytest.fixture
def page(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(**PHONE)
    watched = Watched(context.new_page())
    yield watched
    context.close()
    assert watched.problems == []


def all_sent(chat: LiveChat, case_id: int) -> bool:
    """The worker beside the app has answered every customer message of the case and sent
    everything queued for it."""
    with chat.core.sessions() as session:
        unanswered = select(Message.id).where(
            Message.case_id == case_id,
            Message.direction == Direction.IN,
            Message.handled_at.is_(None),
        )
        queued = select(Outbox.id).where(
            Outbox.case_id == case_id,
            Outbox.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]),
        )
        waiting = session.scalar(
            select(func.count()).where(or_(unanswered.exists(), queued.exists()))
        )
    return not waiting


def wait_until_sent(chat: LiveChat, case_id: int, timeout: float = 10.0) -> None:
    """Return as soon as `all_sent`; the worker runs every 100 ms, so this is one or two looks."""
    deadline = time.monotonic() + timeout
    while not all_sent(chat, case_id):
        if time.monotonic() > deadline:
            raise AssertionError(f"the worker left case {case_id}'s messages unsent")
        time.sleep(0.02)  # the next look at the database, not a guess at how long


def timeline(page: Page) -> Any:
    return page.get_by_role("log", name="Messages about your case")


def test_an_update_arrives_live_and_the_customer_replies(chat: LiveChat, page: Watched) -> None:
    case_id, link = chat.open_case(subject="Internet down since Friday")
    page.page.goto(link)
    expect(page.page.get_by_role("heading", level=1)).to_contain_text("Internet down since Friday")
    expect(page.page.locator("#status-text")).to_have_text("We are working on it")

    started = time.monotonic()
    chat.act(case_id, "updates", text="An engineer is booked for 2pm today.")
    expect(timeline(page.page)).to_contain_text(
        "An engineer is booked for 2pm today.", timeout=LIVE
    )
    print(f"update shown {time.monotonic() - started:.2f}s after the agent sent it")

    reply = page.page.get_by_label("Your message")
    reply.fill("Will they need to come inside?")
    page.page.get_by_role("button", name="Send").click()
    expect(timeline(page.page)).to_contain_text("Will they need to come inside?", timeout=LIVE)
    expect(reply).to_have_value("")
    expect(timeline(page.page)).to_contain_text("passed to the team", timeout=LIVE)
    assert "customer_message" in log_events(chat.core, case_id)


def test_confirm_closes_the_case_and_asks_for_a_score(chat: LiveChat, page: Watched) -> None:
    case_id, link = chat.open_case()
    page.page.goto(link)
    confirm = page.page.get_by_role("button", name="Yes, it's fixed")
    expect(confirm).to_be_hidden()
    chat.act(case_id, "resolve", resolution="We replaced the line card at your exchange.")
    expect(confirm).to_be_visible(timeout=LIVE)  # the question arrives without a reload
    expect(page.page.locator("#resolution-text")).to_have_text(
        "We replaced the line card at your exchange."
    )
    confirm.click()
    expect(page.page.locator("#status-text")).to_have_text("Closed", timeout=LIVE)
    assert chat.case(case_id)["status"] == "closed"
    assert "confirmed" in log_events(chat.core, case_id)

    page.page.get_by_role("button", name="4 out of 5").click()
    expect(page.page.get_by_role("button", name="Still not fixed? Reopen")).to_be_visible(
        timeout=LIVE
    )
    expect(timeline(page.page)).to_contain_text("Thanks for your feedback (4/5)", timeout=LIVE)
    assert chat.case(case_id)["csat_score"] == 4
    assert log_events(chat.core, case_id)[-1] == "csat_received"


def test_reopen_puts_the_case_back_in_the_team_s_hands(chat: LiveChat, page: Watched) -> None:
    case_id, link = chat.open_case()
    chat.act(case_id, "resolve", resolution="Reset your line.")
    page.page.goto(link)
    page.page.get_by_role("button", name="No, reopen it").click()
    expect(page.page.locator("#status-text")).to_have_text("We are working on it", timeout=LIVE)
    expect(page.page.get_by_role("button", name="Yes, it's fixed")).to_be_hidden()
    assert chat.case(case_id)["status"] == "open"
    assert {"reopen_requested", "reopened"} <= set(log_events(chat.core, case_id))
    expect(timeline(page.page)).to_contain_text("open again", timeout=LIVE)


def test_html_from_the_customer_or_the_agent_is_shown_as_text(
    chat: LiveChat, page: Watched
) -> None:
    payload = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    case_id, link = chat.open_case(subject=f"Broken {payload}")
    chat.act(case_id, "updates", text=f"Agent wrote {payload}")
    page.page.goto(link)
    expect(timeline(page.page)).to_contain_text(f"Agent wrote {payload}", timeout=LIVE)
    expect(page.page.get_by_role("heading", level=1)).to_contain_text(payload)
    page.page.get_by_label("Your message").fill(f"Customer wrote {payload}")
    page.page.keyboard.press("Control+Enter")
    expect(timeline(page.page)).to_contain_text(f"Customer wrote {payload}", timeout=LIVE)
    assert page.page.locator("#timeline img, #timeline script").count() == 0
    # The page's fixture fails the test if any alert() ran or the CSP refused anything.


def test_an_expired_link_shows_a_friendly_page(
    chat: LiveChat, page: Watched, clock: FrozenClock
) -> None:
    _, link = chat.open_case()
    page.page.goto(link)
    expect(page.page.locator("#status-text")).to_have_text("We are working on it")
    clock.advance(chat.core.config.channels.webchat.link_ttl)
    clock.advance(chat.core.config.worker.send_every)
    # The open page learns at its next poll and stops, keeping what the customer typed.
    page.page.get_by_label("Your message").fill("are you there?")
    expect(page.page.locator("#fatal-error")).to_contain_text("expired", timeout=LIVE)
    expect(page.page.get_by_label("Your message")).to_have_value("are you there?")
    page.problems.clear()  # the browser logs the 410s themselves as errors
    response = page.page.goto(link)
    assert response is not None and response.status == 410
    expect(page.page.get_by_role("heading", level=1)).to_have_text("This link has expired")
    page.problems.clear()


def test_the_widget_opens_the_chat_inside_a_company_site(chat: LiveChat, page: Watched) -> None:
    _, link = chat.open_case(subject="Router keeps rebooting")
    token = link.rsplit("/c/", 1)[1]
    page.page.goto(f"{chat.url}/widget/example?kp_chat={token}")
    page.page.get_by_role("button", name="Chat about your case").click()
    launcher = page.page.locator("#keepposted-launcher")  # hidden under the panel on a phone
    expect(launcher).to_have_attribute("aria-expanded", "true")
    frame = page.page.frame_locator("#keepposted-frame")
    expect(frame.get_by_role("heading", level=1)).to_contain_text("Router keeps rebooting")
    frame.get_by_label("Your message").fill("Sent from the widget")
    frame.get_by_role("button", name="Send").click()
    expect(frame.get_by_role("log")).to_contain_text("Sent from the widget", timeout=LIVE)
    page.page.keyboard.press("Escape")
    expect(page.page.locator("#keepposted-panel")).to_be_hidden()
    expect(launcher).to_be_focused()


def test_keyboard_only_customer_can_answer(chat: LiveChat, page: Watched) -> None:
    case_id, link = chat.open_case()
    chat.act(case_id, "resolve", resolution="Replaced the router.")
    page.page.goto(link)
    for _ in range(20):  # Tab through the page until the Confirm button has focus
        page.page.keyboard.press("Tab")
        if page.page.evaluate("document.activeElement.textContent") == "Yes, it's fixed":
            break
    else:
        pytest.fail("Tab never reached the Confirm button")
    page.page.keyboard.press("Enter")
    expect(page.page.locator("#status-text")).to_have_text("Closed", timeout=LIVE)


def test_after_yes_the_score_buttons_are_in_view_on_a_phone(chat: LiveChat, page: Watched) -> None:
    """The score question says the buttons are under the conversation: after a YES they show
    there, in view, without the customer scrolling, however long the conversation is."""
    case_id, link = chat.open_case()
    for n in range(1, 7):
        chat.act(case_id, "updates", text=f"Update {n}: the engineer is still on it.")
    wait_until_sent(chat, case_id)
    chat.act(case_id, "resolve", resolution="We replaced the line card at your exchange.")
    page.page.goto(link)
    confirm = page.page.get_by_role("button", name="Yes, it's fixed")
    expect(confirm).to_be_in_viewport()  # the page opens on the answer it waits for
    confirm.click()
    expect(timeline(page.page)).to_contain_text("Tap a score", timeout=LIVE)
    score = page.page.get_by_role("button", name="4 out of 5")
    expect(score).to_be_in_viewport()
    below_timeline = page.page.evaluate(
        "document.getElementById('timeline').compareDocumentPosition("
        "document.getElementById('answer')) & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    assert below_timeline  # where the words say they are


@pytest.mark.parametrize(
    ("screen", "shown"), [(PHONE, False), (DESKTOP, True)], ids=["touch", "desktop"]
)
def test_the_keyboard_shortcut_hint_shows_only_with_a_mouse_and_keyboard(
    chat: LiveChat, browser: Browser, screen: dict[str, Any], shown: bool
) -> None:
    _, link = chat.open_case()
    context = browser.new_context(**screen)
    watched = Watched(context.new_page())
    watched.page.goto(link)
    hint = watched.page.get_by_text("Press Ctrl+Enter")
    if shown:
        expect(hint).to_be_visible()
    else:
        expect(hint).to_be_hidden()
    watched.page.get_by_label("Your message").fill("Sent with the shortcut")
    watched.page.get_by_label("Your message").press("Control+Enter")  # works either way
    expect(timeline(watched.page)).to_contain_text("Sent with the shortcut", timeout=LIVE)
    context.close()
    assert watched.problems == []


def test_a_spanish_page_speaks_spanish_from_its_script_too(chat: LiveChat, page: Watched) -> None:
    case_id, link = chat.open_case(contact={"phone": "+12125550101", "locale": "es"})
    chat.act(case_id, "resolve", resolution="Cambiamos el router.")
    page.page.goto(link)
    expect(page.page.locator("html")).to_have_attribute("lang", "es")
    expect(page.page.get_by_role("button", name="Sí, está resuelto")).to_be_visible()
    max_chars = chat.core.config.channels.webchat.max_chars
    reply = page.page.get_by_label("Su mensaje")
    reply.fill("x" * (max_chars - 5))
    # The counter chat.js writes near the limit, in the page's language.
    expect(page.page.locator("#reply-count-live")).to_have_text("Quedan 5 caracteres")
    reply.fill("   ")
    page.page.get_by_role("button", name="Enviar").click()
    expect(page.page.locator("#reply-error")).to_have_text("Escriba un mensaje primero.")
    page.page.get_by_role("button", name="No, reabrir").click()
    expect(page.page.get_by_role("log", name="Mensajes sobre su caso")).to_contain_text(
        "Usted", timeout=LIVE
    )


@pytest.mark.parametrize(("name", "screen"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_screenshots(
    chat: LiveChat, browser: Browser, clock: FrozenClock, name: str, screen: dict[str, Any]
) -> None:
    """A case with some history, awaiting the customer's word, as they would see it."""
    case_id, link = chat.open_case(
        subject="Home internet drops every evening",
        contact={"name": "Maria Gomez", "phone": "+12125550101"},
    )
    chat.act(case_id, "updates", text="We found noise on your line and booked an engineer.")
    path = link.removeprefix(chat.url)
    asked = chat.api.post(f"{path}/messages", json={"text": "Will they need to come inside?"})
    assert asked.status_code == 201
    wait_until_sent(chat, case_id)  # the update, the question and its answer come first
    chat.act(case_id, "resolve", resolution="The engineer replaced the faulty cable at the box.")
    context = browser.new_context(**screen)
    watched = Watched(context.new_page())
    watched.page.goto(link)
    expect(watched.page.get_by_role("button", name="Yes, it's fixed")).to_be_visible()
    expect(timeline(watched.page)).to_contain_text("Reply YES", timeout=LIVE)
    watched.page.get_by_label("Your message").fill("Thanks, I'll check tonight.")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"webchat-{name}.png"
    watched.page.screenshot(path=str(shot), full_page=True)
    context.close()
    assert shot.stat().st_size > 10_000 and watched.problems == []
