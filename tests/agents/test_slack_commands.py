"""Every `/case` subcommand over real HTTP: the ephemeral answer the agent sees (a card, a list,
a note) comes back with 200 in the request itself, and the work is already in the database when
it does (messages to customers only queued, so no provider call stands between the agent and
Slack's 3 s). Bad arguments get the subcommand's usage line and change nothing; outsiders are
refused; close and reopen are for supervisors. No test times an answer: a loaded machine would
fail it for nothing; bench/ is where speed is measured."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.agents.commands import SUBCOMMANDS
from bot.clock import FrozenClock
from bot.core import Core
from bot.domain import MessageStatus
from bot.engine.inbound import handle_inbound
from bot.engine.summary import summarize
from bot.store.models import AuditEvent, Base, Case, Note, Outbox, SlackRequestSeen
from bot.worker import tick
from channels.base import InboundMessage
from tests.conftest import START, auth_header, log_events, open_case
from tests.support.fake_slack import FakeSlack
from tests.support.slack_harness import (
    AGENT,
    CUSTOMER,
    OUTSIDER,
    SUPERVISOR,
    Workspace,
    flatten,
)

PHONE = "+12125550101"  # open_case's customer
SPEC_SUBCOMMANDS = [
    *("new", "update", "note", "notes", "status", "wait", "eta", "cadence", "pause"),
    *("resume", "resolve", "close", "reopen", "assign", "list", "summary", "help"),
]


# -- helpers -------------------------------------------------------------------------------------


def ask(workspace: Workspace, user: str, text: str) -> str:
    """Run `/case <text>` over HTTP; checks 200 and the ephemeral answer, and returns
    everything the agent sees as one string."""
    response = workspace.command_response(user, text)
    assert response.status_code == 200, (text, response.status_code, response.text)
    answer: dict[str, Any] = response.json()
    assert answer.get("response_type") == "ephemeral", answer
    assert answer.get("text"), answer
    return flatten(answer)


def case_json(workspace: Workspace, case_id: int) -> dict[str, Any]:
    response = workspace.app.client.get(f"/api/v1/cases/{case_id}", headers=auth_header())
    assert response.status_code == 200, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def messages_json(workspace: Workspace, case_id: int) -> list[dict[str, Any]]:
    response = workspace.app.client.get(f"/api/v1/cases/{case_id}/messages", headers=auth_header())
    assert response.status_code == 200
    found: list[dict[str, Any]] = response.get_json()["messages"]
    return found


def new_case(workspace: Workspace, **fields: Any) -> int:
    """A case opened through the REST API (assigned to nobody unless said)."""
    return int(open_case(workspace.app.client, auth_header(), **fields)["id"])


def snapshot(core: Core) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: two equal snapshots mean the command changed nothing. The
    replay store is left out: it keeps every request's signature, whatever the command did."""
    with core.sessions() as session:
        return {
            table.name: [tuple(row) for row in session.execute(table.select()).all()]
            for table in Base.metadata.sorted_tables
            if table is not SlackRequestSeen.__table__
        }


def audit_actions(core: Core, case_id: int) -> list[tuple[str, str]]:
    with core.sessions() as session:
        rows = session.execute(
            select(AuditEvent.actor, AuditEvent.action)
            .where(AuditEvent.case_id == case_id)
            .order_by(AuditEvent.id)
        ).all()
    return [(actor, action) for actor, action in rows]


def pending_outbox(core: Core) -> list[Outbox]:
    with core.sessions() as session:
        return list(session.scalars(select(Outbox).where(Outbox.status == "pending")))


def customer_writes(core: Core, text: str, sid: str) -> None:
    handle_inbound(
        core,
        InboundMessage(
            channel="sms",
            sender=PHONE,
            body=text,
            provider_id=sid,
            received_at=core.clock.now(),
        ),
    )
    tick(core, "test")


def usage(sub: str) -> str:
    return f"Usage: `/case {sub}"


# -- help and the answer itself ---------------------------------------------------------------


def test_every_spec_subcommand_exists_and_help_lists_them(workspace: Workspace) -> None:
    assert set(SPEC_SUBCOMMANDS) <= set(SUBCOMMANDS)
    before = snapshot(workspace.app.core)
    for text in ("help", "", "   ", "HELP"):
        shown = ask(workspace, AGENT, text)
        assert "*/case* runs a case from Slack" in shown, text
        for sub in SPEC_SUBCOMMANDS:
            assert f"`/case {sub}" in shown, (text, sub)
    assert snapshot(workspace.app.core) == before


