"""No bursts: the updates that waited out the night leave over `quiet_hours.spread` in the order
they were due, and each case's fixed offset (`cadences.jitter`) keeps cases opened or caught up
together from falling due at once. The clock is injected; no test sleeps."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.clock import FrozenClock
from bot.config import Config, parse_config
from bot.core import Core
from bot.domain import OutboxKind
from bot.engine import actions
from bot.errors import ConfigError
from bot.render import format_when
from bot.store.models import Case, Outbox
from bot.worker import tick
from flows.interim import UPDATING_STATES, jitter_share, update_goes_at
from tests.conftest import TEST_CONFIG, fake_channel_core
from tests.support.fakes import FakeChannel

NEW_YORK = ZoneInfo("America/New_York")
ZONE = "America/New_York"
SPREAD = timedelta(minutes=90)


def local(year: int, month: int, day: int, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    """A New York wall-clock time as UTC (`fold=1`: the second 01:30 of the fall-back night)."""
    at = datetime(year, month, day, hour, minute, tzinfo=NEW_YORK, fold=fold)
    return at.astimezone(UTC)


def configured(**changes: Any) -> Config:
    """The test config with `quiet_hours` and `cadences` keys changed."""
    data = {
        **TEST_CONFIG,
        "quiet_hours": {**TEST_CONFIG["quiet_hours"], **changes.get("quiet_hours", {})},
        "cadences": {**TEST_CONFIG["cadences"], **changes.get("cadences", {})},
    }
    return parse_config(data)


MakeCore = Callable[[Config], Core]


@pytest.fixture
def make_core(
    database_url: str, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> Iterator[MakeCore]:
    """The test's core, on the config the test gives."""
    with ExitStack() as stack:
        yield lambda config: stack.enter_context(
            fake_channel_core(config, database_url, clock, channels)
        )


def phone(i: int) -> str:
    return f"+12125550{100 + i:03d}"


def open_cases(core: Core, count: int, now: datetime, **fields: Any) -> list[int]:
    """`count` cases opened at `now`, each for its own New York SMS contact."""
    with core.sessions.begin() as session:
        cases = [
            actions.open_case(
                session,
                core,
                subject=f"Case {i}",
                contact={"phone": phone(i), "timezone": ZONE},
                actor="agent:U1",
                now=now,
                **fields,
            )
            for i in range(count)
        ]
        return [case.id for case in cases]


def set_due(core: Core, due: dict[int, datetime]) -> None:
    with core.sessions.begin() as session:
        for case_id, at in due.items():
            case = session.get(Case, case_id)
            assert case is not None
            case.next_update_at = at


def next_due(core: Core) -> datetime | None:
    with core.sessions() as session:
        return session.scalar(
            select(func.min(Case.next_update_at)).where(
                Case.status.in_(UPDATING_STATES), Case.paused.is_(False)
            )
        )


def run_worker_until(core: Core, clock: FrozenClock, end: datetime) -> None:
    """A punctual worker: one run at each moment an update falls due, up to `end`."""
    for _ in range(10_000):
        due = next_due(core)
        if due is None or due > end:
            break
        clock.set(max(due, clock.now()))
        tick(core, "test")
    clock.set(max(end, clock.now()))


def interims(core: Core) -> list[tuple[int, datetime]]:
    """(case id, sent at) of every interim update queued, in the order they went; each one
    queued has gone, as nothing here holds the outbox back."""
    with core.sessions() as session:
        rows = session.scalars(
            select(Outbox).where(Outbox.kind == OutboxKind.INTERIM).order_by(Outbox.sent_at)
        ).all()
    sent = [(row.case_id, row.sent_at) for row in rows]
    assert all(case_id is not None and at is not None for case_id, at in sent)
    return [(case_id, at) for case_id, at in sent if case_id is not None and at is not None]


def stored(core: Core, case_id: int) -> Case:
    with core.sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case


# -- spread after quiet hours ------------------------------------------------------------------

# The two nights of 2026 the clocks change in New York. 21:00 to 08:00 is 12 hours when they go
# back (1 November) and 10 when they go forward (8 March).
NIGHTS = {
    "fall back": (local(2026, 10, 31, 21), local(2026, 11, 1, 8), timedelta(hours=12)),
    "spring forward": (local(2026, 3, 7, 21), local(2026, 3, 8, 8), timedelta(hours=10)),
}


