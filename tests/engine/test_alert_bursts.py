"""A burst of customer messages about one case is one Slack alert, edited as they come in: the
real engine on SQLite, the real outbox and Slack sender, Slack's Web API faked by
tests/support/fake_slack.py. Customers write by SMS (the SMS sender is in dry-run here)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from itertools import count
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.clock import FrozenClock
from bot.core import Core
from bot.domain import AlertKind, OutboxKind
from bot.engine.alerts import queue_alert
from bot.engine.inbound import handle_inbound
from bot.outbox import sender
from bot.store.models import AlertBurst, Case, Outbox
from bot.worker import tick
from channels.base import InboundMessage
from tests.conftest import auth_header, open_case, resolved_case
from tests.support.fake_slack import FakeSlack
from tests.support.fakes import FakeChannel
from tests.support.slack_harness import ALERTS, SUPERVISOR, SlackApp, serve_slack

MARIA, JOE = "+12125550101", "+12125550102"
ANGRY = "This is ridiculous, worst service ever, I am furious"


@pytest.fixture
def app(database_url: str, clock: FrozenClock, fake_slack: FakeSlack) -> Iterator[SlackApp]:
    with serve_slack(database_url, clock, fake_slack) as served:
        yield served


_sids = count(1)


def sms(core: Core, phone: str, body: str) -> InboundMessage:
    return InboundMessage(
        channel="sms",
        sender=phone,
        body=body,
        provider_id=f"SM{next(_sids):08d}",
        received_at=core.clock.now(),
    )


def texts(app: SlackApp, phone: str, body: str, *, send: bool = True) -> None:
    """The customer texts `body`; with `send`, the worker then sends what it queued."""
    handle_inbound(app.core, sms(app.core, phone, body))
    if send:
        tick(app.core, "test")


def posts(fake: FakeSlack) -> list[str]:
    return [c.params["text"] for c in fake.calls_to("chat.postMessage") if c.ok]


def edits(fake: FakeSlack) -> list[Any]:
    return [c for c in fake.calls_to("chat.update") if c.ok]


def window(app: SlackApp) -> timedelta:
    return app.core.config.alerts.coalesce_window


def open_case_for(app: SlackApp, phone: str, subject: str) -> int:
    contact = {"name": "Maria Gomez", "phone": phone}
    return int(open_case(app.client, auth_header(), subject=subject, contact=contact)["id"])


def test_ten_messages_in_a_window_are_one_alert_edited_to_the_latest(
    app: SlackApp, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    resolved_case(app.client, auth_header())
    texts(app, MARIA, "REOPEN it is still broken")
    for n in range(2, 10):
        clock.advance(timedelta(seconds=50))  # 8 minutes in all, each within the last
        texts(app, MARIA, ANGRY if n == 4 else f"message {n}, still nothing")
    clock.advance(timedelta(seconds=50))
    texts(app, MARIA, "call me <!channel> & <https://evil.example|here>")

    assert len(posts(fake_slack)) == 1
    assert len(edits(fake_slack)) == 9
    [alert] = fake_slack.messages(ALERTS)
    assert all(c.params["ts"] == alert["ts"] for c in edits(fake_slack))
    text = alert["text"]
    assert "10 messages since 10:00: reopen requested + unclear reply" in text
    # The latest words, escaped: nobody is pinged and no link is forged.
    assert "call me &lt;!channel&gt; &amp; &lt;https://evil.example|here&gt;" in text
    assert "still nothing" not in text and "REOPEN" not in text
    # The fourth message was strongly negative: its call-out stays for the whole burst.
    assert f"Strongly negative (-0.88), cc <@{SUPERVISOR}>" in text
    section, *_, actions = alert["blocks"]
    assert section["text"]["text"] == text
    assert [e["action_id"] for e in actions["elements"]][:1] == ["alert_update"]


def test_a_message_after_the_window_raises_a_new_alert(
    app: SlackApp, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    open_case_for(app, MARIA, "Router keeps rebooting")
    texts(app, MARIA, "please call me back")
    clock.advance(window(app) - timedelta(seconds=1))
    texts(app, MARIA, "hello?")
    clock.advance(window(app))  # the window runs from the last update, not the first message
    texts(app, MARIA, "still waiting")

    assert len(posts(fake_slack)) == 2 and len(edits(fake_slack)) == 1
    first, second = fake_slack.messages(ALERTS)
    assert '"hello?"' in first["text"] and "2 messages since 10:00" in first["text"]
    assert '"still waiting"' in second["text"] and "messages since" not in second["text"]


def test_two_cases_get_two_alerts(app: SlackApp, fake_slack: FakeSlack) -> None:
    maria = open_case_for(app, MARIA, "Router keeps rebooting")
    joe = open_case_for(app, JOE, "No dial tone")
    for n in range(3):
        texts(app, MARIA, f"maria {n}")
        texts(app, JOE, f"joe {n}")

    assert len(posts(fake_slack)) == 2 and len(edits(fake_slack)) == 4
    first, second = fake_slack.messages(ALERTS)
    assert f"#{maria}" in first["text"] and '"maria 2"' in first["text"]
    assert f"#{joe}" in second["text"] and '"joe 2"' in second["text"]
    assert all("3 messages since" in m["text"] for m in (first, second))


def test_messages_before_the_alert_is_sent_rewrite_it(
    app: SlackApp, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    open_case_for(app, MARIA, "Router keeps rebooting")
    for words in ("first", "second", "third"):
        texts(app, MARIA, words, send=False)
        clock.advance(timedelta(minutes=1))
    tick(app.core, "test")

    assert edits(fake_slack) == []
    [text] = posts(fake_slack)
    assert '"third"' in text and "3 messages since 10:00: unclear reply" in text
    with app.core.sessions() as session:
        alerts = session.scalars(select(Outbox).where(Outbox.kind == OutboxKind.ALERT)).all()
    [posted] = fake_slack.messages(ALERTS)
    assert len(alerts) == 1 and alerts[0].provider_id == f"{ALERTS}:{posted['ts']}"


def test_an_alert_waiting_to_retry_is_rewritten_before_it_goes(
    app: SlackApp, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    open_case_for(app, MARIA, "Router keeps rebooting")
    fake_slack.fail_next("chat.postMessage", status=500)
    texts(app, MARIA, "first")  # Slack failed the post: it waits for its retry
    assert posts(fake_slack) == []
    texts(app, MARIA, "second", send=False)
    clock.advance(timedelta(seconds=5))  # past the first retry's backoff
    tick(app.core, "test")

    [text] = posts(fake_slack)
    assert '"second"' in text and "2 messages since" in text and edits(fake_slack) == []


@pytest.mark.parametrize("error", ["message_not_found", "cant_update_message"])
def test_an_alert_slack_cannot_edit_is_posted_afresh_and_edited_from_then_on(
    app: SlackApp, fake_slack: FakeSlack, error: str
) -> None:
    open_case_for(app, MARIA, "Router keeps rebooting")
    texts(app, MARIA, "first")
    fake_slack.fail_next("chat.update", error=error)
    texts(app, MARIA, "second")
    texts(app, MARIA, "third")

    assert [c.answered_error for c in fake_slack.calls_to("chat.update")] == [error, None]
    assert len(posts(fake_slack)) == 2
    old, fresh = fake_slack.messages(ALERTS)
    assert '"first"' in old["text"]
    assert '"third"' in fresh["text"] and "3 messages since" in fresh["text"]
    assert edits(fake_slack)[0].params["ts"] == fresh["ts"]


def test_alerts_not_about_a_customer_message_post_fresh_and_leave_the_burst_alone(
    app: SlackApp, fake_slack: FakeSlack
) -> None:
    case_id = open_case_for(app, MARIA, "Router keeps rebooting")
    texts(app, MARIA, "first")
    with app.core.sessions.begin() as session:
        case = session.get(Case, case_id)
        assert case is not None
        for kind in (AlertKind.ETA_MISSED, AlertKind.DELIVERY_FAILED):
            extra: dict[str, Any] = {"error": "unreachable", "kind_failed": "interim"}
            queue_alert(session, app.core, case=case, kind=kind, now=app.core.clock.now(), **extra)
    tick(app.core, "test")
    texts(app, MARIA, "second")

    assert len(posts(fake_slack)) == 3 and len(edits(fake_slack)) == 1
    burst, eta, failed = fake_slack.messages(ALERTS)
    assert "passed its ETA" in eta["text"] and "could not be delivered" in failed["text"]
    assert '"second"' in burst["text"] and "2 messages since" in burst["text"]


def test_an_edit_queued_while_the_alert_is_on_its_way_waits_for_it(
    app: SlackApp, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    open_case_for(app, MARIA, "Router keeps rebooting")
    texts(app, MARIA, "first", send=False)
    with app.core.sessions.begin() as session:  # another worker takes the post, then stalls
        stalled = sender._claim(session, app.core, clock.now(), "stalled")
        assert [row.kind for row in stalled].count(OutboxKind.ALERT) == 1
    texts(app, MARIA, "second")  # its edit cannot go before the post has an id
    assert posts(fake_slack) == [] and fake_slack.calls_to("chat.update") == []

    clock.advance(app.core.config.worker.lease + timedelta(seconds=1))
    tick(app.core, "test")  # the stalled worker's lease ran out: the post goes as claimed
    assert len(posts(fake_slack)) == 1 and '"first"' in posts(fake_slack)[0]
    clock.advance(timedelta(seconds=5))
    tick(app.core, "test")
    [alert] = fake_slack.messages(ALERTS)
    assert [c.params["ts"] for c in edits(fake_slack)] == [alert["ts"]]
    assert '"second"' in alert["text"] and "2 messages since" in alert["text"]


def test_messages_at_once_on_postgres_are_one_alert(
    pg_core: Core, channels: dict[str, FakeChannel]
) -> None:
    client = create_app(core=pg_core).test_client()
    open_case(client, auth_header(), contact={"name": "Maria Gomez", "phone": MARIA})
    messages = [sms(pg_core, MARIA, f"message {n}") for n in range(8)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda message: handle_inbound(pg_core, message), messages))
    tick(pg_core, "test")

    with pg_core.sessions() as session:
        [burst] = session.scalars(select(AlertBurst)).all()
        assert burst.messages == 8 and burst.kinds == ["unclear_reply"]
    [alert] = [m for m in channels["slack"].sent if m.kind == "alert"]
    assert "8 messages since 10:00" in alert.body and "edits" not in alert.metadata
