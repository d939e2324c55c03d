"""The REST API `/api/v1` over the Flask test client: real Flask, real SQLAlchemy on a
migrated SQLite per test, a frozen clock, fake channels on the provider side only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from bot.app import create_app
from bot.clock import FrozenClock
from bot.config import Config, Settings
from bot.core import Core, create_core
from bot.store.models import Case
from channels.registry import ChannelRegistry
from tests.conftest import API_TOKEN, START, Customer, later, open_case
from tests.support.fakes import FakeChannel

API = "/api/v1"
PHONE = "+12125550101"
GENESIS = "0" * 64
CASE_FIELDS = {"id", "status", "next_update_at", "webchat_url", "contact", "priority", "subject"}
MESSAGE_FIELDS = {"id", "at", "direction", "channel", "body", "status", "provider_id", "intent"}
LOG_FIELDS = {
    "seq",
    "at",
    "event",
    "actor",
    "channel",
    "message_id",
    "detail",
    "prev_hash",
    "hash",
}
WAITING_REASONS = ("third_party", "compliance_check", "investigation", "outage")
NOTE_KINDS = (
    "interaction",
    "escalation",
    "follow_up",
    "resolution",
    "supervisor",
    "technical",
    "sentiment",
)


# --- helpers ---------------------------------------------------------------------------------


def iso_z(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def case_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": "Internet down",
        "priority": "P2",
        "contact": {"name": "Maria Gomez", "phone": PHONE},
    }
    return body | overrides


def with_contact(**fields: Any) -> dict[str, Any]:
    return case_body(contact={"name": "Maria Gomez", "phone": PHONE} | fields)


def post(
    client: FlaskClient, auth: dict[str, str], path: str, body: dict[str, Any] | None = None
) -> TestResponse:
    return client.post(f"{API}{path}", json=body if body is not None else {}, headers=auth)


def get(client: FlaskClient, auth: dict[str, str], path: str) -> TestResponse:
    return client.get(f"{API}{path}", headers=auth)


def act(
    client: FlaskClient,
    auth: dict[str, str],
    case_id: int,
    action: str,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run an action that must succeed and return the case as the API then shows it."""
    response = post(client, auth, f"/cases/{case_id}/{action}", body)
    assert response.status_code == 200, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def assert_error(
    response: TestResponse, status: int, *, code: str | None = None, field: str | None = None
) -> dict[str, Any]:
    """An error is JSON `{"error": {"code", "message", "field"}}`, never HTML or a traceback."""
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    assert response.mimetype == "application/json", text
    assert "Traceback" not in text and "<html" not in text.lower() and 'File "' not in text
    data = response.get_json()
    assert set(data) == {"error"}, data
    error: dict[str, Any] = data["error"]
    assert set(error) == {"code", "message", "field"}, error
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    if field is not None:
        assert error["field"] == field, error
    return error


def case_count(core: Core) -> int:
    with core.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Case)) or 0)


def entries(client: FlaskClient, auth: dict[str, str], case_id: int) -> list[dict[str, Any]]:
    response = get(client, auth, f"/cases/{case_id}/log")
    assert response.status_code == 200, response.get_json()
    found: list[dict[str, Any]] = response.get_json()["entries"]
    return found


def events(client: FlaskClient, auth: dict[str, str], case_id: int) -> list[str]:
    return [e["event"] for e in entries(client, auth, case_id)]


def messages(client: FlaskClient, auth: dict[str, str], case_id: int) -> list[dict[str, Any]]:
    response = get(client, auth, f"/cases/{case_id}/messages")
    assert response.status_code == 200, response.get_json()
    found: list[dict[str, Any]] = response.get_json()["messages"]
    return found


def listed_ids(client: FlaskClient, auth: dict[str, str], query: str = "") -> list[int]:
    response = get(client, auth, f"/cases{query}")
    assert response.status_code == 200, response.get_json()
    return [c["id"] for c in response.get_json()["cases"]]


def everything_sent(channels: dict[str, FakeChannel]) -> list[str]:
    return [m.body for channel in channels.values() for m in channel.sent]


def case_in(client: FlaskClient, auth: dict[str, str], status: str) -> int:
    """A fresh case brought to `status` through the API."""
    case_id = int(open_case(client, auth)["id"])
    if status == "waiting":
        act(client, auth, case_id, "wait", {"reason": "investigation"})
    elif status == "resolved":
        act(client, auth, case_id, "resolve", {"resolution": "Replaced the router."})
    elif status == "closed":
        act(client, auth, case_id, "close")
    elif status == "reopened":
        act(client, auth, case_id, "close")
        act(client, auth, case_id, "reopen")
    return case_id


@pytest.fixture
def maria(core: Core, channels: dict[str, FakeChannel]) -> Customer:
    return Customer(core, channels, PHONE)


# --- authentication ----------------------------------------------------------------------------


def test_no_authorization_header_is_401(client: FlaskClient) -> None:
    assert_error(client.get(f"{API}/cases"), 401, code="unauthorized")


