"""Shared fixtures: a migrated SQLite database per test, a frozen clock, fake channels, the app."""

from __future__ import annotations

import ipaddress
import shutil
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.serving import make_server

from bot.app import create_app
from bot.clock import FrozenClock
from bot.config import Config, Settings, parse_config
from bot.core import Core, create_core
from bot.demo.simulate import inbound_form
from bot.engine.inbound import InboundResult, handle_inbound
from bot.engine.links import build_links
from bot.store.migrate import upgrade
from bot.store.models import Case, LogEntry
from bot.worker import tick
from channels.base import InboundMessage, Sender
from channels.registry import ChannelRegistry
from channels.sms import EMPTY_TWIML, SmsInbound, SmsSender
from channels.webchat import WebchatInbound, WebchatSender
from tests.support.fake_slack import FakeSlack
from tests.support.fake_twilio import FakeTwilio, signed_post
from tests.support.fakes import FakeChannel
from tests.support.pg_server import PostgresServer, require_pg_bin, throwaway_postgres

if TYPE_CHECKING:
    from tests.support.slack_harness import SlackApp, Workspace

API_TOKEN = "test-api-token"
SECRET_KEY = "test-secret-key"
# A Monday, 10:00 in New York: outside the default quiet hours.
START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)

TEST_CONFIG: dict[str, Any] = {
    "timezone": "America/New_York",
    "program": {"name": "Acme support", "contact": "call 1-800-555-0199"},
    "quiet_hours": {"start": "21:00", "end": "08:00"},
    "cadences": {
        "default": {"first_after": "4h", "every": "24h"},
        "priority": {
            "P1": {"first_after": "30m", "every": "2h"},
            "P2": {"first_after": "2h", "every": "8h"},
        },
        "category": {"outage": {"first_after": "15m", "every": "1h"}},
        # Updates exactly on the cadence, so tests read the times they expect; the per-case
        # offset has its own tests (tests/flows/test_no_bursts.py).
        "jitter": 0,
    },
    "confirmation": {
        "reminder_after": "24h",
        "auto_close_after": "72h",
        "reopen_window": "7d",
        "csat": {"enabled": True, "window": "24h"},
    },
    "channels": {"slack": {"alerts_channel": "#alerts"}},
}


