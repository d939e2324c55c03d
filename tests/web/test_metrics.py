"""`GET /metrics`: the database's figures at scrape time, webhook latency from request hooks,
and an answer even when the database is down. Scrapes are parsed with prometheus_client's own
parser; webhooks go over real HTTP with signatures from twilio's signer."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from bot.app import create_app
from bot.clock import FrozenClock
from bot.config import Config, Settings
from bot.core import Core, create_core
from bot.domain import OutboxKind
from bot.engine.contacts import Address
from bot.outbox.queue import enqueue
from bot.worker import advance_due_updates, tick
from channels.registry import ChannelRegistry
from tests.conftest import (
    API_TOKEN,
    Customer,
    LiveApp,
    Phone,
    auth_header,
    open_case,
    resolved_case,
)
from tests.support.fake_twilio import FakeTwilio, signed_post
from tests.support.fakes import FakeChannel
from tests.support.webchat_harness import ChatLink

ROOT = Path(__file__).resolve().parents[2]
MARIA = "+12125550101"
Labels = frozenset[tuple[str, str]]


class Scrape:
    """One /metrics answer, parsed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.families = {f.name: f for f in text_string_to_metric_families(text)}

    def value(self, sample: str, **labels: str) -> float | None:
        for family in self.families.values():
            for found in family.samples:
                if found.name == sample and found.labels == labels:
                    return float(found.value)
        return None

    def labelled(self, sample: str) -> dict[Labels, float]:
        return {
            frozenset(found.labels.items()): float(found.value)
            for family in self.families.values()
            for found in family.samples
            if found.name == sample
        }


def scrape(client: FlaskClient, **headers: str) -> Scrape:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/plain")
    return Scrape(response.get_data(as_text=True))


# -- from the database ----------------------------------------------------------------------


def test_every_figure_is_named_and_explained(client: FlaskClient) -> None:
    text = client.get("/metrics").get_data(as_text=True)
    scraped = Scrape(text)
    for name in (
        "keepposted_database_up",
        "keepposted_messages",
        "keepposted_cases",
        "keepposted_outbox_failed",
        "keepposted_updates_due",
        "keepposted_updates_oldest_due_seconds",
        "keepposted_outbox_waiting",
        "keepposted_outbox_oldest_waiting_seconds",
        "keepposted_outbox_in_flight",
        "keepposted_outbox_expired_leases",
        "keepposted_outbox_failed_last_hour",
        "keepposted_interim_late_seconds",
        "keepposted_outbox_waiting_by_class",
        "keepposted_outbox_oldest_waiting_by_class_seconds",
    ):
        assert name in scraped.families, name
        assert scraped.families[name].documentation, name
    assert scraped.value("keepposted_database_up") == 1
    assert "# HELP keepposted_updates_due " in text