def test_wrong_token_is_401(client: FlaskClient) -> None:
    response = client.get(f"{API}/cases", headers={"Authorization": "Bearer not-the-token"})
    assert_error(response, 401, code="unauthorized")


@pytest.mark.parametrize(
    "header",
    [
        f"Basic {API_TOKEN}",
        f"Token {API_TOKEN}",
        API_TOKEN,
        f"Bearer{API_TOKEN}",
        "Bearer ",
    ],
)
def test_wrong_scheme_or_shape_is_401(client: FlaskClient, header: str) -> None:
    response = client.get(f"{API}/cases", headers={"Authorization": header})
    assert_error(response, 401, code="unauthorized")


def test_bearer_scheme_is_case_insensitive(client: FlaskClient) -> None:
    response = client.get(f"{API}/cases", headers={"Authorization": f"bearer {API_TOKEN}"})
    assert response.status_code == 200


def test_401_tells_the_client_to_use_a_bearer_token(client: FlaskClient) -> None:
    """RFC 9110 §15.5.2: a 401 response MUST carry WWW-Authenticate."""
    response = client.get(f"{API}/cases")
    assert response.status_code == 401
    assert response.headers.get("WWW-Authenticate", "").lower().startswith("bearer")


def test_unauthorised_create_stores_nothing(client: FlaskClient, core: Core) -> None:
    response = client.post(
        f"{API}/cases", json=case_body(), headers={"Authorization": "Bearer wrong"}
    )
    assert_error(response, 401)
    assert case_count(core) == 0


def test_auth_is_checked_before_existence(client: FlaskClient) -> None:
    """An unauthenticated client cannot probe which case ids exist."""
    assert_error(client.get(f"{API}/cases/999"), 401, code="unauthorized")


@pytest.fixture
def closed_core(config: Config, database_url: str, clock: FrozenClock) -> Iterator[Core]:
    """A server started without API_TOKEN."""
    fakes = {name: FakeChannel(name) for name in ("sms", "slack", "webchat")}
    built = create_core(
        config,
        Settings(database_url=database_url, api_token=None),
        clock=clock,
        channels=ChannelRegistry(dict(fakes)),
    )
    yield built
    built.engine.dispose()


@pytest.mark.parametrize(
    ("method", "path", "header"),
    [
        ("GET", "/cases", None),
        ("GET", "/cases", f"Bearer {API_TOKEN}"),
        ("GET", "/cases", "Bearer "),
        ("GET", "/cases", "Bearer None"),
        ("POST", "/cases", f"Bearer {API_TOKEN}"),
        ("GET", "/cases/1", f"Bearer {API_TOKEN}"),
        ("GET", "/cases/1/log", f"Bearer {API_TOKEN}"),
        ("POST", "/cases/1/resolve", f"Bearer {API_TOKEN}"),
    ],
)
def test_a_server_without_api_token_refuses_everything(
    closed_core: Core, method: str, path: str, header: str | None
) -> None:
    client = create_app(core=closed_core).test_client()
    headers = {"Authorization": header} if header is not None else {}
    response = client.open(f"{API}{path}", method=method, json=case_body(), headers=headers)
    assert_error(response, 401, code="unauthorized")
    assert case_count(closed_core) == 0


# --- creating and reading a case ---------------------------------------------------------------


def test_create_case_is_201_with_the_open_case(client: FlaskClient, auth: dict[str, str]) -> None:
    response = post(client, auth, "/cases", case_body(ref="ZD-1", category="billing"))
    assert response.status_code == 201, response.get_json()
    case = response.get_json()
    assert set(case) >= CASE_FIELDS
    assert isinstance(case["id"], int)
    assert (case["status"], case["priority"], case["subject"]) == ("open", "P2", "Internet down")
    assert (case["ref"], case["category"], case["reopen_count"]) == ("ZD-1", "billing", 0)


def test_create_case_schedules_the_first_update_from_the_p2_cadence(
    client: FlaskClient, auth: dict[str, str], clock: FrozenClock
) -> None:
    case = open_case(client, auth, priority="P2")
    assert case["next_update_at"] == iso_z(clock.now() + timedelta(hours=2))
    assert case["next_update_at"] == "2026-11-23T17:00:00Z"
    assert case["created_at"] == iso_z(START)


def test_create_case_has_a_webchat_url_key(client: FlaskClient, auth: dict[str, str]) -> None:
    assert "webchat_url" in open_case(client, auth)


