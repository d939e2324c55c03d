"""The README's "Adding a channel" recipe, followed for a throwaway channel: a module's worth of
code (a sender and an inbound adapter), its templates, its registration and its web route, and
nothing else. The real registry, engine, flows, worker and outbox then carry a case over it
from the first update to the customer's YES and the thank-you."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask, Response, current_app, request
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot.app import create_app
from bot.clock import FrozenClock
from bot.config import Settings, parse_config
from bot.core import Core, create_core
from bot.engine.inbound import accept_inbound
from bot.errors import Forbidden, InvalidInput
from bot.resources import templates_root
from bot.store.models import Message
from bot.worker import tick
from channels.base import (
    ChannelParts,
    ChannelSetup,
    InboundMessage,
    OutboundMessage,
    SendResult,
)
from channels.catalog import ChannelTraits, forget_traits, register_traits
from channels.registry import forget_builder, register_builder
from tests.conftest import API_TOKEN, SECRET_KEY, TEST_CONFIG, case_of, log_events

NAME = "pigeon"
KEY = "pigeon-loft-key"
PHONE = "+12125550123"


# -- 1. the channel's module: a sender and an inbound adapter -------------------------------------


@dataclass
class PigeonSender:
    name: str = NAME
    flown: list[OutboundMessage] = field(default_factory=list)

    def line_of(self, message: OutboundMessage) -> str:
        return self.name

    def line_rate(self) -> float | None:
        return None

    def wait_turn(self, message: OutboundMessage) -> None:
        raise AssertionError("the pigeon's traits say it is not paced: nobody waits its turn")

    def send(self, message: OutboundMessage) -> SendResult:
        self.flown.append(message)
        return SendResult(provider_id=f"pigeon-{message.message_id}")


@dataclass
class PigeonInbound:
    setup: ChannelSetup
    name: str = NAME

    def verify(self, request: Any) -> bool:
        return hmac.compare_digest(request.headers.get("X-Pigeon-Key", ""), KEY)

    def parse_inbound(self, request: Any) -> InboundMessage:
        note = request.get_json(silent=True)
        if not isinstance(note, dict) or not isinstance(note.get("ring"), str):
            raise InvalidInput("a note names its ring", field="ring")
        return InboundMessage(
            channel=self.name,
            sender=str(note.get("from", "")),
            body=str(note.get("text", "")),
            provider_id=note["ring"],
            received_at=self.setup.clock.now(),
        )


def build(setup: ChannelSetup) -> ChannelParts:
    return ChannelParts(sender=PigeonSender(), inbound=PigeonInbound(setup))


# -- 2. its templates (here in an ops override folder; a shipped channel's go in templates/) --

TEMPLATES = {
    "interim": "Coo! {{ case.label }} is still being worked on.",
    "confirm_request": "Coo! {{ case.label }} is fixed: {{ case.resolution }} Send YES or REOPEN.",
    "confirm_thanks": "Coo! Thank you, {{ case.label }} is closed.",
}


# -- 3. its web route ---------------------------------------------------------------------------

pigeon_routes = Blueprint(NAME, __name__)


@pigeon_routes.post("/pigeon/inbound")
def inbound() -> Response:
    core: Core = current_app.extensions["keepposted"]
    adapter = core.channels.inbound(NAME, PigeonInbound)
    if adapter is None or not adapter.verify(request):
        raise Forbidden("X-Pigeon-Key is missing or wrong")
    accept_inbound(core, adapter.parse_inbound(request))
    return Response(status=204)


# -- 4. its registration, and the app around it -------------------------------------------------


@pytest.fixture
def pigeon_app(
    database_url: str, clock: FrozenClock, tmp_path: Path
) -> Iterator[tuple[Core, Flask]]:
    register_traits(
        ChannelTraits(
            NAME,
            address_field="phone",
            quiet_hours=False,
            paced=False,
            provider_keywords=False,
            buttons=False,
        )
    )
    register_builder(NAME, build)
    folder = tmp_path / "templates" / NAME
    folder.mkdir(parents=True)
    for name, text in TEMPLATES.items():
        (folder / f"{name}.txt.j2").write_text(text + "\n")
    config = parse_config(TEST_CONFIG | {"templates_dir": str(tmp_path / "templates")})
    settings = Settings(database_url=database_url, api_token=API_TOKEN, secret_key=SECRET_KEY)
    core = create_core(config, settings, clock=clock)  # the real registry, every channel built
    app = create_app(core=core)
    app.register_blueprint(pigeon_routes)
    try:
        yield core, app
    finally:
        core.engine.dispose()
        forget_builder(NAME)
        forget_traits(NAME)


def pigeon(core: Core) -> PigeonSender:
    sender = core.channels[NAME]
    assert isinstance(sender, PigeonSender)
    return sender


def note(client: FlaskClient, text: str, ring: str, key: str = KEY) -> int:
    answer = client.post(
        "/pigeon/inbound",
        json={"from": PHONE, "text": text, "ring": ring},
        headers={"X-Pigeon-Key": key},
    )
    return answer.status_code


def test_a_throwaway_channel_carries_a_case_from_update_to_confirmation(
    pigeon_app: tuple[Core, Flask], clock: FrozenClock
) -> None:
    core, app = pigeon_app
    client = app.test_client()
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    opened = client.post(
        "/api/v1/cases",
        json={
            "subject": "Loft door stuck",
            "priority": "P2",
            "contact": {"name": "Ada", "phone": PHONE, "channel": NAME},
        },
        headers=auth,
    )
    assert opened.status_code == 201, opened.get_json()
    case_id = opened.get_json()["id"]

    clock.advance(timedelta(hours=2, minutes=1))  # P2's first update is due after 2h
    tick(core, "test")
    assert [m.body for m in pigeon(core).flown] == [f"Coo! #{case_id} is still being worked on."]

    resolved = client.post(
        f"/api/v1/cases/{case_id}/resolve", json={"resolution": "Oiled the hinge."}, headers=auth
    )
    assert resolved.status_code == 200, resolved.get_json()
    tick(core, "test")
    assert pigeon(core).flown[-1].body == (
        f"Coo! #{case_id} is fixed: Oiled the hinge. Send YES or REOPEN."
    )

    assert note(client, "YES", ring="ring-1") == 204
    tick(core, "test")
    assert str(case_of(core, case_id).status) == "closed"
    assert log_events(core, case_id)[-2:] == ["customer_message", "confirmed"]
    thanks, csat = pigeon(core).flown[-2:]
    assert thanks.body == f"Coo! Thank you, #{case_id} is closed."
    # No pigeon wording for the score question: the shipped SMS wording stands in.
    assert csat.body == (Path(templates_root()) / "sms" / "csat_ask.txt.j2").read_text().strip()


def test_a_forged_note_is_refused_and_not_stored(pigeon_app: tuple[Core, Flask]) -> None:
    core, app = pigeon_app
    client = app.test_client()
    assert note(client, "YES", ring="ring-forged", key="guess") == 403
    with core.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0
