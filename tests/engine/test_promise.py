"""Nothing the bot says is untrue when it says it: a passed ETA is never stated as the future,
a reopened case shows no resolution, a closed one no ETA, and STATUS speaks of every open case.
The API, STATUS, the chat page and the templates all read flows/promise.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from flask.testing import FlaskClient

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain import CaseStatus
from bot.engine import actions
from bot.store.models import Case
from bot.web.webchat_view import case_view
from channels.segments import count_segments
from flows.promise import promise_of
from tests.conftest import Customer, later, open_case, resolved_case
from tests.support.fakes import FakeChannel

PHONE = "+12125550101"


def api_case(client: FlaskClient, auth: dict[str, str], case_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/cases/{case_id}", headers=auth)
    assert response.status_code == 200
    found: dict[str, Any] = response.get_json()
    return found


def chat_card(core: Core, case_id: int) -> dict[str, Any]:
    with core.sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case_view(core, case)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- the rule -----------------------------------------------------------------------------------


def case_in(status: CaseStatus, eta: datetime, resolution: str | None = None) -> Any:
    return SimpleNamespace(status=status, eta=eta, resolution=resolution)


def test_the_promise_follows_the_status_and_the_time() -> None:
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    eta = now + timedelta(hours=1)
    working = promise_of(case_in(CaseStatus.OPEN, eta), now)
    assert (working.eta, working.eta_missed, working.resolution) == (eta, False, None)
    late = promise_of(case_in(CaseStatus.WAITING, eta), eta)
    assert (late.eta, late.eta_missed) == (None, True)
    asked = promise_of(case_in(CaseStatus.RESOLVED, eta, "Replaced the card"), now)
    assert (asked.eta, asked.eta_missed, asked.resolution) == (None, False, "Replaced the card")
    closed = promise_of(case_in(CaseStatus.CLOSED, eta), now)
    assert (closed.eta, closed.eta_missed) == (None, False)


def test_a_message_held_past_the_eta_does_not_promise_it() -> None:
    """A text held by quiet hours is read when it is sent: `at` is that time, not now."""
    eta = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # 07:00 in New York
    case = case_in(CaseStatus.OPEN, eta)
    assert promise_of(case, eta - timedelta(hours=10)).eta == eta
    assert promise_of(case, eta + timedelta(hours=1)).eta_missed  # sent at 08:00


# -- through the product ------------------------------------------------------------------------


def test_a_missed_eta_is_never_stated_as_the_future(
    core: Core,
    client: FlaskClient,
    auth: dict[str, str],
    clock: FrozenClock,
    channels: dict[str, FakeChannel],
) -> None:
    eta = clock.now() + timedelta(hours=3)
    case_id = int(open_case(client, auth, eta=iso(eta))["id"])
    maria = Customer(core, channels, PHONE)
    assert api_case(client, auth, case_id)["eta"] == iso(eta)

    later(clock, core, hours=2)  # the first update: the ETA is still ahead
    [update] = maria.inbox()
    assert "We expect it sorted by" in update

    later(clock, core, hours=1, minutes=1)  # the ETA passes: the customer is told
    [notice] = maria.inbox()
    assert "taking longer than the time we gave you" in notice
    record = api_case(client, auth, case_id)
    assert (record["eta"], record["eta_missed"]) == (None, True)
    card = chat_card(core, case_id)
    assert card["eta_text"] == ""

    maria.says("STATUS")
    [status] = maria.inbox()
    assert "taking longer than we said" in status and "Expected by" not in status

    later(clock, core, hours=8)  # the next cadence update, after quiet hours
    later(clock, core, hours=12)
    updates = maria.inbox()
    assert updates, "the next interim update went out"
    assert all("We are running late; a new time frame" in u for u in updates)
    assert not any("We expect it sorted by" in u for u in updates)

    new_eta = clock.now() + timedelta(days=1)
    with core.sessions.begin() as session:
        case = session.get(Case, case_id)
        assert case is not None
        actions.set_eta(session, case, eta=new_eta, actor="agent:U1", now=clock.now())
    maria.says("STATUS")
    [status] = maria.inbox()
    assert "Expected by" in status and "taking longer" not in status
    assert api_case(client, auth, case_id)["eta_missed"] is False


def test_a_rejected_resolution_is_not_shown_as_what_we_did(
    core: Core, client: FlaskClient, auth: dict[str, str], channels: dict[str, FakeChannel]
) -> None:
    case_id = resolved_case(client, auth)
    assert chat_card(core, case_id)["resolution"] == "We replaced the line card."
    maria = Customer(core, channels, PHONE)
    maria.says("NO")
    assert api_case(client, auth, case_id)["status"] == "open"
    assert api_case(client, auth, case_id)["resolution"] is None
    card = chat_card(core, case_id)
    assert card["resolution"] == "" and card["status"] == "open"


def test_a_closed_case_shows_no_eta(
    core: Core,
    client: FlaskClient,
    auth: dict[str, str],
    clock: FrozenClock,
    channels: dict[str, FakeChannel],
) -> None:
    case_id = int(open_case(client, auth, eta=iso(clock.now() + timedelta(days=2)))["id"])
    response = client.post(f"/api/v1/cases/{case_id}/close", json={}, headers=auth)
    assert response.status_code == 200
    assert api_case(client, auth, case_id)["eta"] is None
    assert chat_card(core, case_id)["eta_text"] == ""
    maria = Customer(core, channels, PHONE)
    maria.inbox()
    maria.says("STATUS")
    [status] = maria.inbox()
    assert "is closed" in status and "Expected" not in status


# -- STATUS speaks of every open case -----------------------------------------------------------


def test_status_answers_about_every_open_case(
    core: Core, client: FlaskClient, auth: dict[str, str], channels: dict[str, FakeChannel]
) -> None:
    first = open_case(client, auth, subject="Internet down")
    second = open_case(client, auth, subject="Wrong bill")
    third = resolved_case(client, auth, subject="Router swap")
    maria = Customer(core, channels, PHONE)
    maria.inbox()
    maria.says(f"STATUS {first['id']}")
    [status] = maria.inbox()
    assert status.startswith(f"Case {first['label']} (Internet down) is being worked on.")
    assert f"{second['label']} Wrong bill: being worked on." in status
    assert f"#{third} Router swap: fixed? Reply YES {third} or REOPEN {third}." in status


def test_status_lists_what_fits_in_the_segment_limit(
    core: Core, client: FlaskClient, auth: dict[str, str], channels: dict[str, FakeChannel]
) -> None:
    labels = [
        open_case(client, auth, subject=f"Line {n} has no dial tone since the storm")["label"]
        for n in range(8)
    ]
    maria = Customer(core, channels, PHONE)
    maria.inbox()
    maria.says("STATUS")
    [status] = maria.inbox()
    assert count_segments(status).segments <= core.config.channels.sms.max_segments
    listed = [label for label in labels if f"{label} Line" in status]
    assert 1 <= len(listed) < 7, status
    assert f"...and {7 - len(listed)} more." in status
