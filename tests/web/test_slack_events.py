"""POST /slack/events beyond the slash command: Slack's signature and replay window, event
retries, a customer's typed DMs and button clicks, and alerts whose buttons act on the case.
Requests are signed with slack_sdk's SignatureVerifier and posted over HTTP to the real bolt App."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import func, select

from bot.clock import FrozenClock
from bot.store.models import Message
from tests.conftest import auth_header, log_events
from tests.support.fake_slack import FakeSlack
from tests.support.slack_harness import (
    AGENT,
    ALERTS,
    CUSTOMER,
    OUTSIDER,
    SlackApp,
    Workspace,
)

DM = "D" + CUSTOMER[1:]


def message_count(app: SlackApp) -> int:
    with app.core.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Message)) or 0)


def case_of(app: SlackApp, case_id: int = 1) -> dict[str, Any]:
    data: dict[str, Any] = app.client.get(
        f"/api/v1/cases/{case_id}", headers=auth_header()
    ).get_json()
    return data


def slack_case(workspace: Workspace, *, resolve: bool = False) -> dict[str, Any]:
    """Case #1 for the Slack customer; with resolve, the confirmation request they got."""
    workspace.command(AGENT, f"new <@{CUSTOMER}|dana> Card declined abroad")
    if not resolve:
        return {}
    workspace.command(AGENT, "resolve 1 We lifted the travel block.")
    [ask] = workspace.sent_to(DM)
    return ask


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


# -- who may post -----------------------------------------------------------------------------


def test_a_bad_signature_gets_401_and_changes_nothing(workspace: Workspace) -> None:
    slack_case(workspace)
    before = message_count(workspace.app)
    response = workspace.dm(CUSTOMER, "YES", secret="not-the-secret")
    assert response.status_code == 401
    forged = workspace.command_response(AGENT, "close 1", secret="not-the-secret")
    assert forged.status_code == 401
    assert message_count(workspace.app) == before
    assert case_of(workspace.app)["status"] == "open"


def test_a_request_older_than_five_minutes_is_refused(workspace: Workspace) -> None:
    slack_case(workspace)
    stale = int(time.time()) - 6 * 60
    response = workspace.command_response(AGENT, "resolve 1 Fixed it", timestamp=stale)
    assert response.status_code == 401
    assert case_of(workspace.app)["status"] == "open"
    fresh = workspace.command_response(AGENT, "status 1", timestamp=int(time.time()) - 4 * 60)
    assert fresh.status_code == 200


def test_unsigned_requests_are_refused(workspace: Workspace) -> None:
    import requests

    response = requests.post(workspace.endpoint, data=b"command=/case&text=help", timeout=5)
    assert response.status_code == 401


def test_slack_s_url_verification_is_answered(workspace: Workspace) -> None:
    body = json.dumps({"token": "t", "challenge": "c-123", "type": "url_verification"})
    response = workspace.post(body, "application/json")
    assert response.status_code == 200
    assert "c-123" in response.text


def test_without_slack_credentials_the_endpoint_says_what_to_set(client: Any) -> None:
    response = client.post("/slack/events", data="x")
    assert response.status_code == 503
    assert "SLACK_SIGNING_SECRET" in response.get_json()["error"]["message"]


# -- customers writing in their DM ------------------------------------------------------------


