"""/admin in a real browser: Playwright drives Debian's Chromium against the app on an ephemeral
port, over the demo's data (`keepposted demo` with a week of past cases). It signs in, opens a
case and the chart page, and saves screenshots under test-artifacts/screenshots/ for a person to
look at. Script errors and Content-Security-Policy refusals fail the test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from bot.clock import FrozenClock
from bot.config import Settings, parse_config
from bot.core import Core, create_core
from bot.demo.seed import seed
from channels.registry import ChannelRegistry
from tests.conftest import API_TOKEN, SECRET_KEY, TEST_CONFIG, serve_app
from tests.support.fakes import FakeChannel
from tests.web.test_webchat_browser import ARTIFACTS, DESKTOP, Watched, browser  # noqa: F401

ADMIN_TOKEN = "browser-admin-token"

# Drives Chromium (the `browser` fixture marks it too, tests/conftest.py).
pytestmark = pytest.mark.browser


@pytest.fixture
def admin_site(database_url: str, clock: FrozenClock) -> Iterator[tuple[str, Core]]:
    settings = Settings(
        database_url=database_url,
        api_token=API_TOKEN,
        secret_key=SECRET_KEY,
        admin_token=ADMIN_TOKEN,
    )
    fakes = ChannelRegistry({name: FakeChannel(name) for name in ("sms", "slack", "webchat")})

    def build(url: str) -> Core:
        config = parse_config(TEST_CONFIG | {"public_url": url})
        return create_core(config, settings, clock=clock, channels=fakes)

    with serve_app(build) as (url, core, _):
        seed(core, lambda line: None, history_days=7)  # `keepposted demo`, a shorter past
        yield url, core


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Watched]:  # noqa: F811
    context = browser.new_context(**DESKTOP)
    watched = Watched(context.new_page())
    yield watched
    context.close()
    assert watched.problems == []


def test_sign_in_open_a_case_and_read_the_charts(
    admin_site: tuple[str, Core], desktop: Watched
) -> None:
    url, _ = admin_site
    page = desktop.page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{url}/admin/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to the ops view")
    page.get_by_label("Your name").fill("Quinn QA")
    page.get_by_label("Admin token").fill("not the token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That token is not right.")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as")).to_contain_text("Quinn QA")

    cases = page.locator("#case-list")
    expect(cases).to_contain_text("Home internet down")  # the demo's P1 outage
    page.screenshot(path=ARTIFACTS / "admin-cases.png", full_page=True)
    page.get_by_label("Priority").select_option("P1")
    page.get_by_role("button", name="Filter").click()
    expect(cases.locator("tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Reopened").click()
    expect(cases).to_contain_text("Bill shows a double charge")
    cases.get_by_role("link", name="#").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Bill shows a double charge")
    expect(page.locator("#timeline")).to_contain_text("I was charged twice again")
    expect(page.locator("#log-state")).to_contain_text("chain intact")
    expect(page.locator("#summary")).to_contain_text("got in touch on")
    expect(page.locator("#audit")).to_contain_text("notes viewed")
    new_note = page.locator("#notes form").first  # the edit forms of older notes come after
    new_note.get_by_label("Text").fill("Called the customer; happy with the fix.")
    new_note.get_by_label("Tags").fill("callback")
    new_note.get_by_role("button", name="Add note").click()
    expect(page.locator("#notes")).to_contain_text("Called the customer; happy with the fix.")
    expect(page.locator("#notes")).to_contain_text("#callback")
    page.screenshot(path=ARTIFACTS / "admin-case.png", full_page=True)

    page.get_by_role("link", name="Charts").click()
    expect(page.locator("body")).to_have_attribute("data-charts-drawn", "1", timeout=15_000)
    for chart in ("rates", "confirm", "updates", "ontime"):
        expect(page.locator(f"#chart-{chart} .main-svg").first).to_be_visible()
    expect(page.locator("#totals")).to_contain_text("Confirmation rate")
    page.screenshot(path=ARTIFACTS / "admin-charts.png", full_page=True)
