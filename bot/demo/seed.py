"""`keepposted demo`: example contacts and cases, and two whole cases played through in dry-run:
one the customer confirms (and scores), one they reopen."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from bot.core import Core
from bot.demo.history import play_history
from bot.domain import agent
from bot.engine import actions
from bot.engine.inbound import handle_inbound
from bot.ledger.chain import verify
from bot.store.models import Case
from bot.worker import tick
from channels.base import InboundMessage
from channels.catalog import ChannelName

AGENT = agent("U0DEMOAGENT")
MARIA = {"name": "Maria Gomez", "phone": "+1 415 555 0101", "timezone": "America/Los_Angeles"}
DEV = {"name": "Dev Patel", "phone": "+44 20 7946 0018", "timezone": "Europe/London"}
AIYANA = {
    "name": "Aiyana Smith",
    "slack_user_id": "U0DEMOCUST",
    "channel": ChannelName.SLACK,
    "timezone": "America/Chicago",
}
SAM = {"name": "Sam Okafor", "phone": "+1 (646) 555-0142", "timezone": "America/New_York"}

HISTORY_DAYS = 21
_sids = itertools.count(1)


def _customer_says(core: Core, phone: str, text: str, echo: Callable[[str], None]) -> None:
    echo(f'\n[customer {phone}] "{text}"')
    handle_inbound(
        core,
        InboundMessage(
            channel=ChannelName.SMS,
            sender=phone,
            body=text,
            provider_id=f"SMDEMO{next(_sids):06d}",
            received_at=core.clock.now(),
        ),
    )
    tick(core, "demo")


def seed(core: Core, echo: Callable[[str], None], *, history_days: int = HISTORY_DAYS) -> None:
    with core.readers() as session:
        if session.scalar(select(Case.id).where(Case.ref == "DEMO-1")) is not None:
            echo("The demo data is already there; `keepposted case list` shows it.")
            return
    now = core.clock.now()
    with core.sessions.begin() as session:
        open_case = actions.open_case
        outage = open_case(
            session,
            core,
            subject="Home internet down",
            priority="P1",
            category="outage",
            ref="DEMO-1",
            contact=MARIA,
            assignee="U0DEMOAGENT",
            actor=AGENT,
            now=now,
        )
        card = open_case(
            session,
            core,
            subject="Card declined abroad",
            priority="P2",
            ref="DEMO-2",
            contact=DEV,
            assignee="U0DEMOAGENT",
            actor=AGENT,
            now=now,
        )
        actions.put_waiting(
            session,
            core,
            card,
            reason="third_party",
            actor=AGENT,
            now=now,
            eta=now + timedelta(hours=2),
        )
        parcel = open_case(
            session,
            core,
            subject="Order 88812 not delivered",
            priority="P3",
            ref="DEMO-3",
            contact=AIYANA,
            actor=AGENT,
            now=now,
        )
        router = open_case(
            session,
            core,
            subject="Router keeps rebooting",
            priority="P2",
            ref="DEMO-4",
            contact=SAM,
            assignee="U0DEMOAGENT",
            actor=AGENT,
            now=now,
        )
        bill = open_case(
            session,
            core,
            subject="Bill shows a double charge",
            priority="P3",
            ref="DEMO-5",
            contact=MARIA,
            actor=AGENT,
            now=now,
        )
        ids = {"outage": outage.id, "router": router.id, "bill": bill.id, "parcel": parcel.id}
        sam_phone, maria_phone = router.contact.phone or "", bill.contact.phone or ""
    echo("Seeded 4 contacts and 5 cases (DEMO-1..5). What the customers are sent:")
    tick(core, "demo")

    echo(
        f"\n== Case #{ids['router']}: the agent sends an update, resolves, the customer "
        "confirms and scores us"
    )
    _act(
        core,
        ids["router"],
        lambda s, c: actions.send_update(
            s,
            core,
            c,
            text="An engineer is replacing your router's power unit today.",
            actor=AGENT,
            now=core.clock.now(),
        ),
    )
    _resolve(core, ids["router"], "We replaced the power unit; the router is stable.")
    _customer_says(core, sam_phone, "yes it works now 👍", echo)
    _customer_says(core, sam_phone, "5", echo)

    echo(f"\n== Case #{ids['bill']}: resolved, but the customer says it is not fixed")
    _resolve(core, ids["bill"], "We refunded the second charge.")
    _customer_says(core, maria_phone, "No, I was charged twice again this morning", echo)

    echo(f"\n== Case #{ids['parcel']}: resolved over Slack; it waits for the customer's word")
    _resolve(core, ids["parcel"], "The courier delivered it to your building's front desk.")

    if history_days:  # after the story, so its cases keep the numbers #1 to #5
        echo(f"\nPlaying {history_days} days of past cases for the charts (/admin/charts) ...")
        played = play_history(core, history_days, echo)
        echo(f"Played {played} past cases through the flows.")
    with core.sessions() as session:
        result = verify(session)
    echo(
        f"\nThe log holds {result.entries} entries in {result.chains} hash chains; "
        f"log verify: {'ok' if result.ok else 'FAILED'}."
    )
    echo(
        f"Case #{ids['outage']} (P1 outage) gets interim updates on the demo cadence while "
        "`keepposted dev` runs.\nTry: keepposted case show "
        f"{ids['router']}   keepposted log export --format csv   keepposted report"
    )


def _resolve(core: Core, case_id: int, resolution: str) -> None:
    _act(
        core,
        case_id,
        lambda s, c: actions.resolve(
            s, core, c, resolution=resolution, actor=AGENT, now=core.clock.now()
        ),
    )


def _act(core: Core, case_id: int, act: Callable[..., object]) -> None:
    with core.sessions.begin() as session:
        act(session, actions.get_case(session, case_id, lock=True))
    tick(core, "demo")