@pytest.mark.parametrize("night", NIGHTS)
def test_updates_due_in_the_night_leave_over_the_spread_in_the_order_they_were_due(
    make_core: MakeCore, clock: FrozenClock, night: str
) -> None:
    start, end, length = NIGHTS[night]
    assert end - start == length
    core = make_core(configured(quiet_hours={"spread": "90m"}))
    clock.set(start - timedelta(hours=3))
    ids = open_cases(core, 24, clock.now())
    # Due every half hour for twelve hours from 21:00, in id order: the long night is all
    # quiet, the short one ends two hours in.
    due = {case_id: start + i * timedelta(minutes=30) for i, case_id in enumerate(ids)}
    set_due(core, due)

    run_worker_until(core, clock, end + SPREAD + timedelta(hours=1))

    assert Counter(case_id for case_id, _ in interims(core)) == Counter(ids)  # one update each
    sent = dict(interims(core))
    for case_id, at in due.items():
        if at < end:  # waited out the night: its share of the night, in real time
            expected = end + SPREAD * ((at - start) / length)
            assert sent[case_id] == expected.replace(microsecond=0)
            assert end <= sent[case_id] <= end + SPREAD
        else:
            assert sent[case_id] == at  # due after the night: not held
    # The ones that waited leave in the order they were due, no two at once; one due after
    # the night goes at its own time, between them.
    held = [sent[case_id] for case_id in sorted(ids, key=due.__getitem__) if due[case_id] < end]
    assert held == sorted(held) and len(set(held)) == len(held)


def test_the_second_hour_of_the_fall_back_night_leaves_after_the_first(
    make_core: MakeCore, clock: FrozenClock
) -> None:
    """01:30 comes twice on 1 November: the first 01:30 EDT is 4.5 hours into the night, the
    second (EST) 5.5; a wall clock would give both the same turn."""
    core = make_core(configured(quiet_hours={"spread": "90m"}))
    clock.set(local(2026, 10, 31, 18))
    first, second = open_cases(core, 2, clock.now())
    set_due(core, {first: local(2026, 11, 1, 1, 30), second: local(2026, 11, 1, 1, 30, fold=1)})
    run_worker_until(core, clock, local(2026, 11, 1, 10))
    sent = dict(interims(core))
    assert sent[first] == local(2026, 11, 1, 8) + SPREAD * 4.5 / 12  # 08:33:45
    assert sent[second] == local(2026, 11, 1, 8) + SPREAD * 5.5 / 12  # 08:41:15


def test_a_worker_down_all_night_still_spreads_the_updates_that_waited(
    make_core: MakeCore, clock: FrozenClock
) -> None:
    start, end, length = NIGHTS["fall back"]
    core = make_core(configured(quiet_hours={"spread": "90m"}))
    clock.set(start - timedelta(hours=3))
    ids = open_cases(core, 11, clock.now())
    due = {case_id: start + i * timedelta(hours=1) for i, case_id in enumerate(ids)}
    set_due(core, due)

    clock.set(end + timedelta(minutes=45))  # the worker comes back at 08:45
    tick(core, "test")
    gone = {case_id for case_id, _ in interims(core)}
    # Those whose turn has passed go now, one each; the rest still wait for theirs.
    assert gone == {
        c for c, at in due.items() if end + SPREAD * ((at - start) / length) <= clock.now()
    }
    assert 0 < len(gone) < len(ids)
    run_worker_until(core, clock, end + SPREAD + timedelta(minutes=1))
    sent = Counter(case_id for case_id, _ in interims(core))
    assert set(sent) == set(ids) and set(sent.values()) == {1}


def test_a_spread_of_0s_sends_every_update_that_waited_at_the_end_of_the_night(
    make_core: MakeCore, clock: FrozenClock
) -> None:
    start, end, _ = NIGHTS["spring forward"]
    core = make_core(configured(quiet_hours={"spread": "0s"}))
    assert core.config.quiet_hours.spread == timedelta(0)
    assert parse_config(TEST_CONFIG).quiet_hours.spread == timedelta(0)  # the default
    clock.set(start - timedelta(hours=3))
    ids = open_cases(core, 6, clock.now())
    set_due(core, {case_id: start + i * timedelta(hours=2) for i, case_id in enumerate(ids)})
    run_worker_until(core, clock, end + timedelta(hours=1))
    assert {at for _, at in interims(core)} == {end}


def test_the_customer_is_told_the_time_the_next_update_really_goes(
    make_core: MakeCore, clock: FrozenClock, channels: dict[str, FakeChannel]
) -> None:
    core = make_core(configured(quiet_hours={"spread": "90m"}, cadences={"jitter": 0.1}))
    clock.set(local(2026, 10, 31, 20) - timedelta(minutes=30))  # 19:30, the fall-back night
    (case_id,) = open_cases(core, 1, clock.now(), priority="P1")  # first after 30m, every 2h
    run_worker_until(core, clock, local(2026, 11, 1, 12))
    told = [
        body.split("Next update by ")[1].split(".")[0]
        for body in channels["sms"].bodies_to(phone(0))
    ]
    sent = [at for _, at in interims(core)]
    # The evening update is followed by one due at about 22:30, in the night: it goes at its
    # turn after 08:00, and the evening update said when.
    assert sent[1] > local(2026, 11, 1, 8)
    for promised, went in zip(told, sent[1:], strict=False):
        assert promised == format_when(went, ZONE)
    assert len(told) >= 3
    assert stored(core, case_id).next_update_at is not None


