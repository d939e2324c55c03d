"""The engine on PostgreSQL: migrations, a whole journey, concurrency and the tamper-evident log.

One throwaway server serves the module; each test gets a fresh database migrated from empty.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
import sqlalchemy as sa
import yaml
from alembic.autogenerate import compare_metadata
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot.app import create_app
from bot.cli import main as cli
from bot.clock import FrozenClock
from bot.config import Config, Settings
from bot.core import Core, create_core
from bot.demo.simulate import inbound_form
from bot.engine.inbound import InboundResult, handle_inbound
from bot.ledger.chain import verify
from bot.store.migrate import migration_context, upgrade
from bot.store.models import Base, Case, Contact, LogEntry, Message
from bot.worker import tick
from channels.base import InboundMessage
from tests import conftest
from tests.conftest import (
    API_TOKEN,
    START,
    TEST_CONFIG,
    Customer,
    log_events,
    open_case,
    serve_live,
)
from tests.support.fake_twilio import FakeTwilio, signed_post
from tests.support.fakes import FakeChannel
from tests.support.pg_server import PostgresServer, free_port

pytestmark = pytest.mark.postgres

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
MARIA = "+12125550101"
JOHN = "+12125550102"
JOURNEY = [
    "case_opened",
    "resolution_proposed",
    "confirmation_requested",
    "customer_message",
    "confirmed",
]
T = TypeVar("T")


@pytest.fixture
def pg_client(pg_core: Core) -> FlaskClient:
    return create_app(core=pg_core).test_client()


def resolved_case(client: FlaskClient, phone: str = MARIA, name: str = "Maria Gomez") -> int:
    return conftest.resolved_case(client, AUTH, contact={"name": name, "phone": phone})


def confirmed_case(core: Core, client: FlaskClient, channels: dict[str, FakeChannel]) -> int:
    """Maria's case, resolved, asked and confirmed with YES; returns its id."""
    case_id = resolved_case(client)
    tick(core, "test")  # the confirmation request goes out
    Customer(core, channels, MARIA).says("YES")
    return case_id


def all_at_once(count: int, work: Callable[[], T]) -> list[T]:
    """Run `work` in `count` threads released together; re-raise the first failure."""
    barrier = threading.Barrier(count)

    def run() -> T:
        barrier.wait(timeout=30)
        return work()

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(run) for _ in range(count)]
        return [future.result(timeout=120) for future in futures]


def yes_from(core: Core, phone: str, sid: str) -> InboundMessage:
    return InboundMessage(
        channel="sms", sender=phone, body="YES", provider_id=sid, received_at=core.clock.now()
    )