def test_the_answer_is_the_http_response_and_sends_nothing_to_slack(
    workspace: Workspace, fake_slack: FakeSlack
) -> None:
    case_id = new_case(workspace)
    response = workspace.command_response(AGENT, f"status {case_id}")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    assert answer["text"] == f"#{case_id} Internet down: open"
    assert any(b["type"] == "header" for b in answer["blocks"])
    assert fake_slack.calls_to("chat.postMessage") == []
    assert fake_slack.calls_to("chat.postEphemeral") == []


# -- the happy paths -------------------------------------------------------------------------


def test_new_for_a_phone_number_with_options(workspace: Workspace) -> None:
    shown = ask(
        workspace,
        AGENT,
        "new +1 (212) 555-0101 3 lines down &amp; no dial tone "
        "--priority p1 --category outage --ref=ZD-42 --name 'Maria Gomez'",
    )
    assert "Opened #1; first update Mon 23 Nov, 10:15 EST." in shown, shown
    assert "#1  3 lines down & no dial tone" in shown  # the header is plain text
    assert "*Priority*\nP1" in shown
    assert "*Customer*\nMaria Gomez +12125550101 (sms)" in shown
    assert f"*Assignee*\n<@{AGENT}>" in shown
    assert "ref ZD-42 · category outage" in shown
    case = case_json(workspace, 1)
    # The agent's card carries the customer's chat page, a link they may give out.
    assert f"<{case['webchat_url']}|customer's chat page>" in shown
    assert {k: case[k] for k in ("subject", "priority", "category", "ref", "assignee")} == {
        "subject": "3 lines down & no dial tone",
        "priority": "P1",
        "category": "outage",
        "ref": "ZD-42",
        "assignee": AGENT,
    }
    assert case["contact"] | {"id": 0} == case["contact"] | {
        "id": 0,
        "name": "Maria Gomez",
        "phone": PHONE,
        "channel": "sms",
    }
    assert case["status"] == "open"
    assert case["next_update_at"] == "2026-11-23T15:15:00Z"  # the outage cadence: 15m
    assert log_events(workspace.app.core, 1) == ["case_opened"]
    assert (f"agent:{AGENT}", "case_opened") in audit_actions(workspace.app.core, 1)


@pytest.mark.parametrize(
    "customer",
    [f"<@{CUSTOMER}|dana>", f"<@{CUSTOMER}>", CUSTOMER, f"@{CUSTOMER}"],
)
def test_new_for_a_slack_user(workspace: Workspace, customer: str) -> None:
    shown = ask(workspace, AGENT, f"new {customer} “Card declined abroad” --priority 2")
    assert "Opened #1" in shown and "Card declined abroad" in shown
    assert f"<@{CUSTOMER}> (slack)" in shown
    case = case_json(workspace, 1)
    assert case["subject"] == "Card declined abroad"
    assert case["priority"] == "P2"
    assert case["contact"]["slack_user_id"] == CUSTOMER
    assert case["contact"]["channel"] == "slack"


@pytest.mark.parametrize(
    "phone",
    ["212.555.0101", "(212) 555 0101", "2125550101", "+1 212 555 0101", "<tel:+12125550101>"],
)
def test_new_reads_phone_numbers_in_common_formats(workspace: Workspace, phone: str) -> None:
    assert "Opened #1" in ask(workspace, AGENT, f"new {phone} 2 routers offline")
    case = case_json(workspace, 1)
    assert (case["contact"]["phone"], case["subject"]) == (PHONE, "2 routers offline")


def test_new_for_a_foreign_number(workspace: Workspace) -> None:
    assert "Opened #1" in ask(workspace, AGENT, "new +44 20 7946 0018 London office offline")
    case = case_json(workspace, 1)
    assert (case["contact"]["phone"], case["subject"]) == ("+442079460018", "London office offline")


