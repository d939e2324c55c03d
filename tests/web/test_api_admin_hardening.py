"""Hostile input to /api/v1, /admin and /metrics: every answer is a 4xx (or a 503 for a missing
setting) that says what was wrong, never a 500; ids, whole numbers, days and moments are
checked by one helper each (bot/web/inputs.py); no request adds a metric series of its own;
and customers' details are never cached, over https never over plain http."""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bot.app import create_app
from bot.clock import FrozenClock
from bot.config import Config, Settings, parse_config
from bot.core import Core, create_core
from bot.web.metrics import KNOWN_METHODS
from channels.registry import ChannelRegistry
from tests.conftest import API_TOKEN, SECRET_KEY, TEST_CONFIG, open_case
from tests.support.fakes import FakeChannel
from tests.web.test_admin import ADMIN_TOKEN, csrf_of, sign_in
from tests.web.test_metrics import scrape

API = "/api/v1"
BEYOND_64_BITS = "99999999999999999999"
THOUSANDS_OF_DIGITS = "9" * 5000  # int() refuses more than 4300 digits with a ValueError


def build_core(
    config: Config,
    database_url: str,
    clock: FrozenClock,
    channels: dict[str, FakeChannel],
    **settings: Any,
) -> Core:
    return create_core(
        config,
        Settings(database_url=database_url, api_token=API_TOKEN, **settings),
        clock=clock,
        channels=ChannelRegistry(dict(channels)),
    )


@pytest.fixture
def admin_core(
    config: Config, database_url: str, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> Iterator[Core]:
    built = build_core(
        config, database_url, clock, channels, secret_key=SECRET_KEY, admin_token=ADMIN_TOKEN
    )
    yield built
    built.engine.dispose()


@pytest.fixture
def web(admin_core: Core) -> FlaskClient:
    return create_app(core=admin_core).test_client()


def refused(response: TestResponse, status: int, *fragments: str) -> str:
    """A refusal with this status whose text names what was wrong; never a 500."""
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    assert "Traceback" not in text and "something went wrong" not in text
    for fragment in fragments:
        assert fragment in text, text
    return text


# -- 1. a contact's time zone ------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["America", "Etc", "x" * 300])
def test_a_contact_timezone_that_is_no_zone_key_is_422_not_a_500(
    client: FlaskClient, auth: dict[str, str], zone: str
) -> None:
    body = {"subject": "Router", "contact": {"phone": "+12125550101", "timezone": zone}}
    response = client.post(f"{API}/cases", json=body, headers=auth)
    refused(response, 422, "unknown IANA time zone")
    assert response.get_json()["error"]["field"] == "contact.timezone"


def test_a_real_contact_timezone_is_still_taken(client: FlaskClient, auth: dict[str, str]) -> None:
    case = open_case(client, auth, contact={"phone": "+12125550101", "timezone": "Europe/Madrid"})
    assert case["contact"]["timezone"] == "Europe/Madrid"


# -- 2. ids, whole numbers, days and moments ---------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/cases/{BEYOND_64_BITS}"),
        ("GET", f"/cases/{BEYOND_64_BITS}/log"),
        ("POST", f"/cases/{BEYOND_64_BITS}/close"),
        ("GET", f"/cases/{THOUSANDS_OF_DIGITS}"),
    ],
)
def test_an_api_path_id_beyond_64_bits_is_404_saying_so(
    client: FlaskClient, auth: dict[str, str], method: str, path: str
) -> None:
    response = client.open(f"{API}{path}", method=method, json={}, headers=auth)
    refused(response, 404, "ids run from 1 to 9223372036854775807")


def test_the_largest_64_bit_id_still_reaches_the_case_lookup(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    response = client.get(f"{API}/cases/{2**63 - 1}", headers=auth)
    refused(response, 404, f"case #{2**63 - 1} does not exist")


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/cases?offset={THOUSANDS_OF_DIGITS}", "offset"),
        (f"/cases?limit={THOUSANDS_OF_DIGITS}", "limit"),
        ("/cases?limit=1e9", "limit"),
        (f"/notes?case={THOUSANDS_OF_DIGITS}", "case"),
        (f"/notes?limit={THOUSANDS_OF_DIGITS}", "limit"),
        ("/notes?limit=%C2%B2", "limit"),
    ],
)
def test_a_query_number_of_any_length_is_422_naming_it(
    client: FlaskClient, auth: dict[str, str], path: str, field: str
) -> None:
    response = client.get(f"{API}{path}", headers=auth)
    refused(response, 422, f"{field} must be a whole number")
    assert response.get_json()["error"]["field"] == field