def test_create_case_normalises_the_phone_to_e164(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    case = open_case(client, auth, contact={"name": "Maria Gomez", "phone": "(212) 555-0101"})
    assert case["contact"]["phone"] == "+12125550101"


def test_create_case_keeps_the_contact_details(client: FlaskClient, auth: dict[str, str]) -> None:
    case = open_case(
        client,
        auth,
        contact={
            "name": "Ana Lima",
            "phone": "+1 212 555 0199",
            "channel": "sms",
            "timezone": "America/Chicago",
            "locale": "pt-BR",
        },
    )
    contact = case["contact"]
    assert (contact["name"], contact["phone"]) == ("Ana Lima", "+12125550199")
    assert (contact["timezone"], contact["locale"], contact["channel"]) == (
        "America/Chicago",
        "pt-BR",
        "sms",
    )


def test_create_case_reads_an_iso_eta_as_utc(client: FlaskClient, auth: dict[str, str]) -> None:
    case = open_case(client, auth, eta="2026-11-24T12:00:00-05:00")
    assert case["eta"] == "2026-11-24T17:00:00Z"


def test_create_case_reads_a_relative_eta(
    client: FlaskClient, auth: dict[str, str], clock: FrozenClock
) -> None:
    case = open_case(client, auth, eta="in 3d")
    assert case["eta"] == iso_z(clock.now() + timedelta(days=3))


def test_get_case_returns_what_create_returned(client: FlaskClient, auth: dict[str, str]) -> None:
    created = open_case(client, auth, ref="ZD-7")
    response = get(client, auth, f"/cases/{created['id']}")
    assert response.status_code == 200
    assert response.get_json() == created


def test_same_ref_twice_is_409_and_keeps_the_first(
    client: FlaskClient, auth: dict[str, str], core: Core
) -> None:
    open_case(client, auth, ref="ZD-1042")
    response = post(client, auth, "/cases", case_body(ref="ZD-1042", subject="Another"))
    error = assert_error(response, 409, code="conflict", field="ref")
    assert "ZD-1042" in error["message"]
    assert case_count(core) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(
            {k: v for k, v in case_body().items() if k != "subject"},
            "subject",
            id="missing-subject",
        ),
        pytest.param(case_body(subject="   "), "subject", id="blank-subject"),
        pytest.param(case_body(subject=42), "subject", id="subject-not-a-string"),
        pytest.param(case_body(subject="x" * 301), "subject", id="subject-too-long"),
        pytest.param(case_body(priority="P9"), "priority", id="bad-priority"),
        pytest.param(with_contact(phone="12"), "contact.phone", id="bad-phone"),
        pytest.param(case_body(colour="red"), "colour", id="unknown-top-level-key"),
        pytest.param(with_contact(fax="555"), "contact.fax", id="unknown-contact-key"),
        pytest.param(
            with_contact(timezone="Mars/Olympus_Mons"), "contact.timezone", id="unknown-timezone"
        ),
        pytest.param(with_contact(channel="fax"), "contact.channel", id="unknown-channel"),
        pytest.param(case_body(eta="tomorrowish"), "eta", id="bad-eta"),
        pytest.param(case_body(contact={"name": "Nobody"}), "contact", id="contact-unreachable"),
        pytest.param({"subject": "Internet down"}, "contact", id="missing-contact"),
        pytest.param(case_body(ref="R" * 65), "ref", id="ref-too-long"),
        pytest.param(case_body(actor="U" * 33), "actor", id="actor-too-long"),
    ],
)
def test_invalid_case_is_422_naming_the_field(
    client: FlaskClient, auth: dict[str, str], core: Core, body: dict[str, Any], field: str
) -> None:
    assert_error(post(client, auth, "/cases", body), 422, code="invalid", field=field)
    assert case_count(core) == 0


def test_bad_priority_message_lists_the_priorities(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    error = assert_error(post(client, auth, "/cases", case_body(priority="P9")), 422)
    assert all(p in error["message"] for p in ("P1", "P2", "P3", "P4"))


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ("this is not json", "text/plain", 415),
        ("subject=Internet+down", "application/x-www-form-urlencoded", 415),
        ("this is not json", "application/json", 400),
        ('{"subject": "Internet down",', "application/json", 400),
        (b"\xff\xfe{\x00", "application/json", 400),
    ],
)
def test_a_body_that_is_not_json_is_400_or_415_saying_so(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    data: str | bytes,
    content_type: str,
    status: int,
) -> None:
    """Malformed JSON is 400 and JSON sent as something else 415; 422 stays for well-formed
    bodies that are not a valid case."""
    response = client.post(f"{API}/cases", data=data, content_type=content_type, headers=auth)
    error = assert_error(response, status)
    assert "JSON" in error["message"]
    assert case_count(core) == 0


@pytest.mark.parametrize("data", ["[1, 2]", '"a string"', "42"])
def test_json_that_is_not_an_object_is_422(
    client: FlaskClient, auth: dict[str, str], data: str
) -> None:
    response = client.post(f"{API}/cases", data=data, content_type="application/json", headers=auth)
    assert_error(response, 422, code="invalid")


def test_deeply_nested_json_is_a_4xx_not_a_500(client: FlaskClient, auth: dict[str, str]) -> None:
    """100 000 open brackets (well under the 256 KiB limit) make json.loads raise
    RecursionError, which is not a ValueError."""
    response = client.post(
        f"{API}/cases", data="[" * 100_000, content_type="application/json", headers=auth
    )
    assert_error(response, 400, code="malformed_body")


