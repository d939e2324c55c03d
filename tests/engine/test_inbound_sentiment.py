"""The engine reads a message's sentiment before it takes SQLite's write lock where it can (a
channel whose user waits on the answer), and stores it either way in."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.core import Core
from bot.engine import actions
from bot.engine import inbound as engine
from bot.engine.inbound import accept_inbound, answer_or_keep, handle_inbound, handle_received
from bot.store.models import Message, Outbox
from channels.base import InboundMessage
from flows.sentiment import sentiment

SENDERS = {"sms": "+12125550101", "slack": "U0CUSTOMER1", "webchat": "contact:1"}
ANGRY = "This is ridiculous, worst service ever, I am furious"


def inbound(channel: str, body: str, sid: str) -> InboundMessage:
    return InboundMessage(
        channel=channel,
        sender=SENDERS[channel],
        body=body,
        provider_id=sid,
        received_at=datetime(2026, 11, 23, 15, 0, tzinfo=UTC),
    )


def write_lock_is_free(database_url: str) -> bool:
    other = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0)
    other.isolation_level = None
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:  # "database is locked": a writer holds it
        return False
    finally:
        other.close()


def test_sentiment_is_read_before_the_write_lock_is_taken(
    core: Core, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []

    def probing(text: str, language: str | None = None) -> float:
        seen.append(write_lock_is_free(database_url))
        return sentiment(text, language)

    monkeypatch.setattr(engine, "sentiment", probing)
    for n, channel in enumerate(sorted(SENDERS)):
        handle_inbound(core, inbound(channel, ANGRY, f"h{n}"))
        answer_or_keep(core, inbound(channel, ANGRY, f"a{n}"))
    assert seen == [True] * 6
    with core.sessions() as session:
        scores = session.scalars(select(Message.sentiment).where(Message.direction == "in"))
        assert set(scores) == {sentiment(ANGRY)}


def test_the_worker_stores_the_sentiment_of_what_was_accepted(core: Core) -> None:
    accept_inbound(core, inbound("sms", ANGRY, "SM1"))
    accept_inbound(core, inbound("sms", "not good " * 4445, "SM2"))  # Slack's longest, by SMS
    assert handle_received(core) == 2
    with core.sessions() as session:
        scores = list(session.scalars(select(Message.sentiment).order_by(Message.id)))
    assert scores[0] == sentiment(ANGRY) and scores[0] is not None and scores[0] <= -0.6
    assert scores[1] == sentiment("not good " * 4445)


@pytest.mark.parametrize(
    "furious",
    [
        "Es una vergüenza, llevo tres semanas sin servicio, son unos inútiles",
        "C'est inadmissible, personne ne répond, je suis furieux",
        "Péssimo atendimento, estou muito irritado, que absurdo",
    ],
)
def test_a_furious_customer_alerts_in_any_language(core: Core, furious: str) -> None:
    with core.sessions.begin() as session:
        actions.open_case(
            session,
            core,
            subject="Sin internet",
            contact={"phone": SENDERS["sms"]},
            actor="api",
            now=core.clock.now(),
        )
    handle_inbound(core, inbound("sms", furious, "SMFURIOUS1"))
    with core.sessions() as session:
        stored = session.scalar(select(Message).where(Message.body == furious))
        assert stored is not None and stored.sentiment is not None
        assert stored.sentiment <= core.config.sentiment.alert_below
        alerts = list(session.scalars(select(Outbox.body).where(Outbox.kind == "alert")))
    assert len(alerts) == 1 and "Strongly negative" in alerts[0], alerts