@pytest.mark.parametrize(
    "eta",
    [
        "9999-12-31T23:59:59-05:00",  # overflowed when moved to UTC
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59",  # read in America/New_York, the same
        "0001-01-01T00:00:00",
        "9" * 100 + "d",
    ],
)
def test_an_eta_beyond_the_dates_keepposted_reads_is_422(
    client: FlaskClient, auth: dict[str, str], eta: str
) -> None:
    body = {"subject": "Router", "eta": eta, "contact": {"phone": "+12125550101"}}
    response = client.post(f"{API}/cases", json=body, headers=auth)
    refused(response, 422, "eta")
    assert response.get_json()["error"]["field"] == "eta"
    case_id = open_case(client, auth)["id"]
    waiting = client.post(
        f"{API}/cases/{case_id}/wait", json={"reason": "outage", "eta": eta}, headers=auth
    )
    refused(waiting, 422, "eta")


def test_an_eta_in_range_is_still_taken(client: FlaskClient, auth: dict[str, str]) -> None:
    case = open_case(client, auth, eta="2026-11-24T15:00:00Z")
    assert case["eta"] == "2026-11-24T15:00:00Z"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/admin/cases/{BEYOND_64_BITS}"),
        ("POST", f"/admin/cases/{BEYOND_64_BITS}/notes"),
        ("POST", f"/admin/cases/{BEYOND_64_BITS}/log-export"),
        ("POST", f"/admin/notes/{BEYOND_64_BITS}"),
    ],
)
def test_an_admin_path_id_beyond_64_bits_is_404_saying_so(
    web: FlaskClient, method: str, path: str
) -> None:
    sign_in(web)
    token = csrf_of(web.get("/admin/cases").text)
    response = web.open(path, method=method, data={"csrf_token": token, "text": "x"})
    refused(response, 404, "ids run from 1 to 9223372036854775807")


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("since=0001-01-01&until=9999-12-31", "since must be a date from 1970-01-01"),
        ("since=2026-01-01&until=9999-12-31", "until must be a date from 1970-01-01"),
        ("since=0001-01-01", "since must be a date from 1970-01-01 to 2999-12-31"),
    ],
)
@pytest.mark.parametrize("path", ["/admin/charts.json", "/admin/charts"])
def test_chart_days_out_of_range_are_422_not_an_overflow(
    web: FlaskClient, path: str, query: str, named: str
) -> None:
    sign_in(web)
    refused(web.get(f"{path}?{query}"), 422, named)


def test_chart_days_in_range_still_chart(web: FlaskClient) -> None:
    sign_in(web)
    data = web.get("/admin/charts.json?since=1970-01-01&until=2999-12-31").get_json()
    assert data["daily"][-1]["date"] == "2026-11-23"  # listed up to today


@pytest.mark.parametrize("page", ["-1", "1e9", "%C2%B2", "0", THOUSANDS_OF_DIGITS])
def test_an_admin_page_number_that_is_no_page_is_422(web: FlaskClient, page: str) -> None:
    sign_in(web)
    refused(web.get(f"/admin/cases?page={page}"), 422, "page must be a whole number from 1")


def test_an_admin_search_for_a_superscript_number_is_no_500(web: FlaskClient) -> None:
    sign_in(web)
    assert web.get("/admin/cases?text=%23%C2%B2").status_code == 200


@pytest.mark.parametrize(
    "target",
    [
        "/admin/cases\r\nSet-Cookie: stolen=1",
        "/admin/cases\nX: y",
        "/admin/%2e%2e/api/v1/cases",
        "/admin/./../metrics",
        "/administrator",
        "/admin cases",
    ],
)
def test_a_sign_in_never_follows_next_out_of_the_admin_nor_into_a_header(
    web: FlaskClient, target: str
) -> None:
    form = web.get("/admin/login")
    response = web.post(
        "/admin/login",
        data={"name": "Q", "token": ADMIN_TOKEN, "csrf_token": csrf_of(form.text), "next": target},
    )
    assert response.status_code == 303, response.text
    assert response.headers["Location"] == "/admin/cases"
    assert "Set-Cookie: stolen" not in str(response.headers) and "X" not in response.headers


def test_a_sign_in_still_returns_to_the_admin_page_it_came_from(web: FlaskClient) -> None:
    form = web.get("/admin/login")
    target = "/admin/cases?view=waiting&text=%2312"
    response = web.post(
        "/admin/login",
        data={"name": "Q", "token": ADMIN_TOKEN, "csrf_token": csrf_of(form.text), "next": target},
    )
    assert response.status_code == 303 and response.headers["Location"] == target


