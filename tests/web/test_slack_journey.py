"""A whole case driven from Slack: an agent's /case commands, a customer reached by DM who
answers with a button, and the log that results. Real bolt, real slack_sdk, fake Slack API."""

from __future__ import annotations

from bot.clock import FrozenClock
from tests.conftest import auth_header, log_events
from tests.support.fake_slack import FakeSlack
from tests.support.slack_harness import AGENT, CUSTOMER, Workspace, flatten


def test_agent_runs_a_case_and_the_customer_confirms_by_button(
    workspace: Workspace, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    answer = workspace.command(
        AGENT, f'new <@{CUSTOMER}|dana> "Card declined abroad" --priority P2'
    )
    shown = flatten(answer)
    assert "Opened #1" in shown and "Card declined abroad" in shown, shown
    answer = workspace.command(AGENT, "resolve 1 We lifted the travel block on your card.")
    assert "resolved" in flatten(answer)
    dm = "D" + CUSTOMER[1:]
    [ask] = workspace.sent_to(dm)
    assert "Reply YES" in ask["text"]
    buttons = next(b for b in ask["blocks"] if b["type"] == "actions")["elements"]
    assert [b["action_id"] for b in buttons] == ["customer_confirm", "customer_reopen"]
    response = workspace.click(CUSTOMER, "customer_confirm", "1", channel=dm, message=ask)
    assert response.status_code == 200, response.text
    case = workspace.app.client.get("/api/v1/cases/1", headers=auth_header()).get_json()
    assert case["status"] == "closed"
    assert log_events(workspace.app.core, 1) == [
        "case_opened",
        "resolution_proposed",
        "confirmation_requested",
        "customer_message",
        "confirmed",
    ]
    [updated] = fake_slack.calls_to("chat.update")
    assert "You answered" in str(updated.params["blocks"])
    replies = workspace.sent_to(dm)[1:]
    assert "closed" in replies[0]["text"]
