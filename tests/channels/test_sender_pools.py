"""A pool of SMS numbers: each recipient always hears from the same number, each number keeps
its own pace, and the pool as a whole sends as fast as all its numbers together. The real
twilio Client talks to the fake Twilio; pacing runs on a fake clock that records each wait."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from bot.clock import FrozenClock
from bot.config import parse_config
from channels.pacing import Pacer
from channels.sms import sender_for
from tests.conftest import (
    TEST_CONFIG,
    LiveApp,
    Phone,
    auth_header,
    later,
    open_case,
    serve_live,
)
from tests.support.fake_twilio import FakeTwilio, SentMessage

POOL = ["+12125550901", "+12125550902", "+12125550903"]


def _customer(n: int) -> str:
    return f"+1212555{n:04d}"


@pytest.fixture
def pooled(database_url: str, clock: FrozenClock, fake_twilio: FakeTwilio) -> Iterator[LiveApp]:
    pool: dict[str, Any] = {"from": POOL}
    with serve_live(database_url, clock, fake_twilio, **pool) as served:
        yield served


def _first_updates(
    app: LiveApp, fake: FakeTwilio, clock: FrozenClock, customers: list[str]
) -> list[SentMessage]:
    """Open a case for each customer and let their first interim updates go out."""
    for number in customers:
        open_case(app.client, auth_header(), contact={"phone": number})
    later(clock, app.core, hours=2)
    return fake.wait_for(len(customers))


class RecordingPacer(Pacer):
    """A Pacer on a clock that stands still: each sender's waits pile up as its slots do, so
    the waits say how each number was paced without the test sleeping."""

    def __init__(self, per_second: float) -> None:
        self.waits: dict[str, list[float]] = defaultdict(list)
        self._record = threading.Lock()
        super().__init__(per_second, clock=lambda: 0.0, sleep=lambda _: None)

    def wait(self, sender: str, cost: int = 1) -> float:
        waited = super().wait(sender, cost)
        with self._record:
            self.waits[sender].append(waited)
        return waited


def test_one_number_is_a_pool_of_one_and_a_string_is_a_list_of_one() -> None:
    channels = TEST_CONFIG["channels"]
    one = parse_config(TEST_CONFIG | {"channels": channels | {"sms": {"from": POOL[0]}}})
    assert one.channels.sms.pool == (POOL[0],)
    many = parse_config(TEST_CONFIG | {"channels": channels | {"sms": {"from": POOL, "mps": 3}}})
    assert many.channels.sms.pool == tuple(POOL) and many.channels.sms.capacity == 9
    service = parse_config(
        TEST_CONFIG
        | {"channels": channels | {"sms": {"from": POOL, "messaging_service_sid": "MG" + "a" * 32}}}
    )
    assert service.channels.sms.pool == ("MG" + "a" * 32,)  # the service picks the number


def test_each_recipient_keeps_one_number_and_a_new_number_takes_about_its_share() -> None:
    recipients = [_customer(n) for n in range(3000)]
    before = {r: sender_for(r, tuple(POOL)) for r in recipients}
    assert before == {r: sender_for(r, tuple(POOL)) for r in recipients}  # stable
    assert min(Counter(before.values()).values()) > 850  # spread over the pool
    grown = (*POOL, "+12125550904")
    moved = [r for r in recipients if sender_for(r, grown) != before[r]]
    assert all(sender_for(r, grown) == "+12125550904" for r in moved)  # only onto the new one
    assert 600 < len(moved) < 900  # about a quarter
    shrunk = tuple(POOL[:2])
    kept = [r for r in recipients if before[r] in shrunk]
    assert all(sender_for(r, shrunk) == before[r] for r in kept)  # only the removed one's move


def test_a_customer_hears_from_their_number_and_answers_come_from_it_too(
    pooled: LiveApp, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    customers = [_customer(300 + n) for n in range(12)]
    updates = _first_updates(pooled, fake_twilio, clock, customers)
    assert {m.to: m.from_ for m in updates} == {
        number: sender_for(number, tuple(POOL)) for number in customers
    }
    assert len({m.from_ for m in updates}) > 1  # the pool really is used
    phone = Phone(pooled, fake_twilio, customers[0])
    phone.inbox()  # the update, read
    assert phone.texts("STATUS")
    assert fake_twilio.messages[-1].to == customers[0]
    assert fake_twilio.messages[-1].from_ == sender_for(customers[0], tuple(POOL))


def test_each_number_keeps_its_own_pace(
    pooled: LiveApp, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    pacer = RecordingPacer(1)
    pooled.sms.pacer = pacer
    customers = [_customer(400 + n) for n in range(30)]
    _first_updates(pooled, fake_twilio, clock, customers)
    per_number = Counter(sender_for(number, tuple(POOL)) for number in customers)
    assert {sender: len(waits) for sender, waits in pacer.waits.items()} == per_number
    for waits in pacer.waits.values():
        # One number's texts line up one after another, a segment or more apart, and no
        # number waits on another's: each one's first text goes at once.
        assert waits[0] == 0.0 and waits == sorted(waits) and len(set(waits)) == len(waits)


class MeetingPacer(Pacer):
    """Each number's first send waits until every number of the pool is waiting for its
    first slot at the same time, which happens only if the numbers are sent on at once."""

    def __init__(self, pool: list[str]) -> None:
        super().__init__(1000)
        self.meeting = threading.Barrier(len(pool), timeout=10)
        self.met: set[str] = set()

    def wait(self, sender: str, cost: int = 1) -> float:
        if sender not in self.met:
            self.met.add(sender)
            self.meeting.wait()  # BrokenBarrierError if the numbers took turns
        return super().wait(sender, cost)


def test_the_pool_sends_on_all_its_numbers_at_once(
    pooled: LiveApp, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    pacer = MeetingPacer(POOL)
    pooled.sms.pacer = pacer
    customers = [_customer(500 + n) for n in range(30)]
    _first_updates(pooled, fake_twilio, clock, customers)
    assert pacer.met == set(POOL) and not pacer.meeting.broken