@pytest.fixture
def keyless_admin(
    config: Config, database_url: str, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> Iterator[FlaskClient]:
    built = build_core(config, database_url, clock, channels, admin_token=ADMIN_TOKEN)
    yield create_app(core=built).test_client()
    built.engine.dispose()


def test_signing_in_without_secret_key_is_a_503_that_names_it(
    keyless_admin: FlaskClient,
) -> None:
    shown = keyless_admin.get("/admin/login")
    refused(shown, 503, "SECRET_KEY")
    posted = keyless_admin.post("/admin/login", data={"name": "Q", "token": ADMIN_TOKEN})
    text = refused(posted, 503, "/admin needs SECRET_KEY in the environment")
    assert "ADMIN_TOKEN in the environment" not in text  # that one is set
    assert "<h1>That did not work</h1>" in text  # the ops view's own error page


# -- 3. metric labels --------------------------------------------------------------------------


def test_made_up_methods_and_paths_add_no_metric_series(client: FlaskClient) -> None:
    shuffled = random.Random(7)
    for _ in range(200):
        method = "".join(shuffled.choices(string.ascii_uppercase + string.digits, k=7))
        path = "/" + "".join(shuffled.choices(string.ascii_lowercase, k=12))
        assert client.open(path, method=method).status_code in (404, 405)
        assert client.open("/api/v1/cases", method=method).status_code in (401, 405)
    client.open("/api/v1/cases", method="FOO123")
    scraped = scrape(client)
    series = scraped.labelled("keepposted_http_responses_total")
    methods = {dict(labels)["method"] for labels in series}
    routes = {dict(labels)["route"] for labels in series}
    assert methods <= KNOWN_METHODS | {"other"} and "other" in methods
    assert routes <= {"<unmatched>", "/metrics"}
    assert len(series) <= 4  # other 404, other 405, and the scrape itself at most


def test_known_methods_keep_their_own_label(client: FlaskClient) -> None:
    client.get("/api/v1/cases")
    client.open("/api/v1/cases", method="PATCH")
    labels = {dict(k)["method"] for k in scrape(client).labelled("keepposted_http_responses_total")}
    assert {"GET", "PATCH"} <= labels


# -- 4. caching and https ----------------------------------------------------------------------


def test_every_api_answer_is_never_cached(client: FlaskClient, auth: dict[str, str]) -> None:
    case_id = open_case(client, auth)["id"]
    answers = [
        client.get(f"{API}/cases/{case_id}", headers=auth),  # 200
        client.post(f"{API}/cases", json={}, headers=auth),  # 422
        client.get(f"{API}/cases"),  # 401
        client.get(f"{API}/cases/4242", headers=auth),  # 404 from the view
        client.get(f"{API}/nothing/here", headers=auth),  # 404 from routing
        client.delete(f"{API}/cases", headers=auth),  # 405
    ]
    for response in answers:
        assert response.headers.get("Cache-Control") == "no-store", response.status_code


def test_every_admin_page_is_never_cached_but_its_scripts_may_be(web: FlaskClient) -> None:
    assert web.get("/admin/cases").headers["Cache-Control"] == "no-store"  # to the sign-in
    assert web.get("/admin/login").headers["Cache-Control"] == "no-store"
    sign_in(web)
    for path in ("/admin/cases", "/admin/cases/4242", f"/admin/cases/{BEYOND_64_BITS}"):
        assert web.get(path).headers["Cache-Control"] == "no-store", path
    assert web.get("/admin/static/plotly.min.js").headers["Cache-Control"] != "no-store"


@pytest.fixture
def https_client(
    database_url: str, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> Iterator[FlaskClient]:
    config = parse_config(TEST_CONFIG | {"public_url": "https://support.example.com"})
    built = build_core(config, database_url, clock, channels, secret_key=SECRET_KEY)
    yield create_app(core=built).test_client()
    built.engine.dispose()


def test_over_https_every_answer_asks_for_https_for_a_year(
    https_client: FlaskClient, auth: dict[str, str]
) -> None:
    for response in (
        https_client.get(f"{API}/cases", headers=auth),
        https_client.get("/healthz"),
        https_client.get("/metrics"),
        https_client.get("/admin/login"),
        https_client.get("/no/such/page"),
    ):
        policy = response.headers.get("Strict-Transport-Security", "")
        assert "includeSubDomains" in policy, response.request.path
        max_age = int(policy.split("max-age=")[1].split(";")[0])
        assert max_age >= 365 * 24 * 3600


def test_over_plain_http_nothing_asks_for_https(client: FlaskClient) -> None:
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