def test_an_eta_beyond_the_calendar_is_422_not_a_500(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    response = post(client, auth, "/cases", case_body(eta="99999999d"))
    assert_error(response, 422, field="eta")


def test_a_slack_id_already_used_by_another_contact_is_a_4xx_not_a_500(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    open_case(client, auth, contact={"name": "Sam", "slack_user_id": "U0SAM"})
    open_case(client, auth, contact={"name": "Maria", "phone": PHONE})
    response = post(
        client, auth, "/cases", case_body(contact={"phone": PHONE, "slack_user_id": "U0SAM"})
    )
    assert response.status_code in (409, 422), response.get_data(as_text=True)
    assert_error(response, response.status_code, field="contact.slack_user_id")


def test_a_body_over_256_kib_is_413_json(
    client: FlaskClient, auth: dict[str, str], core: Core
) -> None:
    response = post(client, auth, "/cases", case_body(subject="x" * (256 * 1024 + 1)))
    assert_error(response, 413)
    assert case_count(core) == 0


def test_unknown_case_is_404_json(client: FlaskClient, auth: dict[str, str]) -> None:
    error = assert_error(get(client, auth, "/cases/999"), 404, code="not_found")
    assert "999" in error["message"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/cases/999/messages", None),
        ("GET", "/cases/999/log", None),
        ("POST", "/cases/999/updates", {"text": "Hello"}),
        ("POST", "/cases/999/wait", {"reason": "outage"}),
        ("POST", "/cases/999/resolve", {"resolution": "Done."}),
        ("POST", "/cases/999/close", {}),
        ("POST", "/cases/999/reopen", {}),
        ("POST", "/cases/999/notes", {"text": "x"}),
    ],
)
def test_every_case_route_answers_404_for_an_unknown_case(
    client: FlaskClient,
    auth: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    response = client.open(f"{API}{path}", method=method, json=body, headers=auth)
    assert_error(response, 404, code="not_found")


def test_a_case_id_too_big_for_the_database_is_404_not_a_500(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    assert_error(get(client, auth, "/cases/99999999999999999999"), 404)


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/cases/abc", "/nope"])
def test_unknown_route_is_404_json(client: FlaskClient, auth: dict[str, str], path: str) -> None:
    assert_error(client.get(path, headers=auth), 404, code="not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/cases"),
        ("PUT", "/cases/1"),
        ("GET", "/cases/1/resolve"),
        ("PATCH", "/cases/1/notes"),
    ],
)
def test_wrong_method_is_405_json(
    client: FlaskClient, auth: dict[str, str], method: str, path: str
) -> None:
    open_case(client, auth)
    response = client.open(f"{API}{path}", method=method, headers=auth)
    assert_error(response, 405, code="method_not_allowed")


def test_405_lists_the_allowed_methods(client: FlaskClient, auth: dict[str, str]) -> None:
    """RFC 9110 §15.5.6: a 405 response MUST carry Allow."""
    response = client.delete(f"{API}/cases", headers=auth)
    assert response.status_code == 405
    assert {"GET", "POST"} <= {m.strip() for m in response.headers.get("Allow", "").split(",")}


# --- listing cases -----------------------------------------------------------------------------


@pytest.fixture
def one_of_each(client: FlaskClient, auth: dict[str, str]) -> dict[str, int]:
    return {
        status: case_in(client, auth, status)
        for status in ("open", "waiting", "resolved", "closed", "reopened")
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("open", {"open", "reopened"}),
        ("waiting", {"waiting"}),
        ("resolved", {"resolved"}),
        ("closed", {"closed"}),
        ("reopened", {"reopened"}),
    ],
)
def test_list_filters_by_status(
    client: FlaskClient,
    auth: dict[str, str],
    one_of_each: dict[str, int],
    status: str,
    expected: set[str],
) -> None:
    assert set(listed_ids(client, auth, f"?status={status}")) == {one_of_each[s] for s in expected}


def test_list_without_a_filter_returns_every_case_newest_first(
    client: FlaskClient, auth: dict[str, str], one_of_each: dict[str, int]
) -> None:
    response = get(client, auth, "/cases")
    assert set(response.get_json()) == {"cases"}
    assert listed_ids(client, auth) == sorted(one_of_each.values(), reverse=True)