def test_update_queues_the_message_before_the_answer_then_the_worker_sends_it(
    workspace: Workspace,
) -> None:
    case_id = new_case(workspace)
    shown = ask(workspace, AGENT, f"update #{case_id}   Engineer on site at 2pm &amp; on time")
    assert f"Update for #{case_id} queued by sms." in shown, shown
    # The work was done before the ack: the message waits in the outbox, nothing sent yet.
    [queued] = pending_outbox(workspace.app.core)
    assert queued.address == PHONE and "Engineer on site at 2pm & on time" in queued.body
    assert messages_json(workspace, case_id)[0]["status"] == "queued"
    case = case_json(workspace, case_id)
    assert case["next_update_at"] == "2026-11-23T23:00:00Z"  # P2 cadence restarts: every 8h
    tick(workspace.app.core, "test")
    [sent] = messages_json(workspace, case_id)
    assert sent["direction"] == "out" and sent["status"] == MessageStatus.SIMULATED
    assert sent["body"].startswith(f"Update on case #{case_id}: Engineer on site at 2pm & on")
    assert log_events(workspace.app.core, case_id) == ["case_opened", "interim_sent"]


def test_update_by_ref_turns_mentions_into_names(workspace: Workspace) -> None:
    case_id = new_case(workspace, ref="ZD-7")
    ask(workspace, AGENT, "update ZD-7 <@U0LEE0001|lee> from billing will call you")
    [queued] = pending_outbox(workspace.app.core)
    assert queued.case_id == case_id
    assert "@lee from billing will call you" in queued.body
    assert "<@" not in queued.body


def test_note_kinds_and_tags_are_internal(workspace: Workspace) -> None:
    case_id = new_case(workspace)
    shown = ask(
        workspace,
        AGENT,
        f'note {case_id} escalation Sent to <@U0LEE0001|lee> "tier 2" --tag VIP --tag #billing',
    )
    assert f"Note added to #{case_id} (escalation, tags: billing, vip)" in shown, shown
    assert "Customers never see notes" in shown
    ask(workspace, AGENT, f"note {case_id} follow-up Call back at 3")
    ask(workspace, AGENT, f"note {case_id} Customer was calm")
    with workspace.app.core.sessions() as session:
        notes = session.scalars(select(Note).order_by(Note.id)).all()
        found = [(n.kind, n.text, n.tags, n.author) for n in notes]
    assert found == [
        ("escalation", 'Sent to @lee "tier 2"', ["billing", "vip"], f"agent:{AGENT}"),
        ("follow_up", "Call back at 3", [], f"agent:{AGENT}"),
        ("interaction", "Customer was calm", [], f"agent:{AGENT}"),
    ]
    assert pending_outbox(workspace.app.core) == []
    assert [a for _, a in audit_actions(workspace.app.core, case_id)].count("note_added") == 3


def test_notes_lists_them_and_audits_the_viewing(workspace: Workspace) -> None:
    case_id = new_case(workspace)
    shown = ask(workspace, AGENT, f"notes {case_id}")
    assert f"Notes on #{case_id}* (internal): none yet" in shown
    ask(workspace, AGENT, f"note {case_id} technical Line card &lt;faulty&gt; &amp; replaced")
    ask(workspace, SUPERVISOR, f"note {case_id} supervisor Watch this one --tag watch")
    shown = ask(workspace, AGENT, f"notes {case_id}")
    assert f"2 note(s) on #{case_id}" in shown
    assert f"*technical* · <@{AGENT}> · Mon 23 Nov, 10:00 EST" in shown
    assert "Line card &lt;faulty&gt; &amp; replaced" in shown  # escaped for Slack
    assert f"*supervisor* · <@{SUPERVISOR}>" in shown and "watch\nWatch this one" in shown
    viewed = [x for x in audit_actions(workspace.app.core, case_id) if x[1] == "notes_viewed"]
    assert viewed == [(f"agent:{AGENT}", "notes_viewed")] * 2
    assert pending_outbox(workspace.app.core) == []


@pytest.mark.parametrize("text", ["status {id}", "status #{id}", "{id}", "#{id}", "status ZD-9"])
def test_status_shows_the_card_and_changes_nothing(workspace: Workspace, text: str) -> None:
    case_id = new_case(workspace, ref="ZD-9", category="billing")
    before = snapshot(workspace.app.core)
    shown = ask(workspace, AGENT, text.format(id=case_id))
    assert f"#{case_id}  Internet down" in shown
    assert "*Status*\nopen" in shown and "*Priority*\nP2" in shown
    assert "*Customer*\nMaria Gomez +12125550101 (sms)" in shown
    assert "*Assignee*\nnobody" in shown
    assert "*Next update*\nMon 23 Nov, 12:00 EST" in shown
    assert "*ETA*\nnone" in shown
    assert "ref ZD-9 · category billing" in shown
    assert snapshot(workspace.app.core) == before


