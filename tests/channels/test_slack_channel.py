"""The Slack channel driven for real: SlackSender and its slack_sdk WebClient
against the fake Slack Web API (tests/support/fake_slack.py), then through the outbox into the
database.

Covered: DMs opened once per person, Block Kit passed through beside the text, escaping of
customer text, 429s retried by the client's handler (and given back to the outbox when they
keep coming), how each Slack error is classed (retryable, maybe sent, a dead address), lost
connections, pacing per conversation, and dry-run without a token.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from slack_sdk.http_retry import builtin_handlers
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.config import Settings
from bot.domain import AddressProblem, MessageStatus, OutboxKind, OutboxStatus
from bot.errors import ChannelError
from bot.outbox.sender import send_due
from bot.store.models import Contact, Message, Outbox
from channels.base import OutboundMessage
from channels.slack import RATE_LIMIT_RETRIES, SlackInbound, SlackSender, build_client
from tests.conftest import auth_header
from tests.support.fake_slack import FakeSlack
from tests.support.slack_harness import ALERTS, CUSTOMER, SlackApp

DM = "D" + CUSTOMER[1:]  # the DM the fake opens with CUSTOMER
OTHER_USER = "UOTHER001"
SUPPORT = "CSUPPORT1"
UNPACED = 1000.0  # posts per second for the tests that are not about pacing


@pytest.fixture(autouse=True)
def _no_retry_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """slack_sdk waits Retry-After plus up to a second at random; only Retry-After here."""
    monkeypatch.setattr(builtin_handlers, "random", SimpleNamespace(random=lambda: 0.0))


def slack_channel(
    fake: FakeSlack,
    clock: FrozenClock,
    *,
    posts_per_second: float = UNPACED,
    token: str | None = None,
    api_url: str | None = None,
) -> SlackSender:
    settings = Settings(slack_bot_token=token or fake.token, slack_api_url=api_url or fake.url)
    return SlackSender(build_client(settings), posts_per_second=posts_per_second)


def outbound(
    to: str,
    body: str = "Your case #1 is being worked on.",
    *,
    kind: str = "reply",
    blocks: list[dict[str, Any]] | None = None,
    message_id: int = 1,
) -> OutboundMessage:
    return OutboundMessage(
        channel="slack",
        to=to,
        body=body,
        message_id=message_id,
        kind=kind,
        metadata={"blocks": blocks} if blocks is not None else {},
    )


def send_error(channel: SlackSender, message: OutboundMessage) -> ChannelError:
    with pytest.raises(ChannelError) as raised:
        channel.send(message)
    return raised.value


# -- where messages go --------------------------------------------------------------------


def test_a_dm_is_opened_once_per_person_and_posted_to_its_conversation(
    fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    channel = slack_channel(fake_slack, clock)
    first = channel.send(outbound(CUSTOMER, "First update"))
    second = channel.send(outbound(CUSTOMER, "Second update"))
    [opened] = fake_slack.calls_to("conversations.open")
    assert opened.params["users"] == CUSTOMER
    posts = fake_slack.calls_to("chat.postMessage")
    assert [post.params["channel"] for post in posts] == [DM, DM]
    stored = fake_slack.messages(DM)
    assert [m["text"] for m in stored] == ["First update", "Second update"]
    assert first.provider_id == f"{DM}:{stored[0]['ts']}"
    assert second.provider_id == f"{DM}:{stored[1]['ts']}"
    assert not first.simulated and not second.simulated
    # Another person gets a DM of their own, opened for them.
    channel.send(outbound(OTHER_USER, "Hello"))
    opens = fake_slack.calls_to("conversations.open")
    assert [call.params["users"] for call in opens] == [CUSTOMER, OTHER_USER]
    assert [m["text"] for m in fake_slack.messages("D" + OTHER_USER[1:])] == ["Hello"]


@pytest.mark.parametrize("address", [SUPPORT, "#support-alerts", "GPRIVATE01", DM])
def test_a_conversation_is_posted_to_as_addressed(
    fake_slack: FakeSlack, clock: FrozenClock, address: str
) -> None:
    result = slack_channel(fake_slack, clock).send(outbound(address, "*Alert*", kind="alert"))
    assert fake_slack.calls_to("conversations.open") == []
    [post] = fake_slack.calls_to("chat.postMessage")
    assert post.params["channel"] == address
    [stored] = fake_slack.messages(address)
    assert result.provider_id == f"{address}:{stored['ts']}"


def test_blocks_are_passed_through_and_text_is_always_sent(
    fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Case #1 is *resolved*."}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "customer_confirm",
                    "text": {"type": "plain_text", "text": "Confirm"},
                    "value": "1",
                }
            ],
        },
    ]
    channel = slack_channel(fake_slack, clock)
    channel.send(outbound(SUPPORT, "Case #1 is resolved. Reply YES", blocks=blocks))
    channel.send(outbound(SUPPORT, "No layout for this one"))
    with_blocks, plain = fake_slack.calls_to("chat.postMessage")
    assert with_blocks.params["blocks"] == blocks
    assert with_blocks.params["text"] == "Case #1 is resolved. Reply YES"
    assert not plain.params.get("blocks")
    assert plain.params["text"] == "No layout for this one"
    assert [m["blocks"] for m in fake_slack.messages(SUPPORT)] == [blocks, None]


@pytest.mark.parametrize("kind", ["reply", "interim", "confirm_request", "reminder"])
def test_customer_text_is_escaped_for_slack_markup(
    fake_slack: FakeSlack, clock: FrozenClock, kind: str
) -> None:
    slack_channel(fake_slack, clock).send(outbound(CUSTOMER, "<!channel> & <b>", kind=kind))
    [stored] = fake_slack.messages(DM)
    assert stored["text"] == "&lt;!channel&gt; &amp; &lt;b&gt;"


def test_alerts_are_sent_as_written(fake_slack: FakeSlack, clock: FrozenClock) -> None:
    body = "*Case #1 reopened* by <@UCUST0001>: “still &lt;broken&gt;” <!here>"
    slack_channel(fake_slack, clock).send(outbound(ALERTS, body, kind="alert"))
    [stored] = fake_slack.messages(ALERTS)
    assert stored["text"] == body


def test_without_a_bot_token_messages_are_simulated(
    fake_slack: FakeSlack, clock: FrozenClock, capsys: pytest.CaptureFixture[str]
) -> None:
    channel = SlackSender(None)
    result = channel.send(outbound(CUSTOMER, "Dry run", message_id=7))
    assert result.simulated
    assert result.provider_id == "sim-slack-7"
    assert fake_slack.calls == []
    assert f"[simulated slack -> {CUSTOMER}] Dry run" in capsys.readouterr().out


# -- rate limits --------------------------------------------------------------------------


@pytest.mark.slow
def test_a_429_is_retried_after_retry_after_and_the_post_lands(
    fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=1)
    result = slack_channel(fake_slack, clock).send(outbound(SUPPORT, "After a 429"))
    refused, accepted = fake_slack.calls_to("chat.postMessage")
    assert refused.answered_status == 429 and accepted.ok
    assert accepted.at - refused.at >= 0.95  # the client honoured Retry-After: 1
    [stored] = fake_slack.messages(SUPPORT)
    assert stored["text"] == "After a 429"
    assert result.provider_id == f"{SUPPORT}:{stored['ts']}"


@pytest.mark.parametrize("method", ["chat.postMessage", "conversations.open"])
def test_a_429_storm_gives_up_as_retryable_and_not_sent(
    fake_slack: FakeSlack, clock: FrozenClock, method: str
) -> None:
    fake_slack.fail_next(method, status=429, retry_after=0, times=RATE_LIMIT_RETRIES + 1)
    error = send_error(slack_channel(fake_slack, clock), outbound(CUSTOMER))
    assert (error.retryable, error.maybe_sent, error.error_code) == (True, False, "ratelimited")
    assert error.problem is None
    assert len(fake_slack.calls_to(method)) == RATE_LIMIT_RETRIES + 1  # one try, two retries
    assert fake_slack.messages() == []


# -- Slack's errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "address", "error", "status", "expected"),
    [
        # (retryable, maybe_sent, problem, error_code)
        ("chat.postMessage", SUPPORT, "channel_not_found", 200, (False, False, None, None)),
        ("chat.postMessage", SUPPORT, "invalid_auth", 200, (False, False, None, None)),
        ("chat.postMessage", CUSTOMER, "is_archived", 200, (False, False, None, None)),
        ("conversations.open", CUSTOMER, "user_not_found", 200, (False, False, "u", None)),
        # Our token's user or workspace is gone: no customer is to blame.
        ("conversations.open", CUSTOMER, "account_inactive", 200, (False, False, None, None)),
        ("conversations.open", CUSTOMER, "user_disabled", 200, (False, False, "u", None)),
        ("chat.postMessage", CUSTOMER, "user_not_found", 200, (False, False, "u", None)),
        ("chat.postMessage", CUSTOMER, "account_inactive", 200, (False, False, None, None)),
        ("chat.postMessage", CUSTOMER, "user_disabled", 200, (False, False, "u", None)),
        # Unknown or transient errors are tried again; nothing was posted.
        ("chat.postMessage", SUPPORT, "service_unavailable", 200, (True, False, None, None)),
        # Slack: "It's possible some aspect of the operation succeeded".
        ("chat.postMessage", SUPPORT, "internal_error", 200, (True, True, None, None)),
        ("chat.postMessage", SUPPORT, "fatal_error", 200, (True, True, None, None)),
        # A 5xx page (not JSON) may come after the post was made.
        ("chat.postMessage", SUPPORT, "", 500, (True, True, None, "500")),
        ("chat.postMessage", CUSTOMER, "", 503, (True, True, None, "503")),
        # ... but one on opening the DM comes before anything was posted.
        ("conversations.open", CUSTOMER, "", 503, (True, False, None, "503")),
        ("conversations.open", CUSTOMER, "internal_error", 200, (True, False, None, None)),
    ],
)
def test_slack_errors_are_classed_for_the_outbox(
    fake_slack: FakeSlack,
    clock: FrozenClock,
    method: str,
    address: str,
    error: str,
    status: int,
    expected: tuple[bool, bool, str | None, str | None],
) -> None:
    retryable, maybe_sent, problem, code = expected
    fake_slack.fail_next(method, status=status, error=error or "unused")
    channel = slack_channel(fake_slack, clock)
    raised = send_error(channel, outbound(address))
    assert raised.retryable is retryable, raised.message
    assert raised.maybe_sent is maybe_sent, raised.message
    assert raised.problem == (str(AddressProblem.UNREACHABLE) if problem else None)
    assert raised.error_code == (code or error)
    assert len(raised.error_code or "") <= 32  # fits messages.error_code
    if method == "conversations.open":
        assert fake_slack.calls_to("chat.postMessage") == []
    assert fake_slack.messages() == []
    # The next send works (the failure was a one-off) and a DM that failed to open is opened
    # again rather than remembered.
    fake_slack.clear()
    channel.send(outbound(address, "Again"))
    if address == CUSTOMER:
        assert len(fake_slack.calls_to("conversations.open")) == (method == "conversations.open")
    assert [m["text"] for m in fake_slack.messages()] == ["Again"]


def test_a_wrong_token_is_not_retried(fake_slack: FakeSlack, clock: FrozenClock) -> None:
    channel = slack_channel(fake_slack, clock, token="xoxb-not-the-right-one")
    raised = send_error(channel, outbound(CUSTOMER))
    assert (raised.retryable, raised.maybe_sent, raised.error_code) == (
        False,
        False,
        "invalid_auth",
    )
    assert raised.problem is None  # our token is wrong, not the customer's address
    assert fake_slack.messages() == []


# -- lost connections ---------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize("address", [SUPPORT, CUSTOMER])
def test_a_refused_connection_is_retryable_and_not_sent(
    clock: FrozenClock, fake_slack: FakeSlack, address: str
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/api/"
    raised = send_error(slack_channel(fake_slack, clock, api_url=url), outbound(address))
    assert (raised.retryable, raised.maybe_sent) == (True, False)
    assert raised.problem is None


@contextmanager
def hangs_up_after_reading() -> Iterator[str]:
    """A server that reads a whole request and closes without answering: the post may have
    been made, its answer lost."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(5)

    def serve() -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            connection.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            while len(body) < length:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                body += chunk

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/api/"
    finally:
        thread.join(10)
        listener.close()