def test_list_reopened_leaves_out_a_reopened_case_that_was_closed_again(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    case_id = case_in(client, auth, "reopened")
    act(client, auth, case_id, "close")
    assert listed_ids(client, auth, "?status=reopened") == []


@pytest.mark.parametrize("status", ["bogus", "OPEN", "deleted"])
def test_list_with_an_unknown_status_is_422(
    client: FlaskClient, auth: dict[str, str], status: str
) -> None:
    error = assert_error(get(client, auth, f"/cases?status={status}"), 422, field="status")
    assert all(s in error["message"] for s in ("open", "waiting", "resolved", "closed"))


def test_list_limit_and_offset_page_through_the_cases(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    ids = [int(open_case(client, auth)["id"]) for _ in range(3)]
    newest_first = sorted(ids, reverse=True)
    assert listed_ids(client, auth, "?limit=2") == newest_first[:2]
    assert listed_ids(client, auth, "?limit=2&offset=2") == newest_first[2:]
    assert listed_ids(client, auth, "?offset=3") == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("limit=1.5", "limit"),
        ("limit=", "limit"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
    ],
)
def test_list_with_a_bad_limit_or_offset_is_422(
    client: FlaskClient, auth: dict[str, str], query: str, field: str
) -> None:
    assert_error(get(client, auth, f"/cases?{query}"), 422, code="invalid", field=field)


def test_list_with_a_superscript_digit_limit_is_422_not_a_500(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    """'²'.isdigit() is True but int('²') raises ValueError."""
    assert_error(get(client, auth, "/cases?limit=%C2%B2"), 422, field="limit")


# --- messages and the log ----------------------------------------------------------------------


def test_a_new_case_has_no_messages(client: FlaskClient, auth: dict[str, str]) -> None:
    assert messages(client, auth, open_case(client, auth)["id"]) == []


def test_messages_show_a_sent_update_with_the_documented_fields(
    client: FlaskClient, auth: dict[str, str], core: Core, clock: FrozenClock
) -> None:
    case_id = open_case(client, auth)["id"]
    act(client, auth, case_id, "updates", {"text": "An engineer is on the way."})
    later(clock, core, seconds=1)
    [message] = messages(client, auth, case_id)
    assert set(message) >= MESSAGE_FIELDS
    assert (message["direction"], message["channel"]) == ("out", "sms")
    assert message["body"] == f"Update on case #{case_id}: An engineer is on the way."
    assert message["status"] == "sent"
    assert message["provider_id"].startswith("FAKESMS")
    assert message["at"] == iso_z(START)
    assert message["intent"] is None


def test_messages_show_the_customers_reply_with_its_intent(
    client: FlaskClient, auth: dict[str, str], maria: Customer
) -> None:
    case_id = case_in(client, auth, "resolved")
    maria.says("YES", sid="SMreply0001")
    inbound = [m for m in messages(client, auth, case_id) if m["direction"] == "in"]
    assert len(inbound) == 1
    assert (inbound[0]["body"], inbound[0]["intent"]) == ("YES", "confirm")
    assert (inbound[0]["provider_id"], inbound[0]["channel"]) == ("SMreply0001", "sms")


def test_messages_are_in_time_order(
    client: FlaskClient, auth: dict[str, str], core: Core, clock: FrozenClock
) -> None:
    case_id = open_case(client, auth)["id"]
    for text in ("first", "second", "third"):
        act(client, auth, case_id, "updates", {"text": text})
        later(clock, core, minutes=1)
    bodies = [m["body"] for m in messages(client, auth, case_id)]
    assert [b.rsplit(": ", 1)[-1] for b in bodies] == ["first", "second", "third"]


def test_log_entries_have_the_documented_fields(client: FlaskClient, auth: dict[str, str]) -> None:
    case_id = open_case(client, auth)["id"]
    [entry] = entries(client, auth, case_id)
    assert set(entry) >= LOG_FIELDS
    assert entry["event"] == "case_opened"
    assert datetime.fromisoformat(entry["at"].replace("Z", "+00:00")) == START
    assert entry["detail"]["subject"] == "Internet down"


def test_log_is_a_hash_chain(
    client: FlaskClient, auth: dict[str, str], core: Core, clock: FrozenClock
) -> None:
    case_id = open_case(client, auth)["id"]
    act(client, auth, case_id, "wait", {"reason": "outage"})
    later(clock, core, seconds=1)
    act(client, auth, case_id, "resolve", {"resolution": "Power restored."})
    later(clock, core, seconds=1)
    log = entries(client, auth, case_id)
    assert [e["event"] for e in log] == [
        "case_opened",
        "delay_notice_sent",
        "resolution_proposed",
        "confirmation_requested",
    ]
    assert log[0]["prev_hash"] == GENESIS
    for before, after in pairwise(log):
        assert after["prev_hash"] == before["hash"]
        assert after["seq"] > before["seq"]
    assert all(len(e["hash"]) == 64 and int(e["hash"], 16) >= 0 for e in log)
    assert len({e["hash"] for e in log}) == len(log)


def test_log_holds_only_its_own_cases_entries(client: FlaskClient, auth: dict[str, str]) -> None:
    first = open_case(client, auth)["id"]
    second = open_case(client, auth)["id"]
    act(client, auth, second, "close")
    assert events(client, auth, first) == ["case_opened"]
    assert events(client, auth, second) == ["case_opened", "closed"]


# --- actions -----------------------------------------------------------------------------------


def test_update_reaches_the_customer(
    client: FlaskClient, auth: dict[str, str], core: Core, clock: FrozenClock, maria: Customer
) -> None:
    case_id = open_case(client, auth)["id"]
    case = act(client, auth, case_id, "updates", {"text": "An engineer is on the way."})
    assert case["status"] == "open"
    later(clock, core, seconds=1)
    assert maria.inbox() == [f"Update on case #{case_id}: An engineer is on the way."]
    assert "interim_sent" in events(client, auth, case_id)


def test_update_restarts_the_cadence(
    client: FlaskClient, auth: dict[str, str], clock: FrozenClock
) -> None:
    case_id = open_case(client, auth, priority="P2")["id"]
    clock.advance(timedelta(hours=1))
    case = act(client, auth, case_id, "updates", {"text": "Still on it."})
    assert case["next_update_at"] == iso_z(clock.now() + timedelta(hours=8))


def test_update_text_is_sent_as_written_not_as_a_template(
    client: FlaskClient, auth: dict[str, str], maria: Customer
) -> None:
    case_id = open_case(client, auth)["id"]
    act(client, auth, case_id, "updates", {"text": "Tom & Jerry <b>{{ 7 * 7 }}</b>"})
    assert maria.inbox() == [f"Update on case #{case_id}: Tom & Jerry <b>{{{{ 7 * 7 }}}}</b>"]


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "   "}, {"text": "x" * 1601}])
def test_update_without_usable_text_is_422(
    client: FlaskClient, auth: dict[str, str], maria: Customer, body: dict[str, Any]
) -> None:
    case_id = open_case(client, auth)["id"]
    assert_error(post(client, auth, f"/cases/{case_id}/updates", body), 422, field="text")
    assert maria.inbox() == []