def test_wait_with_an_eta_tells_the_customer_at_once(workspace: Workspace) -> None:
    case_id = new_case(workspace)
    shown = ask(workspace, AGENT, f"wait {case_id} third-party tomorrow 3pm")
    assert f"#{case_id} is waiting; the customer was told why" in shown, shown
    assert "*Status*\nwaiting (third party)" in shown
    assert "*ETA*\nTue 24 Nov, 15:00 EST" in shown
    case = case_json(workspace, case_id)
    assert (case["status"], case["waiting_reason"]) == ("waiting", "third_party")
    assert case["eta"] == "2026-11-24T20:00:00Z"
    [queued] = pending_outbox(workspace.app.core)
    assert queued.kind == "delay_notice" and queued.address == PHONE
    tick(workspace.app.core, "test")
    assert log_events(workspace.app.core, case_id) == ["case_opened", "delay_notice_sent"]
    [notice] = messages_json(workspace, case_id)
    assert notice["direction"] == "out"


def test_wait_without_eta(workspace: Workspace) -> None:
    case_id = new_case(workspace)
    ask(workspace, AGENT, f"wait {case_id} outage")
    case = case_json(workspace, case_id)
    assert (case["status"], case["waiting_reason"], case["eta"]) == ("waiting", "outage", None)
    assert len(pending_outbox(workspace.app.core)) == 1


@pytest.mark.parametrize(
    ("when", "eta", "shown"),
    [
        ("2026-11-24 15:00", "2026-11-24T20:00:00Z", "Tue 24 Nov, 15:00 EST"),
        ("tomorrow 3pm", "2026-11-24T20:00:00Z", "Tue 24 Nov, 15:00 EST"),
        ("in 3d", "2026-11-26T15:00:00Z", "Thu 26 Nov, 10:00 EST"),
        ("4h", "2026-11-23T19:00:00Z", "Mon 23 Nov, 14:00 EST"),
    ],
)
def test_eta(workspace: Workspace, when: str, eta: str, shown: str) -> None:
    case_id = new_case(workspace)
    answer = ask(workspace, AGENT, f"eta {case_id} {when}")
    assert f"ETA for #{case_id} set to {shown}." in answer
    assert f"*ETA*\n{shown}" in answer
    assert case_json(workspace, case_id)["eta"] == eta
    assert pending_outbox(workspace.app.core) == []


def test_cadence(workspace: Workspace, clock: FrozenClock) -> None:
    case_id = new_case(workspace)
    shown = ask(workspace, AGENT, f"cadence {case_id} every 4h")
    assert f"#{case_id} now updates every 4h." in shown
    assert "*Next update*\nMon 23 Nov, 14:00 EST" in shown
    with workspace.app.core.sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.cadence_every_s == 4 * 3600
    assert case_json(workspace, case_id)["next_update_at"] == "2026-11-23T19:00:00Z"
    ask(workspace, AGENT, f"cadence {case_id} 1h30m")
    assert case_json(workspace, case_id)["next_update_at"] == "2026-11-23T16:30:00Z"


def test_pause_and_resume(workspace: Workspace, clock: FrozenClock) -> None:
    case_id = new_case(workspace)
    shown = ask(workspace, AGENT, f"pause {case_id}")
    assert f"Updates for #{case_id} are paused." in shown
    assert "*Status*\nopen, updates paused" in shown and "*Next update*\nnone scheduled" in shown
    case = case_json(workspace, case_id)
    assert (case["paused"], case["next_update_at"]) == (True, None)
    assert "are already paused" in ask(workspace, AGENT, f"pause {case_id}")
    clock.advance(timedelta(hours=1))
    shown = ask(workspace, AGENT, f"resume {case_id}")
    assert f"Updates for #{case_id} resumed (every 8h)." in shown
    case = case_json(workspace, case_id)
    assert (case["paused"], case["next_update_at"]) == (False, "2026-11-24T00:00:00Z")
    actions = [a for _, a in audit_actions(workspace.app.core, case_id)]
    assert actions[-2:] == ["paused", "resumed"]