def test_update_goes_at_holds_only_channels_with_quiet_hours(make_core: MakeCore) -> None:
    core = make_core(configured(quiet_hours={"spread": "90m"}))
    contact = type("Contact", (), {"timezone": ZONE})()
    at_one = local(2026, 3, 8, 1)  # 4 hours into a 10-hour night (a wall clock says 4 of 11)
    assert update_goes_at(at_one, contact, "sms", core.config) == local(2026, 3, 8, 8, 36)
    assert update_goes_at(at_one, contact, "slack", core.config) == at_one
    # Asked later than it was due, outside the night: now.
    noon = local(2026, 3, 8, 12)
    assert update_goes_at(at_one, contact, "sms", core.config, now=noon) == noon


def test_a_spread_must_end_before_the_next_night() -> None:
    with pytest.raises(ConfigError, match="spread"):
        configured(quiet_hours={"spread": "13h"})  # 08:00 to 21:00 is 13 hours
    assert configured(quiet_hours={"spread": "12h"}).quiet_hours.spread == timedelta(hours=12)
    assert configured(quiet_hours={"spread": 0}).quiet_hours.spread == timedelta(0)


# -- the per-case offset -----------------------------------------------------------------------


def test_a_cases_share_is_the_same_in_every_process() -> None:
    shares = [jitter_share(case_id) for case_id in range(1, 1001)]
    assert shares == [jitter_share(case_id) for case_id in range(1, 1001)]
    assert all(0 <= share < 1 for share in shares)
    assert 0.45 < sum(shares) / len(shares) < 0.55  # evenly spread
    script = "from flows.interim import jitter_share; print(repr(jitter_share(42)))"
    for seed in ("1", "2"):
        other = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert float(other.stdout) == jitter_share(42)


def test_cases_opened_together_fall_due_apart_never_sooner_than_first(
    make_core: MakeCore, clock: FrozenClock
) -> None:
    core = make_core(configured(cadences={"jitter": 0.1}))
    now = clock.now()
    ids = open_cases(core, 60, now, priority="P3")  # the default: first after 4h
    first = {case_id: stored(core, case_id).next_update_at for case_id in ids}
    for case_id, at in first.items():
        assert at is not None
        assert now + timedelta(hours=4) <= at < now + timedelta(hours=4, minutes=24)
        assert at - now == timedelta(hours=4, seconds=round(4 * 3600 * 0.1 * jitter_share(case_id)))
    per_minute = Counter(at.replace(second=0) for at in first.values() if at is not None)
    assert len(per_minute) >= 20 and max(per_minute.values()) <= 6  # not all 60 at 19:00


def test_the_offset_is_paid_once_so_the_cadence_does_not_slow(
    make_core: MakeCore, clock: FrozenClock
) -> None:
    core = make_core(configured(quiet_hours={"enabled": False}, cadences={"jitter": 0.5}))
    opened = clock.now()
    (case_id,) = open_cases(core, 1, opened, priority="P1")  # first after 30m, every 2h
    offset = timedelta(seconds=round(30 * 60 * 0.5 * jitter_share(case_id)))
    assert offset > timedelta(0)
    # A worker three seconds behind, as one that polls every 5s is.
    for _ in range(40):
        due = stored(core, case_id).next_update_at
        assert due is not None
        clock.set(due + timedelta(seconds=3))
        tick(core, "test")
    sent = [at for _, at in interims(core)]
    assert len(sent) == 40
    assert sent[0] == opened + timedelta(minutes=30) + offset + timedelta(seconds=3)
    gaps = {b - a for a, b in pairwise(sent)}
    assert gaps == {timedelta(hours=2, seconds=3)}  # never the offset again


def test_after_downtime_one_catch_up_each_and_the_next_ones_spread_out(
    make_core: MakeCore, clock: FrozenClock
) -> None:
    core = make_core(configured(quiet_hours={"enabled": False}, cadences={"jitter": 0.1}))
    ids = open_cases(core, 40, clock.now(), priority="P1")
    back = clock.advance(timedelta(hours=5))  # the worker was down: two or three were due
    tick(core, "test")
    assert Counter(case_id for case_id, _ in interims(core)) == Counter(ids)  # one each
    following = {case_id: stored(core, case_id).next_update_at for case_id in ids}
    for case_id, at in following.items():
        share = round(2 * 3600 * 0.1 * jitter_share(case_id))
        assert at == back + timedelta(hours=2, seconds=share)  # within 2h to 2h12m
    per_minute = Counter(at.replace(second=0) for at in following.values() if at is not None)
    assert len(per_minute) >= 8 and max(per_minute.values()) <= 8  # not all 40 at once
    clock.advance(timedelta(minutes=1))
    tick(core, "test")
    assert len(interims(core)) == 40  # nothing more until each case's own time


def test_jitter_is_a_share_between_0_and_a_half() -> None:
    assert parse_config({}).cadences.jitter == 0.1
    assert configured(cadences={"jitter": 0}).cadences.jitter == 0
    for bad in (-0.1, 0.6):
        with pytest.raises(ConfigError, match=r"cadences\.jitter"):
            configured(cadences={"jitter": bad})