def test_a_typed_yes_in_the_dm_confirms_and_a_retry_of_the_event_changes_nothing(
    workspace: Workspace,
) -> None:
    slack_case(workspace, resolve=True)
    ts = "1763900000.000100"
    first = workspace.dm(CUSTOMER, "yes it works now", ts=ts, event_id="Ev0001")
    assert first.status_code == 200
    retried = workspace.dm(
        CUSTOMER,
        "yes it works now",
        ts=ts,
        event_id="Ev0001",
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert retried.status_code == 200
    assert case_of(workspace.app)["status"] == "closed"
    assert log_events(workspace.app.core, 1).count("confirmed") == 1
    with workspace.app.core.sessions() as session:
        stored = session.scalars(select(Message).where(Message.provider_id == f"{DM}:{ts}")).all()
    assert len(stored) == 1 and stored[0].body == "yes it works now"
    thanks = workspace.sent_to(DM)[1:]
    assert len(thanks) == 2  # the thank-you and the CSAT question, once
    assert "closed" in thanks[0]["text"]
    assert [b["action_id"] for b in buttons(thanks[1])] == [
        f"customer_rate_{n}" for n in range(1, 6)
    ]


def test_the_bot_s_own_posts_edits_and_channel_chatter_are_not_customer_messages(
    workspace: Workspace, fake_slack: FakeSlack
) -> None:
    slack_case(workspace, resolve=True)
    before = message_count(workspace.app)
    own = {
        "type": "message",
        "channel": DM,
        "channel_type": "im",
        "bot_id": "B0000001",
        "user": fake_slack.bot_user_id,
        "text": "YES",
        "ts": "1763900000.000200",
    }
    edit = {
        "type": "message",
        "subtype": "message_changed",
        "channel": DM,
        "channel_type": "im",
        "message": {"user": CUSTOMER, "text": "YES"},
        "ts": "1763900000.000300",
    }
    chatter = {
        "type": "message",
        "channel": "CGENERAL1",
        "channel_type": "channel",
        "user": CUSTOMER,
        "text": "YES",
        "ts": "1763900000.000400",
    }
    for event in (own, edit, chatter):
        assert workspace.event(event).status_code == 200
    assert message_count(workspace.app) == before
    assert case_of(workspace.app)["status"] == "resolved"


def test_a_stranger_dm_is_kept_and_gets_one_pointer(workspace: Workspace) -> None:
    response = workspace.dm(OUTSIDER, "hello? is my refund done?")
    assert response.status_code == 200
    with workspace.app.core.sessions() as session:
        kept = session.scalar(select(Message).where(Message.address == OUTSIDER))
    assert kept is not None and kept.case_id is None
    [pointer] = workspace.sent_to("D" + OUTSIDER[1:])
    assert "could not find" in pointer["text"]


# -- customers pressing buttons ---------------------------------------------------------------


def test_reopen_by_button_reopens_and_alerts_the_team_with_buttons(
    workspace: Workspace, fake_slack: FakeSlack
) -> None:
    ask = slack_case(workspace, resolve=True)
    response = workspace.click(CUSTOMER, "customer_reopen", "1", channel=DM, message=ask)
    assert response.status_code == 200
    assert case_of(workspace.app)["status"] == "open"
    events = log_events(workspace.app.core, 1)
    assert events[-2:] == ["reopen_requested", "reopened"]
    [alert] = workspace.sent_to(ALERTS)
    assert "reopened by the customer" in alert["text"] and 'They said: "REOPEN"' in alert["text"]
    assert [b["action_id"] for b in buttons(alert)] == [
        "alert_update",
        "alert_resolve",
        "alert_assign",
    ]
    assert all(b["value"] == "1" for b in buttons(alert))
    answered = fake_slack.calls_to("chat.update")[-1].params
    assert answered["channel"] == DM and "Reopen" in json.dumps(answered["blocks"])
    assert not [b for b in answered["blocks"] if b["type"] == "actions"]


def test_a_score_button_records_csat_and_a_low_one_alerts(workspace: Workspace) -> None:
    ask = slack_case(workspace, resolve=True)
    workspace.click(CUSTOMER, "customer_confirm", "1", channel=DM, message=ask)
    rate = workspace.sent_to(DM)[-1]
    low = next(b for b in buttons(rate) if b["action_id"] == "customer_rate_2")
    response = workspace.click(CUSTOMER, "customer_rate_2", low["value"], channel=DM, message=rate)
    assert response.status_code == 200
    assert case_of(workspace.app)["csat_score"] == 2
    [alert] = workspace.sent_to(ALERTS)
    assert "CSAT score of 2/5" in alert["text"]


# -- alerts the team acts on ------------------------------------------------------------------


def reopen_alert(workspace: Workspace, words: str = "still broken") -> dict[str, Any]:
    slack_case(workspace, resolve=True)
    workspace.dm(CUSTOMER, words)
    [alert] = workspace.sent_to(ALERTS)
    return alert


def test_the_customer_s_words_in_an_alert_cannot_ping_or_link(workspace: Workspace) -> None:
    alert = reopen_alert(workspace, "still broken <!channel> <https://evil.example|click> & more")
    assert "<!channel>" not in json.dumps(alert)
    assert "&lt;!channel&gt;" in alert["text"] and "&amp; more" in alert["text"]


def test_send_update_button_opens_a_modal_whose_text_goes_to_the_customer(
    workspace: Workspace, fake_slack: FakeSlack
) -> None:
    alert = reopen_alert(workspace)
    clicked = workspace.click(AGENT, "alert_update", "1", channel=ALERTS, message=alert)
    assert clicked.status_code == 200
    [opened] = fake_slack.calls_to("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == "case_update"
    empty = workspace.submit(AGENT, view, "   ")
    assert empty.status_code == 200 and empty.json()["response_action"] == "errors"
    done = workspace.submit(AGENT, view, "An engineer visits you tomorrow at 9.")
    assert done.status_code == 200 and not done.text.strip()  # an empty ack closes the modal
    update = workspace.sent_to(DM)[-1]
    assert "An engineer visits you tomorrow at 9." in update["text"]
    note = fake_slack.messages(ALERTS)[-1]
    assert note["thread_ts"] == alert["ts"] and "sent #1 an update" in note["text"]


def test_resolve_button_resolves_through_a_modal(
    workspace: Workspace, fake_slack: FakeSlack
) -> None:
    alert = reopen_alert(workspace)
    workspace.click(AGENT, "alert_resolve", "1", channel=ALERTS, message=alert)
    view = fake_slack.calls_to("views.open")[-1].params["view"]
    assert view["callback_id"] == "case_resolve"
    assert workspace.submit(AGENT, view, "Replaced the card.").status_code == 200
    assert case_of(workspace.app)["status"] == "resolved"
    again = workspace.submit(AGENT, view, "Twice")  # the case is no longer open
    assert again.json()["response_action"] == "errors"
    assert "cannot be resolved" in json.dumps(again.json()["errors"])


def test_assign_to_me_assigns_and_says_so_in_the_thread(
    workspace: Workspace, fake_slack: FakeSlack
) -> None:
    alert = reopen_alert(workspace)
    workspace.click("USUPER001", "alert_assign", "1", channel=ALERTS, message=alert)
    assert case_of(workspace.app)["assignee"] == "USUPER001"
    note = fake_slack.messages(ALERTS)[-1]
    assert note["thread_ts"] == alert["ts"] and "took #1" in note["text"]


def test_someone_not_listed_cannot_act_on_an_alert(
    workspace: Workspace, fake_slack: FakeSlack
) -> None:
    alert = reopen_alert(workspace)
    workspace.click(OUTSIDER, "alert_assign", "1", channel=ALERTS, message=alert)
    workspace.click(OUTSIDER, "alert_update", "1", channel=ALERTS, message=alert)
    assert case_of(workspace.app)["assignee"] == AGENT
    assert not fake_slack.calls_to("views.open")
    refusals = fake_slack.calls_to("chat.postEphemeral")
    assert len(refusals) == 2 and all(c.params["user"] == OUTSIDER for c in refusals)


def test_a_strongly_negative_reply_alerts_a_supervisor(
    workspace: Workspace, clock: FrozenClock
) -> None:
    slack_case(workspace)
    workspace.dm(CUSTOMER, "This is ridiculous, worst service ever, I am furious")
    [alert] = workspace.sent_to(ALERTS)  # an unclear reply, flagged as strongly negative
    assert (
        "wrote:" in alert["text"] and "Strongly negative (-0.88), cc <@USUPER001>" in alert["text"]
    )
    assert [b["action_id"] for b in buttons(alert)][:1] == ["alert_update"]
    clock.advance(workspace.app.core.config.alerts.coalesce_window)  # a new alert, not an edit
    workspace.dm(CUSTOMER, "thanks for the quick answer!")
    calm = workspace.sent_to(ALERTS)[-1]  # still shown to the assignee, but nobody is called
    assert "thanks for the quick answer" in calm["text"] and "Strongly" not in calm["text"]
    with workspace.app.core.sessions() as session:
        scores = session.scalars(select(Message.sentiment).where(Message.direction == "in")).all()
    assert scores[0] is not None and scores[0] <= -0.6 and scores[1] is not None and scores[1] > 0


def test_an_angry_reopen_raises_the_reopen_alert_only(workspace: Workspace) -> None:
    slack_case(workspace, resolve=True)
    workspace.dm(CUSTOMER, "not fixed, I am very angry and disappointed")
    [alert] = workspace.sent_to(ALERTS)
    assert "reopened by the customer" in alert["text"] and "cc <@USUPER001>" in alert["text"]


def test_a_confirmation_written_in_anger_still_alerts_a_supervisor(workspace: Workspace) -> None:
    slack_case(workspace, resolve=True)
    workspace.dm(
        CUSTOMER, "YES. Finally. Worst, most useless service I have ever had, I am furious"
    )
    assert case_of(workspace.app)["status"] == "closed"
    [alert] = workspace.sent_to(ALERTS)
    assert "sounds very unhappy" in alert["text"] and "cc <@USUPER001>" in alert["text"]


def test_stop_in_the_dm_stops_slack_messages_and_start_resumes_them(workspace: Workspace) -> None:
    slack_case(workspace)
    workspace.dm(CUSTOMER, "STOP")
    [confirmation] = workspace.sent_to(DM)
    assert "no more" in confirmation["text"].lower()
    workspace.command(AGENT, "update 1 The engineer is on the way.")
    assert len(workspace.sent_to(DM)) == 1  # not over Slack any more
    with workspace.app.core.sessions() as session:
        update = session.scalars(select(Message).where(Message.template == "agent_update")).one()
    assert update.channel == "webchat"  # the contact's next way in
    workspace.dm(CUSTOMER, "START")
    workspace.command(AGENT, "update 1 Fixed soon.")
    assert "Fixed soon." in workspace.sent_to(DM)[-1]["text"]