def test_resolve_asks_the_customer_to_confirm(workspace: Workspace) -> None:
    case_id = new_case(workspace)
    shown = ask(workspace, AGENT, f"resolve {case_id} “Replaced the line card”")
    assert f"#{case_id} resolved; the customer was asked to confirm." in shown
    assert "*Resolution*\nReplaced the line card" in shown
    case = case_json(workspace, case_id)
    assert (case["status"], case["resolution"]) == ("resolved", "Replaced the line card")
    assert case["confirmation_requested_at"] is None  # queued, not yet sent
    [queued] = pending_outbox(workspace.app.core)
    assert queued.kind == "confirm_request" and "Reply YES" in queued.body
    tick(workspace.app.core, "test")
    assert log_events(workspace.app.core, case_id) == [
        "case_opened",
        "resolution_proposed",
        "confirmation_requested",
    ]
    assert case_json(workspace, case_id)["confirmation_requested_at"] == "2026-11-23T15:00:00Z"


def test_supervisor_closes_and_reopens(workspace: Workspace) -> None:
    case_id = new_case(workspace)
    shown = ask(workspace, SUPERVISOR, f"close {case_id}")
    assert f"#{case_id} closed by <@{SUPERVISOR}>." in shown and "*Status*\nclosed" in shown
    case = case_json(workspace, case_id)
    assert (case["status"], case["close_reason"]) == ("closed", "agent")
    shown = ask(workspace, SUPERVISOR, f"reopen {case_id}")
    assert f"#{case_id} is open again." in shown and "reopened 1x" in shown
    case = case_json(workspace, case_id)
    assert (case["status"], case["reopen_count"], case["closed_at"]) == ("open", 1, None)
    assert log_events(workspace.app.core, case_id) == ["case_opened", "closed", "reopened"]
    # The closing notice was still queued when the case reopened: it is never sent.
    assert [row.kind for row in pending_outbox(workspace.app.core)] == ["closing_notice"]
    tick(workspace.app.core, "test")
    with workspace.app.core.sessions() as session:
        [notice] = session.scalars(select(Outbox).where(Outbox.kind == "closing_notice"))
        assert notice.status == "skipped" and notice.sent_at is None


def test_supervisor_reopens_a_resolved_case(workspace: Workspace) -> None:
    case_id = new_case(workspace)
    ask(workspace, AGENT, f"resolve {case_id} Fixed it")
    assert "is open again" in ask(workspace, SUPERVISOR, f"reopen {case_id}")
    assert case_json(workspace, case_id)["status"] == "open"


@pytest.mark.parametrize(
    ("who", "assignee"),
    [
        ("<@U0ANA0001|ana>", "U0ANA0001"),
        ("<@U0ANA0001>", "U0ANA0001"),
        ("U0ANA0001", "U0ANA0001"),
        ("me", AGENT),
        ("ME", AGENT),
    ],
)
def test_assign(workspace: Workspace, who: str, assignee: str) -> None:
    case_id = new_case(workspace)
    shown = ask(workspace, AGENT, f"assign {case_id} {who}")
    assert f"#{case_id} is assigned to <@{assignee}>." in shown
    assert f"*Assignee*\n<@{assignee}>" in shown
    assert case_json(workspace, case_id)["assignee"] == assignee
    assert audit_actions(workspace.app.core, case_id)[-1] == (f"agent:{AGENT}", "assigned")


def test_list_filters(workspace: Workspace) -> None:
    plain = new_case(workspace, subject="Plain open")
    mine = new_case(workspace, subject="Mine <b>", assignee=AGENT)
    waiting = new_case(workspace, subject="Waiting one", priority="P1")
    resolved = new_case(workspace, subject="Resolved one")
    reopened = new_case(workspace, subject="Reopened one")
    closed = new_case(workspace, subject="Closed one", assignee=AGENT)
    ask(workspace, AGENT, f"wait {waiting} outage")
    ask(workspace, AGENT, f"resolve {resolved} Fixed")
    ask(workspace, AGENT, f"resolve {reopened} Fixed")
    ask(workspace, SUPERVISOR, f"reopen {reopened}")
    ask(workspace, SUPERVISOR, f"close {closed}")
    before = snapshot(workspace.app.core)
    expected = {
        "list": ("Open", [waiting, plain, mine, reopened]),
        "list open": ("Open", [waiting, plain, mine, reopened]),
        "list waiting": ("Waiting", [waiting]),
        "list resolved": ("Resolved", [resolved]),
        "list reopened": ("Reopened", [reopened]),
        "list mine": ("Your", [mine]),
        "list MINE": ("Your", [mine]),
    }
    for text, (title, ids) in expected.items():
        shown = ask(workspace, AGENT, text)
        assert f"*{title} cases*" in shown, (text, shown)
        listed = [int(n) for n in re.findall(r"^\*#(\d+)\*", shown, re.MULTILINE)]
        assert listed == ids, (text, shown)  # by priority, then id
    shown = ask(workspace, AGENT, "list open")
    assert "*#2* Mine &lt;b&gt;\nP2 · open · <@UAGENT001> · next update Mon 23 Nov, 12:00 EST" in (
        shown
    )
    assert "waiting (outage)" in shown
    assert "*Your cases*: none" in ask(workspace, SUPERVISOR, "list mine")
    assert snapshot(workspace.app.core) == before


