"""Notes are internal: kept with their edit history and audited, never sent to a customer."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.core import Core
from bot.engine import actions
from bot.store.models import AuditEvent, Note, NoteRevision
from tests.conftest import Customer, later, open_case
from tests.support.fakes import FakeChannel

SECRET = "Customer is on the fraud watch list"


def test_edits_keep_history_and_every_change_is_audited(
    client: FlaskClient, auth: dict[str, str], core: Core
) -> None:
    case = open_case(client, auth)
    made = client.post(
        f"/api/v1/cases/{case['id']}/notes",
        headers=auth,
        json={"kind": "escalation", "text": "Sent to tier 2", "tags": ["t2"], "actor": "U0AGENT"},
    )
    assert made.status_code == 201
    with core.sessions.begin() as session:
        note = session.get(Note, made.get_json()["id"])
        assert note is not None
        actions.edit_note(
            session,
            note,
            text="Sent to tier 3",
            editor="agent:U0SUP",
            now=core.clock.now(),
            tags=["t3"],
        )
    with core.sessions() as session:
        note = session.get(Note, made.get_json()["id"])
        assert note is not None and (note.text, note.tags) == ("Sent to tier 3", ["t3"])
        history = session.scalars(select(NoteRevision)).all()
        assert [(r.text, r.tags, r.edited_by) for r in history] == [
            ("Sent to tier 2", ["t2"], "agent:U0SUP")
        ]
        audited = session.scalars(
            select(AuditEvent.action).where(AuditEvent.case_id == case["id"])
        ).all()
    assert audited[-2:] == ["note_added", "note_edited"]


def test_no_note_reaches_the_customer(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    clock: FrozenClock,
    channels: dict[str, FakeChannel],
) -> None:
    case = open_case(client, auth, priority="P1")
    for kind in ("interaction", "escalation", "resolution", "sentiment"):
        client.post(
            f"/api/v1/cases/{case['id']}/notes", headers=auth, json={"kind": kind, "text": SECRET}
        )
    customer = Customer(core, channels, "+12125550101")
    later(clock, core, hours=1)
    client.post(f"/api/v1/cases/{case['id']}/wait", json={"reason": "investigation"}, headers=auth)
    customer.says("STATUS")
    client.post(f"/api/v1/cases/{case['id']}/resolve", json={"resolution": "Fixed."}, headers=auth)
    customer.says("maybe")
    customer.says("YES")
    sent = [
        m.body for channel in channels.values() if channel.name != "slack" for m in channel.sent
    ]
    assert len(sent) >= 6
    assert not any(SECRET in body for body in sent)
    messages = client.get(f"/api/v1/cases/{case['id']}/messages", headers=auth).get_json()
    assert not any(SECRET in m["body"] for m in messages["messages"])
