"""Agent text is held to channels.sms.max_segments like templates are: the customer's SMS is
rendered with the agent's words before anything is stored, and over the limit it is refused
with a 422 (or, with `long_text: link`, cut at a word and ended with the case's chat link)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot.agents.commands import run_command
from bot.app import create_app
from bot.clock import FrozenClock
from bot.config import Settings, parse_config
from bot.core import Core, create_core
from bot.store.models import AuditEvent, Case, LogEntry, Outbox
from channels.registry import ChannelRegistry
from channels.segments import count_segments
from tests.conftest import API_TOKEN, SECRET_KEY, TEST_CONFIG, open_case
from tests.support.fakes import FakeChannel

API = "/api/v1"
LONG_UPDATE = ("We replaced the router and are now testing the line end to end. " * 17)[:1023]
LONG_RESOLUTION = LONG_UPDATE[:990]  # the API takes up to 1000 characters
# 96 characters of Spanish: á, í, ó and ú are not GSM-7, so the whole SMS becomes UCS-2.
SPANISH = (
    "Revisamos su línea: el técnico llegará el lunes por la mañana "
    "y la reparación durará unas horas."
)


def build_client(
    database_url: str, clock: FrozenClock, channels: dict[str, FakeChannel], **sms: Any
) -> tuple[FlaskClient, Core]:
    channel_config = {**TEST_CONFIG["channels"], "sms": sms}
    config = parse_config(TEST_CONFIG | {"channels": channel_config})
    core = create_core(
        config,
        Settings(database_url=database_url, api_token=API_TOKEN, secret_key=SECRET_KEY),
        clock=clock,
        channels=ChannelRegistry(dict(channels)),
    )
    return create_app(core=core).test_client(), core


@pytest.fixture
def make(
    database_url: str, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> Iterator[Callable[..., tuple[FlaskClient, Core]]]:
    built: list[Core] = []

    def factory(**sms: Any) -> tuple[FlaskClient, Core]:
        client, core = build_client(database_url, clock, channels, **sms)
        built.append(core)
        return client, core

    yield factory
    for core in built:
        core.engine.dispose()


def counts(core: Core, case_id: int) -> tuple[int, int, int]:
    with core.sessions() as session:
        return (
            session.scalar(select(func.count()).where(Outbox.case_id == case_id)) or 0,
            session.scalar(select(func.count()).where(AuditEvent.case_id == case_id)) or 0,
            session.scalar(select(func.count()).where(LogEntry.case_id == case_id)) or 0,
        )


def stored_case(core: Core, case_id: int) -> Case:
    with core.sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case


def bodies(core: Core, case_id: int) -> list[str]:
    with core.sessions() as session:
        return list(
            session.scalars(
                select(Outbox.body).where(Outbox.case_id == case_id).order_by(Outbox.id)
            )
        )


def test_the_spanish_example_is_two_ucs2_segments() -> None:
    assert len(SPANISH) == 96
    counted = count_segments(SPANISH)
    assert (counted.encoding, counted.segments) == ("UCS-2", 2)
    assert counted.non_gsm == ("í", "á", "ó")  # é and ñ are GSM-7


def test_a_1023_character_update_is_refused_naming_field_count_encoding_and_limit(
    client: FlaskClient, auth: dict[str, str], core: Core
) -> None:
    case = open_case(client, auth)
    before = counts(core, case["id"])
    response = client.post(
        f"{API}/cases/{case['id']}/updates", json={"text": LONG_UPDATE}, headers=auth
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["field"] == "text"
    body = f"Update on case #{case['id']}: {LONG_UPDATE}"
    segments = count_segments(body).segments
    assert segments == 7
    assert f"{segments} segments, GSM-7" in error["message"]
    assert "max_segments allows 3" in error["message"]
    # Nothing was stored: no message, no audit, no log entry, the case as it was.
    assert counts(core, case["id"]) == before
    assert stored_case(core, case["id"]).latest_update is None


def test_an_update_that_fits_goes_out_as_before(
    client: FlaskClient, auth: dict[str, str], core: Core
) -> None:
    case = open_case(client, auth)
    text = LONG_UPDATE[:400]  # 3 segments with the template's words
    response = client.post(f"{API}/cases/{case['id']}/updates", json={"text": text}, headers=auth)
    assert response.status_code == 200, response.get_json()
    assert bodies(core, case["id"])[-1] == f"Update on case #{case['id']}: {text.strip()}"


def test_accented_spanish_over_one_segment_is_refused_as_ucs2(
    make: Callable[..., tuple[FlaskClient, Core]], auth: dict[str, str]
) -> None:
    client, _ = make(max_segments=1)
    case = open_case(client, auth)
    response = client.post(
        f"{API}/cases/{case['id']}/updates", json={"text": SPANISH}, headers=auth
    )
    assert response.status_code == 422
    message = response.get_json()["error"]["message"]
    assert "2 segments, UCS-2 (because of í U+00ED" in message
    assert "max_segments allows 1" in message
    assert "characters that make it UCS-2" in message


def test_a_long_resolution_is_refused_and_the_case_stays_open(
    client: FlaskClient, auth: dict[str, str], core: Core
) -> None:
    case = open_case(client, auth)
    before = counts(core, case["id"])
    response = client.post(
        f"{API}/cases/{case['id']}/resolve", json={"resolution": LONG_RESOLUTION}, headers=auth
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["field"] == "resolution"
    assert "segments, GSM-7" in error["message"]
    assert counts(core, case["id"]) == before
    stored = stored_case(core, case["id"])
    assert (str(stored.status), stored.resolution) == ("open", None)


def test_a_contact_on_slack_gets_the_whole_update(
    client: FlaskClient, auth: dict[str, str], core: Core
) -> None:
    case = open_case(client, auth, contact={"name": "Ana", "slack_user_id": "U0CUSTOMER"})
    response = client.post(
        f"{API}/cases/{case['id']}/updates", json={"text": LONG_UPDATE}, headers=auth
    )
    assert response.status_code == 200, response.get_json()


def test_slack_case_update_says_why(client: FlaskClient, auth: dict[str, str], core: Core) -> None:
    case = open_case(client, auth)
    slack = {**TEST_CONFIG["channels"]["slack"], "agents": ["U0AGENT"]}
    agent_core = create_core(
        parse_config(TEST_CONFIG | {"channels": {"slack": slack}}),
        Settings(database_url=str(core.engine.url), api_token=API_TOKEN, secret_key=SECRET_KEY),
        clock=core.clock,
        channels=core.channels,
    )
    try:
        reply = run_command(agent_core, "U0AGENT", f"update {case['id']} {LONG_UPDATE}")
    finally:
        agent_core.engine.dispose()
    assert "7 segments, GSM-7" in reply.text
    assert "max_segments allows 3" in reply.text
    assert counts(core, case["id"])[0] == 0


def test_link_cuts_the_update_at_a_word_and_ends_with_the_chat_link(
    make: Callable[..., tuple[FlaskClient, Core]], auth: dict[str, str]
) -> None:
    client, core = make(long_text="link")
    case = open_case(client, auth)
    response = client.post(
        f"{API}/cases/{case['id']}/updates", json={"text": LONG_UPDATE}, headers=auth
    )
    assert response.status_code == 200, response.get_json()
    link = response.get_json()["webchat_url"]
    body = bodies(core, case["id"])[-1]
    assert link and body.endswith(f"... {link}")
    assert count_segments(body).segments == 3
    cut = body.removeprefix(f"Update on case #{case['id']}: ").removesuffix(f"... {link}")
    assert LONG_UPDATE.startswith(cut) and LONG_UPDATE[len(cut)] == " "  # at a word
    # The case keeps the whole update; the chat page shows it.
    assert stored_case(core, case["id"]).latest_update == LONG_UPDATE.strip()


def test_link_cuts_the_resolution_too(
    make: Callable[..., tuple[FlaskClient, Core]], auth: dict[str, str]
) -> None:
    client, core = make(long_text="link")
    case = open_case(client, auth)
    response = client.post(
        f"{API}/cases/{case['id']}/resolve", json={"resolution": LONG_RESOLUTION}, headers=auth
    )
    assert response.status_code == 200, response.get_json()
    body = bodies(core, case["id"])[-1]
    assert count_segments(body).segments <= 3
    assert "Reply YES if this is fixed" in body
    assert stored_case(core, case["id"]).resolution == LONG_RESOLUTION.strip()


def test_link_without_chat_links_refuses(
    database_url: str, clock: FrozenClock, channels: dict[str, FakeChannel], auth: dict[str, str]
) -> None:
    config = parse_config(
        TEST_CONFIG | {"channels": {**TEST_CONFIG["channels"], "sms": {"long_text": "link"}}}
    )
    core = create_core(
        config,
        Settings(database_url=database_url, api_token=API_TOKEN, secret_key=""),
        clock=clock,
        channels=ChannelRegistry(dict(channels)),
    )
    try:
        client = create_app(core=core).test_client()
        case = open_case(client, auth)
        response = client.post(
            f"{API}/cases/{case['id']}/updates", json={"text": LONG_UPDATE}, headers=auth
        )
    finally:
        core.engine.dispose()
    assert response.status_code == 422
    assert "web chat links are off" in response.get_json()["error"]["message"]


def test_long_text_is_refuse_or_link() -> None:
    assert parse_config(TEST_CONFIG).channels.sms.long_text == "refuse"
    with pytest.raises(Exception, match="long_text"):
        parse_config(TEST_CONFIG | {"channels": {"sms": {"long_text": "truncate"}}})