def test_summary_tells_the_story_from_the_record(workspace: Workspace) -> None:
    case_id = new_case(workspace, subject="Internet down", category="billing")
    ask(workspace, AGENT, f"update {case_id} Engineer booked for tomorrow")
    tick(workspace.app.core, "test")
    customer_writes(workspace.app.core, "Thanks, any news on the engineer", "SM0000000001")
    ask(workspace, AGENT, f"resolve {case_id} Replaced the line card")
    tick(workspace.app.core, "test")
    shown = ask(workspace, AGENT, f"summary {case_id}")
    with workspace.app.core.sessions() as session:
        case = session.get(Case, case_id)
        assert case is not None
        told = summarize(session, case, "America/New_York", workspace.app.core.templates)
    assert 2 <= len(told.sentences) <= 5, told.sentences
    assert f"*Summary of #{case_id}*\n{told.text}" in shown
    assert told.sentences[0] == (
        'Maria Gomez got in touch on Mon 23 Nov, 10:00 EST about "Internet down" (P2, billing).'
    )
    assert (
        "We sent 1 update, the last on Mon 23 Nov, 10:00 EST" in shown
        and "the proposed fix was: Replaced the line card" in shown
    )
    assert "It awaits the customer's confirmation since Mon 23 Nov, 10:00 EST." in shown
    assert 'The customer wrote once; last: "Thanks, any news on the engineer".' in shown
    assert "opened: Mon 23 Nov, 10:00 EST · first update: Mon 23 Nov, 10:00 EST" in shown
    assert "confirmation asked: Mon 23 Nov, 10:00 EST" in shown
    sentences = re.findall(r"[^.]+\.(?:\"|\s|$)", told.text)
    assert len(sentences) == len(told.sentences)


def test_summary_of_a_fresh_case_has_two_sentences(workspace: Workspace) -> None:
    case_id = new_case(workspace)
    before = snapshot(workspace.app.core)
    shown = ask(workspace, AGENT, f"summary {case_id}")
    assert f"#{case_id}: Maria Gomez got in touch" in shown
    assert "It is open; next update Mon 23 Nov, 12:00 EST." in shown
    assert snapshot(workspace.app.core) == before


# -- bad input: the usage line (or a clear warning) and no change at all ------------------------

