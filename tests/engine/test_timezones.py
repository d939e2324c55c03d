"""A contact's time zone read from their number when none is given: phonenumbers' time-zone
data, one zone per number by a documented rule, recorded as inferred, and quiet hours kept in
that zone across its daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.config import parse_config
from bot.core import Core
from bot.engine.contacts import find_or_create
from bot.phones import to_e164, zone_for_number
from bot.store.models import Contact, Outbox
from flows.interim import contact_zone, earliest_send
from tests.conftest import TEST_CONFIG, open_case

SYDNEY_MOBILE = "+61 412 345 678"
PARIS_MOBILE = "+33 6 12 34 56 78"
SAN_FRANCISCO = "+1 415 555 0101"


def contact_json(
    client: FlaskClient, auth: dict[str, str], phone: str, **contact: str
) -> dict[str, Any]:
    case = open_case(client, auth, contact={"name": "Ana", "phone": phone, **contact})
    return dict(case["contact"])


def stored(core: Core, phone_e164: str) -> Contact:
    with core.sessions() as session:
        contact = session.scalar(select(Contact).where(Contact.phone == phone_e164))
        assert contact is not None
        return contact


# --- which zone a number gets ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "zone"),
    [
        ("+61412345678", "Australia/Sydney"),  # a mobile: Australia-wide, so its largest city
        ("+61 2 9374 4000", "Australia/Sydney"),  # a Sydney landline: its own zone
        # Area code 8 spans Adelaide and Perth, neither Australia's largest: the first listed.
        ("+61 8 9266 1000", "Australia/Adelaide"),
        ("+33612345678", "Europe/Paris"),
        ("+442079460018", "Europe/London"),
        ("+14155550101", "America/Los_Angeles"),  # one zone for the 415 area code
        ("+18005550100", "America/New_York"),  # toll-free spans the US: its most populous zone
        ("+34612345678", "Europe/Madrid"),  # Spanish mobiles span the Canaries too
    ],
)
def test_zone_for_number(phone: str, zone: str) -> None:
    assert zone_for_number(to_e164(phone)) == zone


def test_a_number_the_data_cannot_place_has_no_zone() -> None:
    assert zone_for_number("+15555550100") is None  # 555 is fiction's area code


def test_sydney_and_paris_numbers_get_their_zone(client: FlaskClient, auth: dict[str, str]) -> None:
    sydney = contact_json(client, auth, SYDNEY_MOBILE)
    paris = contact_json(client, auth, PARIS_MOBILE)
    assert (sydney["timezone"], sydney["timezone_inferred"]) == ("Australia/Sydney", True)
    assert (paris["timezone"], paris["timezone_inferred"]) == ("Europe/Paris", True)


def test_a_us_number_with_several_zones_gets_the_most_populous(core: Core) -> None:
    # Ops in London: a US toll-free number is abroad, and spans every US zone.
    config = parse_config(TEST_CONFIG | {"default_region": "GB", "timezone": "Europe/London"})
    with core.sessions.begin() as session:
        contact = find_or_create(session, config, now=core.clock.now(), phone="+1 800 555 0100")
        assert (contact.timezone, contact.timezone_inferred) == ("America/New_York", True)


def test_a_home_number_gets_its_own_zone(client: FlaskClient, auth: dict[str, str]) -> None:
    # Ops in New York: a San Francisco number's quiet hours are San Francisco's.
    contact = contact_json(client, auth, "+14155550101")
    assert (contact["timezone"], contact["timezone_inferred"]) == ("America/Los_Angeles", True)


def test_a_number_spanning_zones_takes_the_ops_zone_when_it_is_one(core: Core) -> None:
    config = parse_config(TEST_CONFIG | {"timezone": "America/Chicago"})
    with core.sessions.begin() as session:
        contact = find_or_create(session, config, now=core.clock.now(), phone="+1 800 555 0100")
        assert (contact.timezone, contact.timezone_inferred) == ("America/Chicago", True)


def test_a_given_zone_wins(client: FlaskClient, auth: dict[str, str]) -> None:
    contact = contact_json(client, auth, SYDNEY_MOBILE, timezone="Australia/Perth")
    assert (contact["timezone"], contact["timezone_inferred"]) == ("Australia/Perth", False)


def test_a_zone_given_later_replaces_the_inferred_one_for_good(core: Core) -> None:
    config, now = core.config, core.clock.now()
    with core.sessions.begin() as session:
        contact = find_or_create(session, config, now=now, phone=SYDNEY_MOBILE, slack_user_id="U1")
        assert contact.timezone_inferred
        find_or_create(session, config, now=now, phone=SYDNEY_MOBILE, timezone="Australia/Perth")
        assert (contact.timezone, contact.timezone_inferred) == ("Australia/Perth", False)
        find_or_create(session, config, now=now, phone=PARIS_MOBILE, slack_user_id="U1")
        assert (contact.timezone, contact.timezone_inferred) == ("Australia/Perth", False)


def test_a_new_number_re_infers_an_inferred_zone(core: Core) -> None:
    config, now = core.config, core.clock.now()
    with core.sessions.begin() as session:
        contact = find_or_create(session, config, now=now, phone=SYDNEY_MOBILE, slack_user_id="U1")
        find_or_create(session, config, now=now, phone=PARIS_MOBILE, slack_user_id="U1")
        assert (contact.phone, contact.timezone) == ("+33612345678", "Europe/Paris")
        assert contact.timezone_inferred
        find_or_create(session, config, now=now, phone="+14155550101", slack_user_id="U1")
        assert (contact.timezone, contact.timezone_inferred) == ("America/Los_Angeles", True)


def test_the_same_number_again_keeps_its_zone(core: Core) -> None:
    config, now = core.config, core.clock.now()
    with core.sessions.begin() as session:
        first = find_or_create(session, config, now=now, phone=SYDNEY_MOBILE)
        again = find_or_create(session, config, now=now, phone="+61412345678", name="Ana")
        assert again is first
        assert (again.timezone, again.timezone_inferred) == ("Australia/Sydney", True)


# --- quiet hours in the inferred zone, across daylight saving ----------------------------------


def _utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("phone", "now", "held_until"),
    [
        # Sydney, standard time (UTC+10): 07:08 local is held until 08:00 local.
        (SYDNEY_MOBILE, _utc(2026, 9, 26, 21, 8), _utc(2026, 9, 26, 22, 0)),
        # Sydney's clocks go forward on Sunday 4 October 2026 (UTC+11): 07:08 local is an hour
        # earlier in UTC, and so is 08:00.
        (SYDNEY_MOBILE, _utc(2026, 10, 3, 20, 8), _utc(2026, 10, 3, 21, 0)),
        # 21:30 on Saturday 3 October (UTC+10), the night the clocks change: held until 08:00
        # on Sunday in summer time (UTC+11), not the standard-time 08:00.
        (SYDNEY_MOBILE, _utc(2026, 10, 3, 11, 30), _utc(2026, 10, 3, 21, 0)),
        # Paris, summer time (UTC+2) on Saturday 24 October 2026: 07:08 local.
        (PARIS_MOBILE, _utc(2026, 10, 24, 5, 8), _utc(2026, 10, 24, 6, 0)),
        # Clocks go back on Sunday 25 October (UTC+1): 07:08 local, held until 08:00 CET.
        (PARIS_MOBILE, _utc(2026, 10, 25, 6, 8), _utc(2026, 10, 25, 7, 0)),
        # 21:30 on Saturday in summer time, held across the change to 08:00 winter time.
        (PARIS_MOBILE, _utc(2026, 10, 24, 19, 30), _utc(2026, 10, 25, 7, 0)),
        # The last Sunday of March 2026 (29th), clocks go forward: 07:08 CEST (UTC+2).
        (PARIS_MOBILE, _utc(2026, 3, 29, 5, 8), _utc(2026, 3, 29, 6, 0)),
        # A home number (ops in New York) in San Francisco: 07:30 PDT on Saturday 31 October
        # 2026 is held until 08:00 PDT; after the clocks go back on 1 November, 07:30 PST until
        # 08:00 PST, an hour later in UTC; and 21:30 PDT on the Saturday until 08:00 PST.
        (SAN_FRANCISCO, _utc(2026, 10, 31, 14, 30), _utc(2026, 10, 31, 15, 0)),
        (SAN_FRANCISCO, _utc(2026, 11, 1, 15, 30), _utc(2026, 11, 1, 16, 0)),
        (SAN_FRANCISCO, _utc(2026, 11, 1, 4, 30), _utc(2026, 11, 1, 16, 0)),
    ],
)
def test_quiet_hours_hold_in_the_inferred_zone_across_dst(
    core: Core, clock: FrozenClock, phone: str, now: datetime, held_until: datetime
) -> None:
    clock.set(now)
    with core.sessions.begin() as session:
        contact = find_or_create(session, core.config, now=now, phone=phone)
        assert contact.timezone_inferred
        assert earliest_send(now, contact, "sms", core.config) == held_until
        # Outside quiet hours, nothing is held.
        assert earliest_send(held_until, contact, "sms", core.config) == held_until


def test_an_update_to_sydney_at_07_08_waits_for_08_00_local(
    client: FlaskClient, auth: dict[str, str], core: Core, clock: FrozenClock
) -> None:
    # 10:08 in New York (the ops zone, outside its quiet hours) is 07:08 in Sydney's summer.
    clock.set(_utc(2026, 11, 23, 20, 8))
    case = open_case(client, auth, contact={"name": "Ana", "phone": SYDNEY_MOBILE})
    response = client.post(
        f"/api/v1/cases/{case['id']}/updates", json={"text": "Parts ordered."}, headers=auth
    )
    assert response.status_code == 200, response.get_json()
    with core.sessions() as session:
        row = session.scalars(select(Outbox).where(Outbox.case_id == case["id"])).one()
        assert row.not_before.replace(tzinfo=UTC) == _utc(2026, 11, 23, 21, 0)  # 08:00 AEDT
    assert str(contact_zone(stored(core, "+61412345678"), core.config)) == "Australia/Sydney"
