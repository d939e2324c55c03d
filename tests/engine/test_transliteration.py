"""With channels.sms.transliterate on, a Spanish SMS goes out in GSM-7 (á as a), stored as
sent; a text transliteration cannot make GSM-7 goes as written; other channels keep accents."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from bot.app import create_app
from bot.clock import FrozenClock
from bot.config import parse_config
from bot.core import Core
from channels.segments import count_segments
from tests.conftest import TEST_CONFIG, Customer, fake_channel_core, later, open_case
from tests.support.fakes import FakeChannel

PHONE = "+12125550101"


@pytest.fixture
def gsm_core(
    database_url: str, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> Iterator[Core]:
    sms = {"transliterate": True}
    config = parse_config(TEST_CONFIG | {"channels": TEST_CONFIG["channels"] | {"sms": sms}})
    with fake_channel_core(config, database_url, clock, channels) as built:
        yield built


@pytest.fixture
def gsm_client(gsm_core: Core) -> FlaskClient:
    return create_app(core=gsm_core).test_client()


def test_a_spanish_update_goes_in_gsm7(
    gsm_core: Core,
    gsm_client: FlaskClient,
    auth: dict[str, str],
    clock: FrozenClock,
    channels: dict[str, FakeChannel],
) -> None:
    contact = {"phone": PHONE, "locale": "es"}
    case = open_case(gsm_client, auth, subject="Línea caída", contact=contact)
    lucia = Customer(gsm_core, channels, PHONE)
    later(clock, gsm_core, hours=2, minutes=1)
    [update] = lucia.inbox()
    assert update.startswith(f"Novedades del caso {case['label']} (Linea caida):")
    assert count_segments(update).encoding == "GSM-7"
    stored = gsm_client.get(f"/api/v1/cases/{case['id']}/messages", headers=auth).get_json()
    assert stored["messages"][-1]["body"] == update  # what was sent is what is kept


def test_a_text_that_stays_ucs2_goes_as_written(
    gsm_core: Core,
    gsm_client: FlaskClient,
    auth: dict[str, str],
    clock: FrozenClock,
    channels: dict[str, FakeChannel],
) -> None:
    case = open_case(gsm_client, auth, subject="Router 📶 dead", contact={"phone": PHONE})
    maria = Customer(gsm_core, channels, PHONE)
    clock.advance(timedelta(hours=2, minutes=1))
    [update] = maria.inbox()
    assert f"case {case['label']} (Router 📶 dead)" in update
    assert count_segments(update).encoding == "UCS-2"