BAD_INPUT: list[tuple[str, str]] = [
    # (text, what the answer must contain); case 1 is open, case 2 is closed.
    ("new", "start with the customer"),
    ("new Router down", "start with the customer"),
    ("new 12345 Router down", "start with the customer"),
    ("new +1 212 555 0102", "add the subject"),
    ('new +1 212 555 0102 ""', "add the subject"),
    ("new 2125550102 Router --priority P9", "priority must be P1, P2, P3 or P4"),
    ("new 2125550102 Router --priority high", "priority must be P1, P2, P3 or P4"),
    ("new 2125550102 Router --priority", "--priority needs a value"),
    ("new 2125550102 Router --priority P1 --priority P2", "--priority is given twice"),
    ("new 2125550102 Router --colour red", "unknown option --colour"),
    ("new 2125550102 " + "x" * 301, "longer than 300 characters"),
    ("new 2125550102 Router --ref ZD-1", ":warning: a case with ref 'ZD-1' already exists"),
    ("update", "say which case"),
    ("update 1", "add the update's text"),
    ("update 99 Engineer booked", ":warning: case #99 does not exist"),
    ("update nope Engineer booked", ":warning: no case has the number or ref 'nope'"),
    ("note 1 reset it --force", "unknown option --force (allowed: --tag); put text that"),
    ("update 2 Engineer booked", ":warning: case #2 is closed; it cannot be sent an update."),
    ("note", "say which case"),
    ("note 1", "add the note's text"),
    ("note 1 escalation", "add the note's text"),
    ("note 1 hi --tag", "--tag needs a value"),
    ("note 99 hi", ":warning: case #99 does not exist"),
    ("notes", "say which case"),
    ("notes 99", ":warning: case #99 does not exist"),
    ("status", "say which case"),
    ("status 99", ":warning: case #99 does not exist"),
    ("status 0", ":warning: case #0 does not exist"),
    ("status 99999999999999999999", ":warning: no case has the number or ref"),
    ("wait", "say which case"),
    ("wait 1", "say why: third_party, compliance_check, investigation, outage"),
    ("wait 1 bored", "unknown waiting reason 'bored'"),
    ("wait 1 outage someday maybe", "cannot read 'someday maybe' as a time"),
    ("wait 1 outage yesterday", "has already passed"),
    ("wait 1 outage 12", "needs a unit or a time"),
    ("wait 2 outage", ":warning: case #2 is closed; it cannot be put on waiting."),
    ("eta", "say which case"),
    ("eta 1", "add the time"),
    ("eta 1 whenever", "cannot read 'whenever' as a time"),
    ("eta 1 2026-13-45 10:00", "cannot read"),
    ("eta 1 yesterday", "Sun 22 Nov, 10:00 EST has already passed"),
    ("eta 1 12", "needs a unit or a time"),
    ("eta 1 9999-12-31 23:00", "too far in the future"),
    ("eta 2 tomorrow 3pm", ":warning: case #2 is closed; it cannot be given an ETA."),
    ("cadence", "say which case"),
    ("cadence 1", "add the interval"),
    ("cadence 1 fast", "expected a duration like 30s, 30m, 2h or 3d"),
    ("cadence 1 0m", "longer than zero"),
    ("cadence 1 30s", "shorter than 1m would flood the customer"),
    ("cadence 1 99999999999d", "too long"),
    ("cadence 2 4h", ":warning: case #2 is closed; it cannot be given a cadence."),
    ("pause", "say which case"),
    ("pause 99", ":warning: case #99 does not exist"),
    ("pause 2", ":warning: case #2 is closed; it cannot be paused."),
    ("resume 1", ":warning: updates for #1 are not paused"),
    ("resume", "say which case"),
    ("resume 2", ":warning: case #2 is closed; it cannot be resumed."),
    ("resolve", "say which case"),
    ("resolve 1", "add the resolution"),
    ("resolve 99 Fixed", ":warning: case #99 does not exist"),
    ("resolve 2 Fixed", ":warning: case #2 is closed; it cannot be resolved."),
    ("assign", "say which case"),
    ("assign 1", "say who"),
    ("assign 1 ana", "'ana' is not a Slack user"),
    ("assign 99 me", ":warning: case #99 does not exist"),
    ("list everything", "list 'everything'? pick one of: open, mine, waiting"),
    ("summary", "say which case"),
    ("summary 99", ":warning: case #99 does not exist"),
]


@pytest.fixture
def open_and_closed(workspace: Workspace) -> Workspace:
    """Case #1 open (ref ZD-1), case #2 closed."""
    assert new_case(workspace, ref="ZD-1") == 1
    assert new_case(workspace, contact={"name": "Lee", "phone": "+12125550103"}) == 2
    ask(workspace, SUPERVISOR, "close 2")
    return workspace


@pytest.mark.parametrize("sub", sorted({t.split()[0] for t, _ in BAD_INPUT}))
def test_bad_input_is_answered_and_changes_nothing(open_and_closed: Workspace, sub: str) -> None:
    workspace = open_and_closed
    core = workspace.app.core
    before = snapshot(core)
    for text, problem in [(t, p) for t, p in BAD_INPUT if t.split()[0] == sub]:
        shown = ask(workspace, AGENT, text)
        assert problem in shown, (text, shown)
        assert shown.startswith(":warning:"), (text, shown)
        if not problem.startswith(":warning:"):  # an argument problem: the usage line
            assert usage(sub) in shown, (text, shown)
            assert SUBCOMMANDS[sub].usage in shown
        assert snapshot(core) == before, f"/case {text} changed the database"