def test_messages_are_counted_by_channel_direction_and_status(
    client: FlaskClient, core: Core, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> None:
    auth = auth_header()
    case_id = resolved_case(client, auth)  # the confirmation request is queued
    first = scrape(client)
    assert first.labelled("keepposted_messages") == {
        frozenset({"channel": "sms", "direction": "out", "status": "queued"}.items()): 1
    }
    tick(core, "test")
    Customer(core, channels, MARIA).says("YES")  # thanks, then "Reply 1-5"
    channels["sms"].fail_next()  # the next send is refused by the provider
    other = open_case(client, auth, contact={"phone": "+12125550102"}, priority="P1")
    clock.advance(timedelta(minutes=31))
    tick(core, "test")

    scraped = scrape(client)
    sms = {
        (labels["direction"], labels["status"]): value
        for labels, value in (
            (dict(key), value) for key, value in scraped.labelled("keepposted_messages").items()
        )
        if labels["channel"] == "sms"
    }
    assert sms == {("out", "sent"): 3, ("in", "received"): 1, ("out", "failed"): 1}
    # The same truth as the REST API's message lists.
    listed: Counter[tuple[str, str]] = Counter()
    for shown in (case_id, other["id"]):
        messages = client.get(f"/api/v1/cases/{shown}/messages", headers=auth).get_json()
        listed.update((m["direction"], m["status"]) for m in messages["messages"])
    assert dict(listed) == sms
    failed = "keepposted_outbox_failed_total"
    assert scraped.value(failed, channel="sms", kind="interim") == 1
    assert scraped.value("keepposted_outbox_failed_last_hour") == 1
    assert scraped.value("keepposted_cases", status="closed") == 1
    assert scraped.value("keepposted_cases", status="open") == 1


def test_the_backlog_is_what_keepposted_status_measures(
    client: FlaskClient, core: Core, clock: FrozenClock
) -> None:
    open_case(client, auth_header(), priority="P1")  # first update after 30 minutes
    clock.advance(timedelta(minutes=45))
    due = scrape(client)
    assert due.value("keepposted_updates_due") == 1
    assert due.value("keepposted_updates_oldest_due_seconds") == 15 * 60
    assert due.value("keepposted_outbox_waiting") == 0

    advance_due_updates(core)  # queued, not yet sent
    clock.advance(timedelta(seconds=40))
    queued = scrape(client)
    assert queued.value("keepposted_updates_due") == 0
    assert queued.value("keepposted_outbox_waiting") == 1
    assert queued.value("keepposted_outbox_oldest_waiting_seconds") == 40

    tick(core, "test")
    sent = scrape(client)
    assert sent.value("keepposted_outbox_waiting") == 0
    assert sent.value("keepposted_interim_late_seconds", quantile="0.5") == 15 * 60 + 40


def test_the_outbox_is_measured_per_priority_class(
    client: FlaskClient, core: Core, clock: FrozenClock
) -> None:
    def queue(kind: OutboxKind, to: str) -> None:
        with core.sessions.begin() as session:
            now = clock.now()
            enqueue(
                session, address=Address("sms", to), body="hi", template="t", kind=kind, now=now
            )

    queue(OutboxKind.INTERIM, "+12125550110")
    clock.advance(timedelta(seconds=30))
    queue(OutboxKind.INTERIM, "+12125550111")
    clock.advance(timedelta(seconds=20))
    queue(OutboxKind.REPLY, "+12125550112")
    clock.advance(timedelta(seconds=5))
    scraped = scrape(client)
    waiting = "keepposted_outbox_waiting_by_class"
    oldest = "keepposted_outbox_oldest_waiting_by_class_seconds"
    assert scraped.value(waiting, priority="answer") == 1
    assert scraped.value(oldest, priority="answer") == 5
    assert scraped.value(waiting, priority="update") == 2
    assert scraped.value(oldest, priority="update") == 55
    for empty in ("team", "confirmation", "notice"):  # every class is there, at 0
        assert scraped.value(waiting, priority=empty) == 0
        assert scraped.value(oldest, priority=empty) == 0
    assert scraped.value("keepposted_outbox_waiting") == 3  # the classes add up


def test_a_database_that_is_down_gives_database_up_0_not_an_error(
    config: Config, clock: FrozenClock, channels: dict[str, FakeChannel], tmp_path: Path
) -> None:
    gone = tmp_path / "no" / "such" / "folder" / "keepposted.db"
    down = create_core(
        config,
        Settings(database_url=f"sqlite:///{gone}", api_token=API_TOKEN),
        clock=clock,
        channels=ChannelRegistry(dict(channels)),
    )
    client = create_app(core=down).test_client()
    assert client.get("/healthz").status_code == 503
    scraped = scrape(client)
    assert scraped.value("keepposted_database_up") == 0
    assert "keepposted_messages" not in scraped.families
    # This process's own figures still come: the failed health check was counted.
    responses = "keepposted_http_responses_total"
    assert scraped.value(responses, method="GET", route="/healthz", status="503") == 1
    down.engine.dispose()


# -- in this process: webhook latency --------------------------------------------------------


def test_a_signed_sms_webhook_is_timed_by_route_and_status(
    live: LiveApp, fake_twilio: FakeTwilio
) -> None:
    open_case(live.client, auth_header())
    phone = Phone(live, fake_twilio, MARIA)
    assert phone.post("STATUS").status_code == 200
    assert phone.post("HELP").status_code == 200
    forged = signed_post(f"{live.url}/sms/inbound", {"Body": "hi"}, signature="Zm9yZ2Vk")
    assert forged.status_code == 403

    response = requests.get(f"{live.url}/metrics", timeout=10)
    assert response.status_code == 200
    scraped = Scrape(response.text)
    ok = {"method": "POST", "route": "/sms/inbound", "status": "200"}
    assert scraped.value("keepposted_webhook_seconds_count", **ok) == 2
    assert scraped.value("keepposted_webhook_seconds_bucket", le="+Inf", **ok) == 2
    assert 0 < (scraped.value("keepposted_webhook_seconds_sum", **ok) or 0) < 30
    refused = ok | {"status": "403"}
    assert scraped.value("keepposted_webhook_seconds_count", **refused) == 1
    assert scraped.value("keepposted_http_responses_total", **refused) == 1
    created = {"method": "POST", "route": "/api/v1/cases", "status": "201"}
    assert scraped.value("keepposted_webhook_seconds_count", **created) == 1


def test_routes_are_labelled_by_their_rule_never_by_a_token(
    chat_core: Core, clock: FrozenClock
) -> None:
    client = create_app(core=chat_core).test_client()
    case = open_case(client, auth_header())
    chat = ChatLink(client, chat_core, case["webchat_url"])
    chat.says("is anyone there?")
    chat.poll()
    token = chat.path.removeprefix("/c/")
    assert client.get("/c/not-a-real-token-at-all/nowhere").status_code == 404

    scraped = scrape(client)
    assert token not in scraped.text and "not-a-real-token" not in scraped.text
    posted = {"method": "POST", "route": "/c/<token>/messages", "status": "201"}
    assert scraped.value("keepposted_webhook_seconds_count", **posted) == 1
    polled = posted | {"method": "GET", "status": "200"}
    assert scraped.value("keepposted_http_responses_total", **polled) == 1
    assert scraped.value("keepposted_webhook_seconds_count", **polled) is None  # not a webhook
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    assert scraped.value("keepposted_http_responses_total", **unmatched) == 1


def test_openmetrics_is_served_to_a_scraper_that_asks_for_it(client: FlaskClient) -> None:
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert response.get_data(as_text=True).endswith("# EOF\n")


# -- access -----------------------------------------------------------------------------------


@pytest.fixture
def guarded(core: Core, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    monkeypatch.setenv("METRICS_TOKEN", "scrape-secret")
    return create_app(core=core).test_client()


def test_metrics_token_is_required_once_set(guarded: FlaskClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "scrape-secret"}):
        refused = guarded.get("/metrics", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert refused.get_json()["error"]["code"] == "unauthorized"
    scraped = scrape(guarded, Authorization="Bearer scrape-secret")
    assert scraped.value("keepposted_database_up") == 1


def test_metrics_are_open_without_a_token(client: FlaskClient) -> None:
    assert client.get("/metrics").status_code == 200


# -- gunicorn: several worker processes, one scrape -----------------------------------------

WORKER_PROCESS = """
import sys
from bot.app import create_app
from bot.config import Settings, parse_config
from bot.core import create_core

core = create_core(parse_config({}), Settings(database_url=sys.argv[1], api_token="tok"))
client = create_app(core=core).test_client()
if sys.argv[2] == "post":
    body = {"subject": "No signal", "contact": {"phone": sys.argv[3]}}
    response = client.post("/api/v1/cases", json=body, headers={"Authorization": "Bearer tok"})
    assert response.status_code == 201, response.get_json()
else:
    sys.stdout.write(client.get("/metrics").get_data(as_text=True))
core.engine.dispose()
"""


@pytest.mark.slow
def test_multiprocess_mode_sums_every_worker_process(database_url: str, tmp_path: Path) -> None:
    multiprocess_dir = tmp_path / "prometheus"
    multiprocess_dir.mkdir()
    env = os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(multiprocess_dir), "LOG_LEVEL": "ERROR"}
    env.pop("METRICS_TOKEN", None)

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", WORKER_PROCESS, database_url, *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("post", "+12125550111")  # two "gunicorn workers", each answering one request
    run("post", "+12125550112")
    scraped = Scrape(run("scrape"))  # a third answers the scrape
    created = {"method": "POST", "route": "/api/v1/cases", "status": "201"}
    assert scraped.value("keepposted_webhook_seconds_count", **created) == 2
    assert scraped.value("keepposted_http_responses_total", **created) == 2
    assert scraped.value("keepposted_cases", status="open") == 2
    assert any(multiprocess_dir.glob("histogram_*.db"))  # each process wrote its own file