def run_cli(args: list[str], url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run `keepposted ARGS` on the database at URL; dispose the engine the command built."""
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(TEST_CONFIG), encoding="utf-8")
    built: list[Core] = []

    def recording_create_core(*args: Any, **kwargs: Any) -> Core:
        built.append(create_core(*args, **kwargs))
        return built[-1]

    # The command's engine would otherwise keep its pooled connection open past the test.
    monkeypatch.setattr("bot.cli.state.create_core", recording_create_core)
    env = {"DATABASE_URL": url, "KEEPPOSTED_CONFIG": str(config_file)}
    try:
        return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    finally:
        for core in built:
            core.engine.dispose()


def test_migrations_from_empty_match_the_models(pg_core: Core) -> None:
    with pg_core.engine.connect() as connection:
        assert connection.dialect.name == "postgresql"
        diff = compare_metadata(migration_context(connection), Base.metadata)
    assert diff == []


def test_whole_journey_through_the_api(
    pg_core: Core, pg_client: FlaskClient, channels: dict[str, FakeChannel]
) -> None:
    maria = Customer(pg_core, channels, MARIA)
    case_id = resolved_case(pg_client)
    tick(pg_core, "test")
    assert "Reply YES if this is fixed or REOPEN if not." in maria.inbox()[-1]

    result = maria.says("YES")
    assert (result.intent, result.case_id, result.duplicate) == ("confirm", case_id, False)
    assert "Thank you for confirming" in maria.inbox()[0]

    response = pg_client.get(f"/api/v1/cases/{case_id}", headers=AUTH)
    assert response.status_code == 200
    assert response.get_json()["status"] == "closed"
    log = pg_client.get(f"/api/v1/cases/{case_id}/log", headers=AUTH).get_json()["entries"]
    assert [e["event"] for e in log][:5] == JOURNEY
    with pg_core.sessions() as session:
        result_ok = verify(session)
    assert result_ok.ok, [p.describe() for p in result_ok.problems]


def test_twenty_copies_of_one_webhook_store_one_message(
    pg_core: Core, pg_client: FlaskClient
) -> None:
    case_id = resolved_case(pg_client)
    tick(pg_core, "test")
    inbound = yes_from(pg_core, MARIA, "SM_THE_ONE_SID")

    results: list[InboundResult] = all_at_once(20, lambda: handle_inbound(pg_core, inbound))

    assert sum(not r.duplicate for r in results) == 1
    assert sum(r.duplicate for r in results) == 19
    with pg_core.sessions() as session:
        stored = session.scalar(
            select(func.count()).select_from(Message).where(Message.provider_id == "SM_THE_ONE_SID")
        )
        assert stored == 1
        status = session.scalar(select(Case.status).where(Case.id == case_id))
        assert status == "closed"
    assert log_events(pg_core, case_id).count("confirmed") == 1
    with pg_core.sessions() as session:
        result = verify(session)
    assert result.ok, [p.describe() for p in result.problems]


def test_two_customers_reply_at_once_and_both_logs_verify(
    pg_core: Core, pg_client: FlaskClient
) -> None:
    cases = {
        MARIA: resolved_case(pg_client, MARIA, "Maria Gomez"),
        JOHN: resolved_case(pg_client, JOHN, "John Smith"),
    }
    tick(pg_core, "test")
    phones = iter([MARIA, JOHN])
    lock = threading.Lock()

    def reply() -> InboundResult:
        with lock:
            phone = next(phones)
        return handle_inbound(pg_core, yes_from(pg_core, phone, f"SM{phone[-4:]}00001"))

    results = all_at_once(2, reply)

    assert sorted(r.case_id or 0 for r in results) == sorted(cases.values())
    assert all(r.intent == "confirm" and not r.duplicate for r in results)
    with pg_core.sessions() as session:
        for case_id in cases.values():
            assert session.scalar(select(Case.status).where(Case.id == case_id)) == "closed"
        result = verify(session)
    assert result.ok, [p.describe() for p in result.problems]
    for case_id in cases.values():
        assert log_events(pg_core, case_id)[:5] == JOURNEY
        chain = [p for p in result.problems if p.chain == f"case:{case_id}"]
        assert chain == []


def test_cli_log_verify_passes_after_the_journey(
    pg_core: Core,
    pg_client: FlaskClient,
    channels: dict[str, FakeChannel],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case_id = confirmed_case(pg_core, pg_client, channels)
    assert log_events(pg_core, case_id)[:5] == JOURNEY

    outcome = run_cli(["log", "verify"], pg_core.settings.database_url, tmp_path, monkeypatch)

    assert outcome.exit_code == 0, outcome.output
    assert "ok: " in outcome.output and "intact" in outcome.output


def test_a_tampered_entry_fails_verify_naming_its_seq(
    pg_core: Core,
    pg_client: FlaskClient,
    channels: dict[str, FakeChannel],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case_id = confirmed_case(pg_core, pg_client, channels)
    with pg_core.sessions() as session:
        seq = session.scalar(
            select(LogEntry.seq).where(
                LogEntry.case_id == case_id, LogEntry.event == "customer_message"
            )
        )
    assert seq is not None
    with pg_core.engine.begin() as connection:
        changed = connection.execute(
            sa.text("UPDATE log_entries SET detail = :detail WHERE seq = :seq"),
            {"detail": '{"words": "NO, still broken", "intent": "reopen", "media": 0}', "seq": seq},
        )
        assert changed.rowcount == 1

    with pg_core.sessions() as session:
        result = verify(session)
    assert not result.ok
    first = result.first_problem
    assert first is not None
    assert (first.seq, first.chain) == (seq, f"case:{case_id}")
    assert "edited" in first.what

    outcome = run_cli(["log", "verify"], pg_core.settings.database_url, tmp_path, monkeypatch)
    assert outcome.exit_code == 1, outcome.output
    assert f"First bad entry: seq {seq}," in outcome.output


def test_stop_on_two_channels_at_once_opts_out_of_both(
    pg_core: Core, pg_client: FlaskClient
) -> None:
    """Neither opt-out may be lost: the bot must never text someone who said STOP."""
    open_case(
        pg_client, AUTH, contact={"name": "Maria Gomez", "phone": MARIA, "slack_user_id": "U0MARIA"}
    )
    stops = iter(
        [
            InboundMessage("sms", MARIA, "STOP", "SMSTOP00001", START),
            InboundMessage("slack", "U0MARIA", "STOP", "1795445400.000100", START),
        ]
    )
    lock = threading.Lock()

    def stop() -> InboundResult:
        with lock:
            inbound = next(stops)
        return handle_inbound(pg_core, inbound)

    results = all_at_once(2, stop)

    assert [r.intent for r in results] == ["opt_out", "opt_out"]
    with pg_core.sessions() as session:
        opted_out = session.scalar(select(Contact.opted_out).where(Contact.phone == MARIA))
    assert opted_out == ["slack", "sms"]


def test_repeated_stops_at_once_opt_out_and_answer_once(
    pg_core: Core, pg_client: FlaskClient, channels: dict[str, FakeChannel]
) -> None:
    """As on SQLite: the first STOP opts out and is answered; the others change nothing."""
    case_id = resolved_case(pg_client)
    tick(pg_core, "test")
    sids = iter(range(1, 100))
    lock = threading.Lock()

    def stop() -> InboundResult:
        with lock:
            sid = f"SMSTOP{next(sids):05d}"
        return handle_inbound(pg_core, InboundMessage("sms", MARIA, "STOP", sid, START))

    all_at_once(8, stop)
    tick(pg_core, "test")

    assert log_events(pg_core, case_id).count("opted_out") == 1
    answers = [b for b in channels["sms"].bodies_to(MARIA) if "no more texts" in b]
    assert len(answers) == 1, answers


def test_fifty_concurrent_copies_of_an_sms_webhook_act_once_on_postgres(
    pg_server: PostgresServer, clock: FrozenClock
) -> None:
    """The insert-or-ignore on MessageSid holds under PostgreSQL's concurrency too."""
    url = pg_server.create_database(f"keepposted_{uuid.uuid4().hex[:16]}")
    upgrade(url)
    with FakeTwilio() as fake, serve_live(url, clock, fake) as live:
        case_id = conftest.resolved_case(live.client, AUTH)
        form = inbound_form(live.core.config, MARIA, "YES", sid="SM" + "7" * 32)
        with ThreadPoolExecutor(max_workers=16) as pool:
            responses = list(
                pool.map(
                    lambda _: signed_post(
                        f"{live.url}/sms/inbound", form, auth_token=fake.auth_token
                    ),
                    range(50),
                )
            )
        assert [r.status_code for r in responses] == [200] * 50
        tick(live.core, "test")
        tick(live.core, "test")
        events = log_events(live.core, case_id)
        assert events.count("confirmed") == 1 and events.count("customer_message") == 1


def test_a_slack_case_on_postgres_with_a_retried_event_and_a_button(
    pg_server: PostgresServer, clock: FrozenClock
) -> None:
    """/case, Block Kit in the outbox (JSON column), a retried DM event and a button click."""
    from tests.support.fake_slack import FakeSlack
    from tests.support.slack_harness import AGENT, CUSTOMER, Workspace, serve_slack

    url = pg_server.create_database(f"keepposted_{uuid.uuid4().hex[:16]}")
    upgrade(url)
    dm = "D" + CUSTOMER[1:]
    with FakeSlack() as fake, serve_slack(url, clock, fake) as app:
        slack = Workspace(app, fake)
        slack.command(AGENT, f"new <@{CUSTOMER}|dana> Card declined abroad --priority P2")
        slack.command(AGENT, "resolve 1 We lifted the travel block.")
        [ask] = slack.sent_to(dm)
        for retry in (None, "1", "2"):
            headers = {"X-Slack-Retry-Num": retry} if retry else {}
            response = slack.dm(CUSTOMER, "what is the status?", ts="1763900000.1", headers=headers)
            assert response.status_code == 200
        assert slack.click(CUSTOMER, "customer_confirm", "1", channel=dm, message=ask).ok
        assert log_events(app.core, 1) == [
            "case_opened",
            "resolution_proposed",
            "confirmation_requested",
            "customer_message",
            "customer_message",
            "confirmed",
        ]
        with app.core.sessions() as session:
            assert verify(session).ok


def test_a_web_chat_case_on_postgres_with_a_retried_post(
    pg_server: PostgresServer, clock: FrozenClock
) -> None:
    """The page's post retried 20 times at once stores once; Confirm closes the case."""
    from tests.support.webchat_harness import ChatLink, serve_chat

    url = pg_server.create_database(f"keepposted_{uuid.uuid4().hex[:16]}")
    upgrade(url)
    with serve_chat(url, clock) as chat:
        case_id, link = chat.open_case()
        chat.act(case_id, "resolve", resolution="We lifted the travel block.")
        post = {"client_id": "retried-post-0001", "text": "is it really fixed?"}
        responses = all_at_once(
            20, lambda: requests.post(f"{link}/messages", json=post, timeout=10)
        )
        assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
        page = ChatLink(chat.api, chat.core, link)
        assert page.post(action="confirm").status_code == 201
        assert page.poll()["case"]["status"] == "closed"
        events = log_events(chat.core, case_id)
        assert events.count("customer_message") == 2 and events[-1] == "confirmed"
        with chat.core.sessions() as session:
            assert verify(session).ok


def test_a_request_while_the_database_is_down_gets_503_with_retry_after(config: Config) -> None:
    """Nothing listens on the port: the API and the SMS webhook answer 503 and Retry-After,
    so Twilio (with `#rc=...` on the webhook URL) and API clients try again."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone"
    core = create_core(config, Settings(database_url=url, api_token=API_TOKEN))
    client = create_app(core=core).test_client()
    response = client.get("/api/v1/cases", headers=AUTH)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert response.json is not None and response.json["error"]["code"] == "unavailable"
    assert client.get("/healthz").status_code == 503
    core.engine.dispose()