def test_supervisor_cannot_close_or_reopen_in_the_wrong_state(open_and_closed: Workspace) -> None:
    before = snapshot(open_and_closed.app.core)
    shown = ask(open_and_closed, SUPERVISOR, "close 2")
    assert ":warning: case #2 is closed; it cannot be closed." in shown
    shown = ask(open_and_closed, SUPERVISOR, "reopen 1")
    assert ":warning: case #1 is open; it cannot be reopened." in shown
    assert "say which case" in ask(open_and_closed, SUPERVISOR, "close")
    assert "case #99 does not exist" in ask(open_and_closed, SUPERVISOR, "reopen 99")
    assert snapshot(open_and_closed.app.core) == before


def test_notes_may_still_be_added_to_a_closed_case(open_and_closed: Workspace) -> None:
    assert "Note added to #2" in ask(open_and_closed, AGENT, "note 2 Customer called after close")
    assert "#2  Internet down" in ask(open_and_closed, AGENT, "status 2")


def test_unknown_subcommand_shows_help(workspace: Workspace) -> None:
    before = snapshot(workspace.app.core)
    for text in ("frobnicate 1", "<@U0ANA0001|ana>", "&lt;b&gt;"):
        shown = ask(workspace, AGENT, text)
        assert shown.startswith(":warning: There is no `/case "), shown
        assert "*/case* runs a case from Slack" in shown
    assert "There is no `/case &lt;b&gt;`" in ask(workspace, AGENT, "&lt;b&gt;")
    assert snapshot(workspace.app.core) == before


# -- who may do what ------------------------------------------------------------------------

EVERY_COMMAND = [
    "",
    "help",
    "new +1 212 555 0102 Router down",
    "update 1 Engineer booked",
    "note 1 hi",
    "notes 1",
    "status 1",
    "1",
    "wait 1 outage",
    "eta 1 2h",
    "cadence 1 4h",
    "pause 1",
    "resume 1",
    "resolve 1 Fixed",
    "close 1",
    "reopen 1",
    "assign 1 me",
    "list",
    "summary 1",
    "frobnicate",
]


def test_outsiders_are_refused_everything(workspace: Workspace) -> None:
    new_case(workspace)
    before = snapshot(workspace.app.core)
    for text in EVERY_COMMAND:
        shown = ask(workspace, OUTSIDER, text)
        assert shown.startswith("Sorry, `/case` is for the agents and supervisors"), (text, shown)
        assert OUTSIDER in shown and "Internet down" not in shown
        assert snapshot(workspace.app.core) == before, text


def test_agents_may_not_close_or_reopen(workspace: Workspace) -> None:
    open_id = new_case(workspace)
    resolved_id = new_case(workspace, contact={"phone": "+12125550103"})
    ask(workspace, AGENT, f"resolve {resolved_id} Fixed")
    before = snapshot(workspace.app.core)
    for text in (f"close {open_id}", f"reopen {resolved_id}", "CLOSE 1", "close", "reopen 99"):
        shown = ask(workspace, AGENT, text)
        sub = text.split()[0].lower()
        assert shown == f":no_entry: `/case {sub}` is for supervisors: ask one to do it.", shown
    assert snapshot(workspace.app.core) == before


def test_supervisors_may_do_what_agents_do(workspace: Workspace) -> None:
    assert "Opened #1" in ask(workspace, SUPERVISOR, "new 2125550101 Router down")
    assert case_json(workspace, 1)["assignee"] == SUPERVISOR
    assert "queued by sms" in ask(workspace, SUPERVISOR, "update 1 On it")


# -- a busier database -----------------------------------------------------------------------


def test_answers_on_a_busier_database(workspace: Workspace) -> None:
    """With more open cases than a list shows, every subcommand still answers in its request."""
    for n in range(25):
        new_case(workspace, contact={"phone": f"+1212555{n:04d}"}, subject=f"Case {n}")
    for text in ("list", "new 2125550199 Another", "update 3 Hi", "summary 3", "notes 3"):
        ask(workspace, AGENT, text)
    shown = ask(workspace, AGENT, "list")
    assert "Showing the first 20" in shown and "20+ case(s) open" in shown
    assert START.year == 2026  # the frozen clock keeps every time above exact