def _loopback_only(original: Any) -> Any:
    def connect(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise OSError(f"tests may not reach the internet (tried {host})")
        return original(self, address)

    return connect


# Markers that follow from what a test uses, so a new test is marked without anyone
# remembering to: `make test-quick` leaves out PostgreSQL and Chromium by these.
MARKER_BY_FIXTURE = {"pg_server": "postgres", "browser": "browser"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = getattr(item, "fixturenames", ())
        for fixture, marker in MARKER_BY_FIXTURE.items():
            if fixture in used:
                item.add_marker(marker)


@pytest.fixture(autouse=True, scope="session")
def _offline() -> Iterator[None]:
    """Any test that reaches beyond this machine fails."""
    original = socket.socket.connect
    socket.socket.connect = _loopback_only(original)  # type: ignore[method-assign]
    yield
    socket.socket.connect = original  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def database_url(tmp_path: Path, migrated_template: Path) -> str:
    target = tmp_path / "keepposted.db"
    shutil.copy(migrated_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def config() -> Config:
    return parse_config(TEST_CONFIG)


@pytest.fixture
def channels() -> dict[str, FakeChannel]:
    return {name: FakeChannel(name) for name in ("sms", "slack", "webchat")}


@contextmanager
def fake_channel_core(
    config: Config, database_url: str, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> Iterator[Core]:
    """A Core on `database_url` whose channels are the fakes; disposed on leaving."""
    built = create_core(
        config,
        Settings(database_url=database_url, api_token=API_TOKEN, secret_key=SECRET_KEY),
        clock=clock,
        channels=ChannelRegistry(dict(channels)),
    )
    try:
        yield built
    finally:
        built.engine.dispose()


@pytest.fixture
def core(
    config: Config, database_url: str, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> Iterator[Core]:
    with fake_channel_core(config, database_url, clock, channels) as built:
        yield built


@pytest.fixture
def chat_core(
    config: Config, database_url: str, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> Iterator[Core]:
    """The core with the real web chat channel (SMS and Slack stay fakes)."""
    settings = Settings(database_url=database_url, api_token=API_TOKEN, secret_key=SECRET_KEY)
    webchat = WebchatInbound(build_links(config, settings, clock), config, clock)
    senders: dict[str, Sender] = {**channels, "webchat": WebchatSender()}
    registry = ChannelRegistry(senders, {"webchat": webchat})
    built = create_core(config, settings, clock=clock, channels=registry)
    yield built
    built.engine.dispose()


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server per test module, stopped and deleted afterwards."""
    with throwaway_postgres(require_pg_bin()) as server:
        yield server


@pytest.fixture
def pg_core(
    pg_server: PostgresServer, config: Config, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> Iterator[Core]:
    """A fresh PostgreSQL database migrated from empty, and a Core on it like `core`."""
    url = pg_server.create_database(f"keepposted_{uuid.uuid4().hex[:16]}")
    upgrade(url)
    with fake_channel_core(config, url, clock, channels) as built:
        yield built


@pytest.fixture
def app(core: Core) -> Flask:
    return create_app(core=core)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def auth_header() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def auth() -> dict[str, str]:
    return auth_header()


class Customer:
    """Plays one customer: texts the engine and reads what the bot sent back."""

    def __init__(
        self, core: Core, channels: dict[str, FakeChannel], phone: str, channel: str = "sms"
    ) -> None:
        self.core, self.channel, self.phone = core, channels[channel], phone
        self.channel_name = channel
        self._sids = iter(range(1, 10_000))
        self._read = 0

    def says(self, text: str, *, sid: str | None = None, media: int = 0) -> InboundResult:
        result = handle_inbound(
            self.core,
            InboundMessage(
                channel=self.channel_name,
                sender=self.phone,
                body=text,
                provider_id=sid or f"SM{self.phone[-4:]}{next(self._sids):05d}",
                received_at=self.core.clock.now(),
                media_count=media,
            ),
        )
        tick(self.core, "test")
        return result

    def inbox(self) -> list[str]:
        """Messages received since the last look."""
        tick(self.core, "test")
        bodies = self.channel.bodies_to(self.phone)
        new, self._read = bodies[self._read :], len(bodies)
        return new


def verify_dialog(customer: Customer, dialog: list[tuple[str, list[str]]]) -> None:
    """Each customer line must get exactly the answers listed, by a fragment of each."""
    customer.inbox()  # forget what came before the dialog
    for says, expected in dialog:
        customer.says(says)
        got = customer.inbox()
        assert len(got) == len(expected), f"after {says!r} the bot sent {got!r}"
        for fragment, body in zip(expected, got, strict=True):
            assert fragment in body, f"after {says!r} expected {fragment!r} in {body!r}"


def open_case(client: FlaskClient, auth: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {
        "subject": "Internet down",
        "priority": "P2",
        "contact": {"name": "Maria Gomez", "phone": "+12125550101"},
    } | fields
    response = client.post("/api/v1/cases", json=body, headers=auth)
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def resolved_case(client: FlaskClient, auth: dict[str, str], **fields: Any) -> int:
    """Open a case (see open_case) and resolve it; returns its id."""
    case = open_case(client, auth, **fields)
    response = client.post(
        f"/api/v1/cases/{case['id']}/resolve",
        json={"resolution": "We replaced the line card."},
        headers=auth,
    )
    assert response.status_code == 200, response.get_json()
    return int(case["id"])


def case_of(core: Core, case_id: int) -> Case:
    """The case as stored now."""
    with core.sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case


def log_events(core: Core, case_id: int) -> list[str]:
    """The case's log events, in order."""
    with core.sessions() as session:
        return list(
            session.scalars(
                select(LogEntry.event).where(LogEntry.case_id == case_id).order_by(LogEntry.seq)
            )
        )


def later(clock: FrozenClock, core: Core, **delta: float) -> None:
    """Move time on and let the worker run once."""
    clock.advance(timedelta(**delta))
    tick(core, "test")


# -- SMS over real HTTP: the app on an ephemeral port, Twilio faked by -----------------------------

SMS_FROM = "+15005550006"


@dataclass
class LiveApp:
    """The app served over real HTTP, reached by signed webhooks as Twilio would reach it."""

    url: str
    core: Core
    client: FlaskClient  # for the REST API; webhooks go over HTTP

    @property
    def sms(self) -> SmsSender:
        channel = self.core.channels["sms"]
        assert isinstance(channel, SmsSender)
        return channel

    @property
    def sms_inbound(self) -> SmsInbound:
        channel = self.core.channels.inbound("sms", SmsInbound)
        assert channel is not None
        return channel


def sms_config(public_url: str, **sms: Any) -> Config:
    channels = {**TEST_CONFIG["channels"], "sms": {"from": SMS_FROM, "mps": 1000} | sms}
    return parse_config(TEST_CONFIG | {"public_url": public_url, "channels": channels})


@contextmanager
def serve_app(build: Callable[[str], Core]) -> Iterator[tuple[str, Core, Flask]]:
    """The app over real HTTP on an ephemeral port; `build` makes its core from the port's URL
    (a public_url that Twilio signs against or a web chat link points to)."""
    target: dict[str, Flask] = {}
    server = make_server(
        "127.0.0.1", 0, lambda environ, start: target["app"](environ, start), threaded=True
    )
    url = f"http://127.0.0.1:{server.port}"
    core = build(url)
    target["app"] = create_app(core=core)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield url, core, target["app"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        for channel in core.channels.values():
            close = getattr(channel, "close", None)
            if close is not None:
                close()
        core.engine.dispose()


@contextmanager
def serve_live(
    database_url: str,
    clock: FrozenClock,
    fake: FakeTwilio,
    *,
    public_url: str | None = None,
    **sms: Any,
) -> Iterator[LiveApp]:
    """Serve the app with the real SMS channel pointed at the fake Twilio."""
    settings = Settings(
        database_url=database_url,
        api_token=API_TOKEN,
        secret_key=SECRET_KEY,
        twilio_account_sid=fake.account_sid,
        twilio_auth_token=fake.auth_token,
        twilio_api_base_url=fake.url,
    )

    def build(url: str) -> Core:
        return create_core(sms_config(public_url or url, **sms), settings, clock=clock)

    with serve_app(build) as (url, core, app):
        yield LiveApp(url, core, app.test_client())


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def live(database_url: str, clock: FrozenClock, fake_twilio: FakeTwilio) -> Iterator[LiveApp]:
    with serve_live(database_url, clock, fake_twilio) as served:
        yield served


class Phone:
    """A customer's phone: texts the app through signed webhooks, reads what Twilio got."""

    def __init__(self, live: LiveApp, fake: FakeTwilio, number: str) -> None:
        self.live, self.fake, self.number = live, fake, number
        self._read = 0

    def post(self, body: str, *, sid: str | None = None, **fields: str) -> requests.Response:
        form = inbound_form(self.live.core.config, self.number, body, sid=sid) | fields
        return signed_post(f"{self.live.url}/sms/inbound", form, auth_token=self.fake.auth_token)

    def texts(self, body: str, *, sid: str | None = None, **fields: str) -> list[str]:
        """Send a text; returns what the app texted back once its worker answered it."""
        response = self.post(body, sid=sid, **fields)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/xml")
        assert response.text == EMPTY_TWIML  # the webhook only stores; the worker answers
        return self.inbox()

    def inbox(self) -> list[str]:
        """Texts Twilio was asked to send to this phone since the last look (after a tick)."""
        tick(self.live.core, "test")
        bodies = [m.body for m in self.fake.messages if m.to == self.number]
        new, self._read = bodies[self._read :], len(bodies)
        return new


# -- Slack over real HTTP: tests/support/slack_harness.py, Slack's Web API faked by ----------------


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def slack_app(database_url: str, clock: FrozenClock, fake_slack: FakeSlack) -> Iterator[SlackApp]:
    from tests.support.slack_harness import serve_slack  # it builds on this module's test config

    with serve_slack(database_url, clock, fake_slack) as served:
        yield served


@pytest.fixture
def workspace(slack_app: SlackApp, fake_slack: FakeSlack) -> Workspace:
    from tests.support.slack_harness import Workspace

    return Workspace(slack_app, fake_slack)
