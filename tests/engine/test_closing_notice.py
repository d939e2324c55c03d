"""A case closed without the customer's YES tells them so, and how to reopen it; ops may turn
that off (`confirmation.closing_message: false`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from bot.app import create_app
from bot.clock import FrozenClock
from bot.config import parse_config
from bot.core import Core
from tests.conftest import TEST_CONFIG, Customer, fake_channel_core, open_case
from tests.support.fakes import FakeChannel

PHONE = "+12125550101"


def close(client: FlaskClient, auth: dict[str, str], case_id: int) -> None:
    response = client.post(f"/api/v1/cases/{case_id}/close", json={}, headers=auth)
    assert response.status_code == 200, response.get_json()


def test_an_agent_close_tells_the_customer_how_to_reopen(
    core: Core, client: FlaskClient, auth: dict[str, str], channels: dict[str, FakeChannel]
) -> None:
    case = open_case(client, auth)
    maria = Customer(core, channels, PHONE)
    maria.inbox()
    close(client, auth, case["id"])
    [notice] = maria.inbox()
    assert notice == (
        f"Case {case['label']} (Internet down) is now closed. If it is still not right, reply"
        " REOPEN within 7 days."
    )
    maria.says("REOPEN")
    assert "is open again" in maria.inbox()[0]


def test_the_notice_is_in_the_customers_language(
    core: Core, client: FlaskClient, auth: dict[str, str], channels: dict[str, FakeChannel]
) -> None:
    contact = {"name": "Lucía Pérez", "phone": PHONE, "locale": "es-MX"}
    case = open_case(client, auth, contact=contact)
    lucia = Customer(core, channels, PHONE)
    lucia.inbox()
    close(client, auth, case["id"])
    [notice] = lucia.inbox()
    assert notice.startswith(f"Hemos cerrado el caso {case['label']} (Internet down).")
    assert notice.endswith("responda REABRIR en un plazo de 7 días.")


@pytest.fixture
def quiet_core(
    database_url: str, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> Iterator[Core]:
    config = parse_config(
        TEST_CONFIG | {"confirmation": TEST_CONFIG["confirmation"] | {"closing_message": False}}
    )
    with fake_channel_core(config, database_url, clock, channels) as built:
        yield built


def test_ops_can_turn_the_notice_off(
    quiet_core: Core, auth: dict[str, str], channels: dict[str, FakeChannel]
) -> None:
    client = create_app(core=quiet_core).test_client()
    case = open_case(client, auth)
    maria = Customer(quiet_core, channels, PHONE)
    maria.inbox()
    close(client, auth, case["id"])
    assert maria.inbox() == []