def test_wait_sets_waiting_with_reason_and_eta(client: FlaskClient, auth: dict[str, str]) -> None:
    case_id = open_case(client, auth)["id"]
    case = act(
        client, auth, case_id, "wait", {"reason": "third_party", "eta": "2026-11-24T17:00:00Z"}
    )
    assert (case["status"], case["waiting_reason"]) == ("waiting", "third_party")
    assert case["eta"] == "2026-11-24T17:00:00Z"


def test_wait_sends_the_delay_notice_and_logs_it(
    client: FlaskClient, auth: dict[str, str], core: Core, clock: FrozenClock, maria: Customer
) -> None:
    case_id = open_case(client, auth)["id"]
    act(client, auth, case_id, "wait", {"reason": "third_party", "eta": "2026-11-24T17:00:00Z"})
    later(clock, core, seconds=1)
    [notice] = maria.inbox()
    assert f"Case #{case_id}" in notice and "partner company" in notice
    assert "Expected by Tue 24 Nov, 12:00 EST" in notice
    assert "delay_notice_sent" in events(client, auth, case_id)


@pytest.mark.parametrize("reason", WAITING_REASONS)
def test_wait_accepts_every_builtin_reason(
    client: FlaskClient, auth: dict[str, str], reason: str
) -> None:
    case_id = open_case(client, auth)["id"]
    assert act(client, auth, case_id, "wait", {"reason": reason})["waiting_reason"] == reason


def test_wait_with_an_unknown_reason_is_422_listing_the_valid_ones(
    client: FlaskClient, auth: dict[str, str], maria: Customer
) -> None:
    case_id = open_case(client, auth)["id"]
    response = post(client, auth, f"/cases/{case_id}/wait", {"reason": "lunch"})
    error = assert_error(response, 422, code="invalid", field="reason")
    assert all(reason in error["message"] for reason in WAITING_REASONS)
    assert get(client, auth, f"/cases/{case_id}").get_json()["status"] == "open"
    assert maria.inbox() == []


def test_wait_with_a_bad_eta_is_422(client: FlaskClient, auth: dict[str, str]) -> None:
    case_id = open_case(client, auth)["id"]
    response = post(
        client, auth, f"/cases/{case_id}/wait", {"reason": "outage", "eta": "tomorrowish"}
    )
    assert_error(response, 422, field="eta")


def test_wait_without_a_reason_is_422(client: FlaskClient, auth: dict[str, str]) -> None:
    case_id = open_case(client, auth)["id"]
    assert_error(post(client, auth, f"/cases/{case_id}/wait", {}), 422, field="reason")


def test_resolve_sets_resolved_and_stops_updates(
    client: FlaskClient, auth: dict[str, str], clock: FrozenClock
) -> None:
    case_id = open_case(client, auth)["id"]
    case = act(client, auth, case_id, "resolve", {"resolution": "Replaced the line card."})
    assert (case["status"], case["resolution"]) == ("resolved", "Replaced the line card.")
    assert case["resolved_at"] == iso_z(clock.now())
    assert case["next_update_at"] is None


def test_resolve_asks_the_customer_to_confirm(
    client: FlaskClient, auth: dict[str, str], core: Core, clock: FrozenClock, maria: Customer
) -> None:
    case_id = open_case(client, auth)["id"]
    act(client, auth, case_id, "resolve", {"resolution": "Replaced the line card."})
    later(clock, core, seconds=1)
    [request] = maria.inbox()
    assert "Replaced the line card." in request
    assert "Reply YES if this is fixed or REOPEN if not." in request
    assert events(client, auth, case_id) == [
        "case_opened",
        "resolution_proposed",
        "confirmation_requested",
    ]


