"""Three weeks of past cases for `keepposted demo`, so the /admin charts and `keepposted report`
have something to show. Every case is played through the real flows and the real worker on a
clock set in the past (dry-run channels): opened, updated on its cadence, resolved, then the
customer confirms (and scores), reopens, or never answers and it auto-closes. Nothing is
written behind the flows' backs, so the log verifies like any other.

One case is played to its end before the next starts, so the worker never sees two at once
and the clock only ever moves forward within a case.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import itertools
import random
from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain import CaseStatus, agent
from bot.engine import actions
from bot.engine.inbound import handle_inbound
from bot.worker import tick
from channels.base import InboundMessage
from channels.catalog import ChannelName

AGENTS = ("U0DEMOAGENT", "U0DEMOLEE", "U0DEMOROSA")
CUSTOMERS = [
    ("Ana Lima", "+1 415 555 0111"),
    ("Ben Carter", "+1 415 555 0112"),
    ("Chen Wei", "+1 415 555 0113"),
    ("Divya Rao", "+1 415 555 0114"),
    ("Emma Novak", "+1 415 555 0115"),
    ("Farid Haddad", "+1 415 555 0116"),
    ("Grace Kim", "+1 415 555 0117"),
    ("Hugo Martin", "+1 415 555 0118"),
    ("Ines Duarte", "+1 415 555 0119"),
    ("Jonas Berg", "+1 415 555 0120"),
]
SUBJECTS = [
    ("Fibre line drops every evening", "P2", "outage"),
    ("No signal after the mast upgrade", "P1", "outage"),
    ("Charged twice for October", "P3", "billing"),
    ("Refund not received", "P3", "billing"),
    ("Parcel marked delivered, not here", "P3", "delivery"),
    ("Card blocked after travel", "P2", "card"),
    ("Router lights blinking red", "P2", None),
    ("Cannot log in to the app", "P4", None),
]
NOTES = [
    ("technical", "Line test shows noise on the pair; field team booked.", ["field"]),
    ("escalation", "Escalated to tier 2: customer is a repeat caller.", ["repeat", "vip"]),
    ("follow_up", "Call back once the courier confirms the drop-off.", ["courier"]),
    ("interaction", "Customer prefers texts after 6pm.", []),
]
LATE_DAYS = {5, 6}  # days ago when the worker ran late, so the on-time chart has a dip

_sids = itertools.count(1)


def play_history(core: Core, days: int, echo: Callable[[str], None]) -> int:
    """Play about three cases a day for `days` days before now; returns how many."""
    rng = random.Random(1042)  # noqa: S311 - made-up demo data, the same on every machine
    zone = ZoneInfo(core.config.timezone)
    today = core.clock.now().astimezone(zone).date()
    played = 0
    for back in range(days, 0, -1):
        day = today - timedelta(days=back)
        starts = sorted(rng.randint(8 * 60, 17 * 60) for _ in range(rng.randint(2, 5)))
        for minute in starts:
            opened = datetime.combine(day, time(), zone) + timedelta(minutes=minute)
            clock = FrozenClock(opened)
            # The dry-run channels print every message; the past's hundreds would bury the
            # story the demo tells next.
            with contextlib.redirect_stdout(io.StringIO()):
                _play_case(
                    dataclasses.replace(core, clock=clock), clock, rng, late=back in LATE_DAYS
                )
            played += 1
        if back % 7 == 0:
            echo(f"  history: {played} cases up to {day.isoformat()}")
    return played


def _play_case(core: Core, clock: FrozenClock, rng: random.Random, *, late: bool) -> None:
    name, phone = rng.choice(CUSTOMERS)
    subject, priority, category = rng.choice(SUBJECTS)
    owner = rng.choice(AGENTS)
    actor = agent(owner)
    with core.sessions.begin() as session:
        case = actions.open_case(
            session,
            core,
            subject=subject,
            priority=priority,
            category=category,
            contact={"name": name, "phone": phone, "timezone": "America/New_York"},
            assignee=owner,
            actor=actor,
            now=clock.now(),
        )
        if rng.random() < 0.4:
            kind, text, tags = rng.choice(NOTES)
            actions.add_note(
                session, case, kind=kind, text=text, tags=tags, author=actor, now=clock.now()
            )
        case_id = case.id
    tick(core, "demo")
    for _ in range(rng.choice([1, 1, 2, 3])):
        _send_next_update(core, clock, case_id, rng, late=late)
    _resolve(core, clock, case_id, actor, rng)
    outcome = rng.random()
    if outcome < 0.15:  # not fixed: they say so, the team fixes it again, and they confirm
        _customer_says(core, clock, phone, "REOPEN", rng)
        _send_next_update(core, clock, case_id, rng, late=late)
        _resolve(core, clock, case_id, actor, rng)
        outcome = 0.0
    if outcome < 0.8:
        _customer_says(core, clock, phone, rng.choice(["YES", "yes thanks", "Fixed 👍"]), rng)
        if rng.random() < 0.7:
            _customer_says(core, clock, phone, str(rng.choice([5, 5, 4, 4, 3, 2])), rng)
    else:  # silence: the reminder, then the auto-close
        for _ in range(2):
            with core.readers() as session:
                due = actions.get_case(session, case_id).confirm_due_at
            if due is None:
                break
            clock.set(due + timedelta(seconds=5))
            tick(core, "demo")


def _send_next_update(
    core: Core, clock: FrozenClock, case_id: int, rng: random.Random, *, late: bool
) -> None:
    with core.readers() as session:
        case = actions.get_case(session, case_id)
        due, status = case.next_update_at, case.status
    if due is None or status not in (CaseStatus.OPEN, CaseStatus.WAITING):
        return
    delay = rng.randint(8 * 60, 25 * 60) if late else rng.randint(2, 90)
    clock.set(max(clock.now(), due) + timedelta(seconds=delay))
    tick(core, "demo")


def _resolve(core: Core, clock: FrozenClock, case_id: int, actor: str, rng: random.Random) -> None:
    clock.advance(timedelta(minutes=rng.randint(5, 40)))
    with core.sessions.begin() as session:
        case = actions.get_case(session, case_id, lock=True)
        actions.resolve(
            session, core, case, resolution="We fixed it on our side.", actor=actor,
            now=clock.now(),
        )  # fmt: skip
    tick(core, "demo")


def _customer_says(
    core: Core, clock: FrozenClock, phone: str, text: str, rng: random.Random
) -> None:
    """A reply within the reminder window, as most customers who answer do."""
    reminder = core.config.confirmation.reminder_after
    clock.advance(timedelta(seconds=rng.uniform(0.1, 0.9) * reminder.total_seconds()))
    handle_inbound(
        core,
        InboundMessage(
            channel=ChannelName.SMS,
            sender=phone.replace(" ", ""),
            body=text,
            provider_id=f"SMHIST{next(_sids):06d}",
            received_at=clock.now(),
        ),
    )
    tick(core, "demo")