def test_a_lost_answer_to_a_post_may_have_been_sent(
    clock: FrozenClock, fake_slack: FakeSlack
) -> None:
    with hangs_up_after_reading() as url:
        raised = send_error(slack_channel(fake_slack, clock, api_url=url), outbound(SUPPORT))
    assert (raised.retryable, raised.maybe_sent) == (True, True)


def test_a_lost_answer_to_opening_a_dm_was_not_sent(
    clock: FrozenClock, fake_slack: FakeSlack
) -> None:
    with hangs_up_after_reading() as url:
        raised = send_error(slack_channel(fake_slack, clock, api_url=url), outbound(CUSTOMER))
    assert (raised.retryable, raised.maybe_sent) == (True, False)


# -- pacing -------------------------------------------------------------------------------


@pytest.mark.slow
def test_posts_to_one_conversation_are_paced_to_one_a_second(
    fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    channel = slack_channel(fake_slack, clock, posts_per_second=1.0)
    for n in range(3):
        channel.send(outbound(CUSTOMER, f"Update {n}"))
    posts = [call.at for call in fake_slack.calls_to("chat.postMessage")]
    assert len(posts) == 3
    assert posts[1] - posts[0] >= 0.9 and posts[2] - posts[1] >= 0.9
    assert posts[2] - posts[0] >= 1.9


@pytest.mark.slow
def test_conversations_are_paced_apart(fake_slack: FakeSlack, clock: FrozenClock) -> None:
    channel = slack_channel(fake_slack, clock, posts_per_second=1.0)
    channel.send(outbound(SUPPORT, "A1"))
    channel.send(outbound(CUSTOMER, "B1"))  # another conversation: not held behind A1
    channel.send(outbound(SUPPORT, "A2"))  # A's next slot, a second after A1
    a1, b1, a2 = (call.at for call in fake_slack.calls_to("chat.postMessage"))
    assert b1 - a1 < 0.5, "a post to another conversation waited for the first one's pace"
    assert a2 - a1 >= 0.9


# -- through the outbox -------------------------------------------------------------------


def queue_update(app: SlackApp, text: str = "We are replacing the card reader.") -> int:
    """Open a case for CUSTOMER (reached by Slack DM) and queue an agent's update to them."""
    body = {"subject": "Card declined", "contact": {"name": "Dana", "slack_user_id": CUSTOMER}}
    response = app.client.post("/api/v1/cases", json=body, headers=auth_header())
    assert response.status_code == 201, response.get_json()
    case_id = int(response.get_json()["id"])
    response = app.client.post(
        f"/api/v1/cases/{case_id}/updates", json={"text": text}, headers=auth_header()
    )
    assert response.status_code == 200, response.get_json()
    with app.core.sessions() as session:
        [row] = session.scalars(select(Outbox).where(Outbox.case_id == case_id))
        assert (row.kind, row.channel, row.address) == (OutboxKind.INTERIM, "slack", CUSTOMER)
    return case_id


def update_row(app: SlackApp, case_id: int) -> tuple[Outbox, Message, Contact]:
    with app.core.sessions() as session:
        row = session.scalars(
            select(Outbox).where(Outbox.case_id == case_id, Outbox.kind == OutboxKind.INTERIM)
        ).one()
        message = row.message
        assert message is not None and message.contact is not None
        session.expunge_all()
        return row, message, message.contact


@pytest.mark.parametrize("method", ["conversations.open", "chat.postMessage"])
def test_a_disabled_slack_user_fails_the_message_and_marks_the_contact(
    slack_app: SlackApp, fake_slack: FakeSlack, method: str
) -> None:
    case_id = queue_update(slack_app)
    fake_slack.fail_next(method, error="user_disabled")
    report = send_due(slack_app.core, "test")
    assert (report.sent, report.failed, report.retried) == (0, 1, 0)
    row, message, contact = update_row(slack_app, case_id)
    assert row.status == OutboxStatus.FAILED
    assert message.status == MessageStatus.FAILED
    assert message.error_code == "user_disabled"
    assert "slack" in contact.unreachable
    assert fake_slack.messages(DM) == []


def test_a_429_storm_leaves_the_update_pending_for_a_retry(
    slack_app: SlackApp, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    case_id = queue_update(slack_app)
    fake_slack.fail_next("chat.postMessage", status=429, retry_after=0, times=3)
    report = send_due(slack_app.core, "test")
    assert (report.sent, report.failed, report.retried) == (0, 0, 1)
    row, message, contact = update_row(slack_app, case_id)
    assert row.status == OutboxStatus.PENDING
    assert row.not_before > clock.now()
    assert row.attempts == 1 and "429" in (row.last_error or "")
    assert message.status == MessageStatus.QUEUED and message.error_code is None
    assert contact.unreachable == []
    assert fake_slack.messages(DM) == []
    # Once Slack lets us through again, the retry delivers it once.
    clock.advance(timedelta(minutes=5))
    assert send_due(slack_app.core, "test").sent >= 1
    row, message, _ = update_row(slack_app, case_id)
    [posted] = fake_slack.messages(DM)
    assert row.status == OutboxStatus.SENT
    assert message.status == MessageStatus.SENT
    assert message.provider_id == f"{DM}:{posted['ts']}"
    assert "replacing the card reader" in posted["text"]


def test_a_5xx_on_opening_the_dm_retries_the_update(
    slack_app: SlackApp, fake_slack: FakeSlack
) -> None:
    """An interim update is never sent twice, so one that may have gone out is failed; one that
    failed while its DM was being opened cannot have gone out, and is tried again."""
    case_id = queue_update(slack_app)
    fake_slack.fail_next("conversations.open", status=503)
    report = send_due(slack_app.core, "test")
    assert (report.failed, report.retried) == (0, 1)
    row, message, _ = update_row(slack_app, case_id)
    assert row.status == OutboxStatus.PENDING
    assert message.status == MessageStatus.QUEUED


def test_a_5xx_on_the_post_fails_the_update_with_a_short_error_code(
    slack_app: SlackApp, fake_slack: FakeSlack
) -> None:
    case_id = queue_update(slack_app)
    fake_slack.fail_next("chat.postMessage", status=503)
    report = send_due(slack_app.core, "test")
    assert (report.failed, report.retried) == (1, 0)
    row, message, contact = update_row(slack_app, case_id)
    assert row.status == OutboxStatus.FAILED
    assert message.status == MessageStatus.FAILED
    assert message.error_code == "503"  # messages.error_code is VARCHAR(32)
    assert contact.unreachable == []
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


# -- SlackInbound: verify and parse_inbound ------------------------------------------------------


def test_verify_checks_slack_s_signature_and_replay_window(clock: FrozenClock) -> None:
    import time

    from flask import Flask

    from tests.support.slack_harness import SIGNING_SECRET, signed_headers

    channel = SlackInbound(Settings(slack_signing_secret=SIGNING_SECRET), clock, client=None)
    body = "command=%2Fcase&text=help"

    def verified(headers: dict[str, str]) -> bool:
        with Flask(__name__).test_request_context(
            "/slack/events", method="POST", data=body, headers=headers
        ) as context:
            return channel.verify(context.request)

    assert verified(signed_headers(body))
    assert not verified(signed_headers(body, secret="another-secret"))
    assert not verified(signed_headers(body, timestamp=int(time.time()) - 6 * 60))
    assert not verified({})
    unconfigured = SlackInbound(Settings(), clock, client=None)
    with Flask(__name__).test_request_context("/", method="POST", data=body) as context:
        assert not unconfigured.verify(context.request)


def test_parse_inbound_reads_a_customer_dm_and_refuses_anything_else(clock: FrozenClock) -> None:
    channel = SlackInbound(Settings(), clock, client=None)
    event = {
        "type": "message",
        "channel_type": "im",
        "channel": "D1",
        "user": CUSTOMER,
        "text": "YES",
        "ts": "1763900000.000100",
        "files": [{"url_private": "https://files.slack.com/x.png"}],
    }
    message = channel.parse_inbound({"event": event})
    assert (message.sender, message.body, message.provider_id) == (
        CUSTOMER,
        "YES",
        "D1:1763900000.000100",
    )
    assert message.media_urls == ("https://files.slack.com/x.png",)
    with pytest.raises(ValueError):
        channel.parse_inbound({"event": event | {"bot_id": "B1"}})