@pytest.mark.parametrize("body", [{}, {"resolution": "  "}])
def test_resolve_without_a_resolution_is_422(
    client: FlaskClient, auth: dict[str, str], body: dict[str, Any]
) -> None:
    case_id = open_case(client, auth)["id"]
    assert_error(post(client, auth, f"/cases/{case_id}/resolve", body), 422, field="resolution")


def test_close_closes_the_case_and_logs_it(
    client: FlaskClient, auth: dict[str, str], clock: FrozenClock
) -> None:
    case_id = open_case(client, auth)["id"]
    case = act(client, auth, case_id, "close")
    assert (case["status"], case["close_reason"]) == ("closed", "agent")
    assert case["closed_at"] == iso_z(clock.now())
    assert case["next_update_at"] is None
    assert events(client, auth, case_id)[-1] == "closed"


def test_close_needs_no_body(client: FlaskClient, auth: dict[str, str]) -> None:
    case_id = open_case(client, auth)["id"]
    response = client.post(f"{API}/cases/{case_id}/close", headers=auth)
    assert response.status_code == 200
    assert response.get_json()["status"] == "closed"


def test_close_with_an_unknown_key_is_422(client: FlaskClient, auth: dict[str, str]) -> None:
    case_id = open_case(client, auth)["id"]
    response = post(client, auth, f"/cases/{case_id}/close", {"why": "duplicate"})
    assert_error(response, 422, field="why")


def test_reopen_returns_the_case_to_open_and_counts(
    client: FlaskClient, auth: dict[str, str], clock: FrozenClock
) -> None:
    case_id = case_in(client, auth, "closed")
    case = act(client, auth, case_id, "reopen")
    assert (case["status"], case["reopen_count"]) == ("open", 1)
    assert case["closed_at"] is None and case["close_reason"] is None
    assert case["next_update_at"] == iso_z(clock.now() + timedelta(hours=2))
    assert events(client, auth, case_id)[-1] == "reopened"


def test_reopen_of_a_resolved_case_counts_too(client: FlaskClient, auth: dict[str, str]) -> None:
    case_id = case_in(client, auth, "resolved")
    case = act(client, auth, case_id, "reopen")
    # The fix that did not hold is no longer shown as what we did; the log keeps it.
    assert (case["status"], case["reopen_count"], case["resolution"]) == ("open", 1, None)
    proposed = [e for e in entries(client, auth, case_id) if e["event"] == "resolution_proposed"]
    assert proposed[-1]["detail"]["resolution"] == "Replaced the router."


def test_add_note_is_201_with_the_note(client: FlaskClient, auth: dict[str, str]) -> None:
    case_id = open_case(client, auth)["id"]
    response = post(
        client,
        auth,
        f"/cases/{case_id}/notes",
        {
            "kind": "escalation",
            "text": "Sent to tier 2.",
            "tags": ["tier2", "fiber", "tier2"],
        },
    )
    assert response.status_code == 201, response.get_json()
    note = response.get_json()
    assert (note["case_id"], note["kind"], note["text"]) == (
        case_id,
        "escalation",
        "Sent to tier 2.",
    )
    assert note["tags"] == ["fiber", "tier2"]
    assert isinstance(note["id"], int)
    assert note["created_at"] == iso_z(START)


def test_add_note_defaults_to_an_interaction(client: FlaskClient, auth: dict[str, str]) -> None:
    case_id = open_case(client, auth)["id"]
    response = post(client, auth, f"/cases/{case_id}/notes", {"text": "Called the customer."})
    assert response.status_code == 201
    assert (response.get_json()["kind"], response.get_json()["tags"]) == ("interaction", [])


@pytest.mark.parametrize("kind", NOTE_KINDS)
def test_add_note_accepts_every_kind(client: FlaskClient, auth: dict[str, str], kind: str) -> None:
    case_id = open_case(client, auth)["id"]
    response = post(client, auth, f"/cases/{case_id}/notes", {"kind": kind, "text": "x"})
    assert response.status_code == 201 and response.get_json()["kind"] == kind


def test_add_note_with_a_bad_kind_is_422_listing_the_kinds(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    case_id = open_case(client, auth)["id"]
    response = post(client, auth, f"/cases/{case_id}/notes", {"kind": "gossip", "text": "x"})
    error = assert_error(response, 422, code="invalid", field="kind")
    assert all(kind in error["message"] for kind in NOTE_KINDS)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "technical"}, "text"),
        ({"text": "  "}, "text"),
        ({"text": "x", "tags": "urgent"}, "tags"),
        ({"text": "x", "tags": [f"t{i}" for i in range(21)]}, "tags"),
    ],
)
def test_add_note_with_bad_fields_is_422(
    client: FlaskClient, auth: dict[str, str], body: dict[str, Any], field: str
) -> None:
    case_id = open_case(client, auth)["id"]
    assert_error(post(client, auth, f"/cases/{case_id}/notes", body), 422, field=field)


