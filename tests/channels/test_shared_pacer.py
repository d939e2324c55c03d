"""The shared pacer holds a sender to its rate across processes through the `send_slots` table:
every slot is taken once, one per 1/mps, whoever takes it; a fast sender's slots are reserved
a few milliseconds' worth at a time, so its texts do not each cost a database write, while a
slow one still reserves slot by slot. Two pacers stand for two worker processes, on one
database (SQLite here, PostgreSQL as in production), with an injected clock and no sleeps."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event

from bot.store.db import make_engine
from bot.store.migrate import upgrade
from channels.pacing import RESERVE_AHEAD, SharedPacer
from tests.support.pg_server import PostgresServer

START = 1_800_000_000.0  # Unix seconds, 2027


class Clock:
    """Time that moves only when a pacer sleeps: each sleeps until its slot."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, database_url: str) -> Iterator[Engine]:
    url = database_url
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("pg_server")
        url = server.create_database(f"pacer_{uuid.uuid4().hex[:12]}")
        upgrade(url)
    built = make_engine(url)
    yield built
    built.dispose()


def _writes(engine: Engine) -> list[str]:
    """The statements that move a sender's slots, as they run."""
    seen: list[str] = []

    def on_execute(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "send_slots" in statement and not statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", on_execute)
    return seen


def _slots(pacers: list[SharedPacer], clock: Clock, texts: int) -> list[float]:
    """Each text's moment: the pacers take turns, as workers sending side by side."""
    moments = []
    for i in range(texts):
        pacers[i % len(pacers)].wait("+12125550100")
        moments.append(clock.now)
    return moments


def test_a_fast_senders_slots_are_each_taken_once_and_reserved_a_few_at_a_time(
    engine: Engine,
) -> None:
    clock = Clock()
    mps = 1_000.0
    pacers = [SharedPacer(engine, mps, clock=clock, sleep=clock.sleep) for _ in range(2)]
    writes = _writes(engine)
    texts = 400
    moments = _slots(pacers, clock, texts)
    # Never more than the rate: in any window of a second's tenth, at most 100 texts, plus
    # what one reservation may bunch (a worker using its slots late).
    bunch = int(RESERVE_AHEAD * mps)
    for i, moment in enumerate(moments):
        in_window = sum(1 for other in moments[i:] if other < moment + 0.1)
        assert in_window <= 100 + bunch
    # The whole run took its slots' time: 400 texts at 1,000 a second.
    assert moments[-1] - START == pytest.approx((texts - 1) / mps, abs=RESERVE_AHEAD)
    per_reservation = int(RESERVE_AHEAD * mps)
    assert len(writes) <= 2 * texts / per_reservation + 4  # not one write a text
    assert len(writes) < texts / 10


def test_two_processes_never_share_a_slot_of_a_slow_sender(engine: Engine) -> None:
    """At one text a second a slot is longer than a reservation: one slot at a time, so
    whichever worker sends next takes the next second, and no second is taken twice."""
    clock = Clock()
    pacers = [SharedPacer(engine, 1.0, clock=clock, sleep=clock.sleep) for _ in range(2)]
    writes = _writes(engine)
    moments = _slots(pacers, clock, 10)
    assert [round(moment - START, 6) for moment in moments] == [float(n) for n in range(10)]
    assert len(writes) == 11  # the first finds no row for the sender and inserts it
