"""The replies corpus sent as real SMS webhooks: each line, from its own customer whose case
awaits confirmation, must be stored word for word, read as its intent, and do what that intent
does to the case (the worst mistake, closing a case that is still broken, is checked for every
line)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.domain import CaseStatus
from bot.engine import actions
from bot.store.models import Case, Contact, Message
from flows.intents import Intent
from tests.conftest import LiveApp, Phone
from tests.flows.test_intents import OWN_CORPUS, load_corpus, shared_corpus
from tests.support.fake_twilio import FakeTwilio

# What each intent does to a case that awaits the customer's word.
STATUS_AFTER = {
    Intent.CONFIRM: CaseStatus.CLOSED,
    Intent.REOPEN: CaseStatus.OPEN,
}


def _phone(index: int) -> str:
    return f"+1212666{index:04d}"


def _send_corpus(live: LiveApp, fake: FakeTwilio, path: Path) -> None:
    rows = load_corpus(path)
    now = live.core.clock.now()
    with live.core.sessions.begin() as session:
        for index in range(len(rows)):
            case = actions.open_case(
                session,
                live.core,
                subject="Internet down",
                contact={"phone": _phone(index)},
                actor="agent:U1",
                now=now,
            )
            actions.resolve(session, live.core, case, resolution="Fixed", actor="agent:U1", now=now)

    def send(index: int) -> None:
        Phone(live, fake, _phone(index)).texts(rows[index][0], sid=f"SM{index:032d}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(send, range(len(rows))))

    with live.core.sessions() as session:
        found = {
            phone: (body, intent, status, opted_out)
            for phone, body, intent, status, opted_out in session.execute(
                select(Contact.phone, Message.body, Message.intent, Case.status, Contact.opted_out)
                .join(Message, Message.contact_id == Contact.id)
                .join(Case, Case.contact_id == Contact.id)
                .where(Message.direction == "in")
            )
        }
    wrong: list[tuple[str, str, str]] = []  # (line, its intent, what went wrong)
    for index, (text, intent) in enumerate(rows):
        if _phone(index) not in found:
            wrong.append((text, str(intent), "no inbound message stored"))
            continue
        body, read_as, status, opted_out = found[_phone(index)]
        expected_status = STATUS_AFTER.get(intent, CaseStatus.RESOLVED)
        if body != text:
            wrong.append((text, str(intent), f"stored as {body!r}"))
        if read_as != intent:
            wrong.append((text, str(intent), f"read as {read_as}"))
        if status != expected_status:
            wrong.append((text, str(intent), f"case {status}, expected {expected_status}"))
        if (intent == Intent.OPT_OUT) != ("sms" in opted_out):
            wrong.append((text, str(intent), f"opted out of {opted_out}"))
    assert wrong == []


@pytest.mark.slow
def test_own_corpus_as_sms(live: LiveApp, fake_twilio: FakeTwilio) -> None:
    _send_corpus(live, fake_twilio, OWN_CORPUS)


@pytest.mark.slow
def test_shared_corpus_as_sms(live: LiveApp, fake_twilio: FakeTwilio) -> None:
    _send_corpus(live, fake_twilio, shared_corpus())