def test_a_note_may_be_added_to_a_closed_case(client: FlaskClient, auth: dict[str, str]) -> None:
    case_id = case_in(client, auth, "closed")
    response = post(client, auth, f"/cases/{case_id}/notes", {"text": "QA reviewed."})
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("status", "action", "body"),
    [
        ("closed", "resolve", {"resolution": "Done."}),
        ("resolved", "wait", {"reason": "outage"}),
        ("resolved", "resolve", {"resolution": "Done again."}),
        ("closed", "updates", {"text": "Hello?"}),
        ("closed", "close", {}),
        ("closed", "wait", {"reason": "outage"}),
        ("open", "reopen", {}),
        ("waiting", "reopen", {}),
    ],
)
def test_an_invalid_transition_is_409(
    client: FlaskClient, auth: dict[str, str], status: str, action: str, body: dict[str, Any]
) -> None:
    case_id = case_in(client, auth, status)
    response = post(client, auth, f"/cases/{case_id}/{action}", body)
    error = assert_error(response, 409, code="invalid_transition")
    assert f"#{case_id}" in error["message"] and status in error["message"]


def test_an_invalid_transition_changes_nothing(
    client: FlaskClient, auth: dict[str, str], maria: Customer
) -> None:
    case_id = case_in(client, auth, "closed")
    before = get(client, auth, f"/cases/{case_id}").get_json()
    log_before = entries(client, auth, case_id)
    maria.inbox()
    post(client, auth, f"/cases/{case_id}/resolve", {"resolution": "Done."})
    assert get(client, auth, f"/cases/{case_id}").get_json() == before
    assert entries(client, auth, case_id) == log_before
    assert maria.inbox() == []


# --- the actor ---------------------------------------------------------------------------------


def test_create_records_the_actor_as_an_agent(client: FlaskClient, auth: dict[str, str]) -> None:
    case_id = open_case(client, auth, actor="U123")["id"]
    [entry] = entries(client, auth, case_id)
    assert (entry["event"], entry["actor"]) == ("case_opened", "agent:U123")


@pytest.mark.parametrize(
    ("status", "action", "body", "event"),
    [
        ("open", "resolve", {"resolution": "Fixed."}, "resolution_proposed"),
        ("open", "close", {}, "closed"),
        ("closed", "reopen", {}, "reopened"),
    ],
)
def test_actions_record_the_actor_as_an_agent(
    client: FlaskClient,
    auth: dict[str, str],
    status: str,
    action: str,
    body: dict[str, Any],
    event: str,
) -> None:
    case_id = case_in(client, auth, status)
    act(client, auth, case_id, action, body | {"actor": "U123"})
    [entry] = [e for e in entries(client, auth, case_id) if e["event"] == event]
    assert entry["actor"] == "agent:U123"


def test_without_an_actor_the_log_still_names_an_agent(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    [entry] = entries(client, auth, open_case(client, auth)["id"])
    assert entry["actor"].startswith("agent:")


def test_a_note_records_the_actor_as_its_author(client: FlaskClient, auth: dict[str, str]) -> None:
    case_id = open_case(client, auth)["id"]
    response = post(client, auth, f"/cases/{case_id}/notes", {"text": "x", "actor": "U123"})
    assert response.get_json()["author"] == "agent:U123"


# --- notes stay internal -----------------------------------------------------------------------

SECRET = "Customer sounds angry; do not offer a refund"


def test_notes_never_appear_in_the_case_messages(
    client: FlaskClient, auth: dict[str, str], core: Core, clock: FrozenClock
) -> None:
    case_id = open_case(client, auth)["id"]
    post(client, auth, f"/cases/{case_id}/notes", {"kind": "sentiment", "text": SECRET})
    act(client, auth, case_id, "updates", {"text": "Working on it."})
    later(clock, core, seconds=1)
    bodies = [m["body"] for m in messages(client, auth, case_id)]
    assert len(bodies) == 1
    assert all(SECRET not in body for body in bodies)


def test_notes_never_reach_the_customer(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    clock: FrozenClock,
    channels: dict[str, FakeChannel],
    maria: Customer,
) -> None:
    case_id = open_case(client, auth, assignee="U0AGENT")["id"]
    for kind in ("interaction", "resolution", "supervisor"):
        post(client, auth, f"/cases/{case_id}/notes", {"kind": kind, "text": SECRET})
    act(client, auth, case_id, "updates", {"text": "Working on it."})
    act(client, auth, case_id, "wait", {"reason": "investigation"})
    later(clock, core, hours=9)  # a cadence update falls due too
    act(client, auth, case_id, "resolve", {"resolution": "Replaced the modem."})
    later(clock, core, seconds=1)
    maria.says("not fixed")
    sent = everything_sent(channels)
    assert len(channels["sms"].sent) >= 4, sent
    assert all(SECRET not in body and "angry" not in body for body in sent)
