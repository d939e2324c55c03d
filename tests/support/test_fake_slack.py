"""The fake Slack API speaks well enough for the real `slack_sdk` WebClient and WebhookClient."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from tests.support.fake_slack import RESPONSE_URL, FakeSlack

USER = "U0123ABCD"
BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Case 42* is still open."}},
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "Next update by 14:00"}]},
]
TS = re.compile(r"\d{10}\.\d{6}")


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as running:
        yield running


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=fake.token, base_url=fake.url)


def error_of(raised: pytest.ExceptionInfo[SlackApiError]) -> Any:
    return raised.value.response["error"]


def test_auth_test_answers_for_the_bot(client: WebClient, fake: FakeSlack) -> None:
    answer = client.auth_test()

    assert answer.data == {
        "ok": True,
        "url": "https://acme.slack.com/",
        "team": "Acme",
        "user": "keepposted",
        "team_id": "T0000001",
        "user_id": "UBOT0001",
        "bot_id": "B0000001",
        "is_enterprise_install": False,
    }
    [call] = fake.calls
    assert call.method == "auth.test" and call.params == {} and call.ok
    assert call.headers["authorization"] == "Bearer xoxb-fake-token"


def test_open_dm_then_post_blocks_as_json(client: WebClient, fake: FakeSlack) -> None:
    opened = client.conversations_open(users=USER)
    again = client.conversations_open(users=USER)
    dm = opened["channel"]["id"]
    assert dm == "D0123ABCD" and again["channel"]["id"] == dm and again["already_open"]

    first = client.chat_postMessage(channel=dm, text="Case 42 is still open.", blocks=BLOCKS)
    reply = client.chat_postMessage(channel=dm, text="Thanks!", thread_ts=first["ts"])

    assert first["channel"] == dm and TS.fullmatch(first["ts"])
    assert float(reply["ts"]) > float(first["ts"])
    assert first["message"]["blocks"] == BLOCKS and first["message"]["user"] == "UBOT0001"
    posted = fake.wait_for(2, method="chat.postMessage")
    assert posted[0].headers["content-type"].startswith("application/json")
    assert posted[0].params == {"channel": dm, "text": "Case 42 is still open.", "blocks": BLOCKS}
    assert fake.calls_to("conversations.open")[0].params == {"users": USER}
    assert fake.messages(dm) == [
        {
            "channel": dm,
            "ts": first["ts"],
            "text": "Case 42 is still open.",
            "blocks": BLOCKS,
            "thread_ts": None,
        },
        {
            "channel": dm,
            "ts": reply["ts"],
            "text": "Thanks!",
            "blocks": None,
            "thread_ts": first["ts"],
        },
    ]
    assert fake.messages("C999") == []


def test_posting_to_a_user_id_lands_in_their_dm(client: WebClient, fake: FakeSlack) -> None:
    posted = client.chat_postMessage(channel=USER, text="hi")

    assert posted["channel"] == "D0123ABCD"
    assert [m["channel"] for m in fake.messages()] == ["D0123ABCD"]


def test_form_fields_holding_json_are_decoded(client: WebClient, fake: FakeSlack) -> None:
    client.api_call(
        "chat.postMessage",
        params={"channel": "C0001", "text": "form", "blocks": json.dumps(BLOCKS)},
    )

    [call] = fake.calls
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert call.params == {"channel": "C0001", "text": "form", "blocks": BLOCKS}
    assert fake.messages("C0001")[0]["blocks"] == BLOCKS


def test_multipart_uploads_are_recorded(client: WebClient, fake: FakeSlack) -> None:
    # slack_sdk only sends multipart when there are files; the fake serves no upload method.
    with pytest.raises(SlackApiError) as refused:
        client.api_call("files.upload", files={"file": b"log\x00"}, data={"title": "Case 42"})

    assert error_of(refused) == "unknown_method"
    [call] = fake.calls
    assert call.headers["content-type"].startswith("multipart/form-data")
    assert call.params == {"title": "Case 42", "file": b"log\x00"}


def test_chat_update_changes_the_stored_message(client: WebClient, fake: FakeSlack) -> None:
    posted = client.chat_postMessage(channel="C0001", text="Open", blocks=BLOCKS)

    updated = client.chat_update(channel="C0001", ts=posted["ts"], text="Closed")

    assert (updated["channel"], updated["ts"], updated["text"]) == ("C0001", posted["ts"], "Closed")
    [message] = fake.messages("C0001")
    assert message["text"] == "Closed" and message["blocks"] == BLOCKS  # blocks kept
    client.chat_update(channel="C0001", ts=posted["ts"], text="Closed", blocks=[])
    assert fake.messages("C0001")[0]["blocks"] == []
    with pytest.raises(SlackApiError) as missing:
        client.chat_update(channel="C0001", ts="1.000000", text="nope")
    assert error_of(missing) == "message_not_found"


def test_post_ephemeral(client: WebClient, fake: FakeSlack) -> None:
    answer = client.chat_postEphemeral(channel="C0001", user=USER, text="Only you see this")

    assert answer["ok"] and TS.fullmatch(answer["message_ts"])
    [call] = fake.calls_to("chat.postEphemeral")
    assert call.params == {"channel": "C0001", "user": USER, "text": "Only you see this"}
    assert fake.messages() == []  # ephemeral messages are not channel history


def test_views_open_and_update(client: WebClient, fake: FakeSlack) -> None:
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Case 42"}, "blocks": []}

    opened = client.views_open(trigger_id="12345.98765.abcd", view=modal)

    view = opened["view"]
    assert view["id"].startswith("V") and view["title"] == modal["title"]
    assert view["type"] == "modal" and view["team_id"] == "T0000001"
    assert fake.calls_to("views.open")[0].params["view"] == modal
    changed = {**modal, "blocks": BLOCKS}
    updated = client.views_update(view_id=view["id"], view=changed, hash=view["hash"])
    assert updated["view"]["id"] == view["id"] and updated["view"]["blocks"] == BLOCKS
    assert fake.views()[0]["blocks"] == BLOCKS
    with pytest.raises(SlackApiError) as stale:
        client.views_update(view_id=view["id"], view=modal, hash=view["hash"])
    assert error_of(stale) == "hash_conflict"


def test_users_info_has_a_timezone(client: WebClient, fake: FakeSlack) -> None:
    fake.set_user("U0PARIS", real_name="Amélie", tz="Europe/Paris")

    user = client.users_info(user=USER)["user"]
    paris = client.users_info(user="U0PARIS")["user"]

    assert user["id"] == USER and user["tz"] == "America/New_York" and user["real_name"]
    assert (paris["real_name"], paris["tz"]) == ("Amélie", "Europe/Paris")
    # users_info says http_verb="GET", yet slack_sdk POSTs the params as a form.
    assert fake.calls[0].headers["content-type"] == "application/x-www-form-urlencoded"


def test_wrong_or_missing_token_is_refused_and_recorded(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as wrong:
        WebClient(token="xoxb-wrong", base_url=fake.url).chat_postMessage(channel="C1", text="x")
    with pytest.raises(SlackApiError) as missing:
        WebClient(base_url=fake.url).auth_test()

    assert wrong.value.response.status_code == 200 and error_of(wrong) == "invalid_auth"
    assert error_of(missing) == "not_authed"
    assert [(c.method, c.answered_error) for c in fake.calls] == [
        ("chat.postMessage", "invalid_auth"),
        ("auth.test", "not_authed"),
    ]
    assert fake.messages() == []


def test_refusals_slack_would_give(client: WebClient) -> None:
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("chat.postMessage", {"text": "no channel"}, "channel_not_found"),
        ("chat.postMessage", {"channel": "C0001"}, "no_text"),
        ("conversations.open", {}, "users_list_not_supplied"),
        ("users.info", {"user": "nobody"}, "user_not_found"),
        ("pins.add", {"channel": "C0001"}, "unknown_method"),
    ]
    for method, arguments, expected in cases:
        with pytest.raises(SlackApiError) as refused:
            client.api_call(method, json=arguments)
        assert error_of(refused) == expected, method


@pytest.mark.slow
def test_429_is_retried_after_retry_after(fake: FakeSlack) -> None:
    client = WebClient(
        token=fake.token,
        base_url=fake.url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    fake.fail_next("chat.postMessage", status=429, retry_after=1)

    started = time.monotonic()
    answer = client.chat_postMessage(channel="C0001", text="hi")
    waited = time.monotonic() - started

    assert answer["ok"] and waited >= 0.9
    refused, accepted = fake.wait_for(2, method="chat.postMessage")
    assert (refused.answered_status, refused.answered_error) == (429, "ratelimited")
    assert accepted.ok and accepted.at - refused.at >= 0.9
    assert len(fake.messages()) == 1


def test_429_without_a_retry_handler_surfaces(client: WebClient, fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=7)

    with pytest.raises(SlackApiError) as limited:
        client.chat_postMessage(channel="C0001", text="hi")

    response = limited.value.response
    assert response.status_code == 429 and response["error"] == "ratelimited"
    assert response.headers["Retry-After"] == "7"
    assert client.chat_postMessage(channel="C0001", text="hi again")["ok"]  # once only


def test_scripted_errors_apply_times_then_stop(client: WebClient, fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", error="channel_not_found", times=2)

    for _ in range(2):
        with pytest.raises(SlackApiError) as refused:
            client.chat_postMessage(channel="C0001", text="hi")
        assert refused.value.response.status_code == 200
        assert error_of(refused) == "channel_not_found"
    assert client.chat_postMessage(channel="C0001", text="hi")["ok"]
    assert [c.answered_error for c in fake.calls] == ["channel_not_found"] * 2 + [None]
    assert client.auth_test()["ok"]  # other methods were never affected


def test_server_errors_have_a_short_non_json_body(client: WebClient, fake: FakeSlack) -> None:
    fake.fail_next("chat.update", status=503)

    with pytest.raises(SlackApiError) as unavailable:
        client.chat_update(channel="C0001", ts="1.000000", text="x")

    assert unavailable.value.response.status_code == 503
    assert "non-JSON" in error_of(unavailable)
    assert fake.calls[0].answered_status == 503


def test_fail_ratio_is_seeded() -> None:
    def pattern(seed: int) -> list[int]:
        with FakeSlack() as other:
            other.fail_ratio(0.5, seed=seed)
            client = WebClient(token=other.token, base_url=other.url)
            for _ in range(20):
                with contextlib.suppress(SlackApiError):  # the statuses are what we compare
                    client.chat_postMessage(channel="C0001", text="load")
            return [call.answered_status for call in other.calls]

    first = pattern(seed=7)
    assert first == pattern(seed=7) and set(first) == {200, 429}


def test_response_url_takes_webhook_posts(fake: FakeSlack) -> None:
    webhook = WebhookClient(fake.response_url("case-42"))

    sent = webhook.send(text="Case closed", replace_original=True, blocks=BLOCKS)

    assert (sent.status_code, sent.body) == (200, "ok")
    [call] = fake.calls_to(RESPONSE_URL)
    assert call.params == {
        "text": "Case closed",
        "replace_original": True,
        "blocks": BLOCKS,
        "name": "case-42",
    }
    fake.fail_next(RESPONSE_URL, status=404, error="expired_url")
    expired = webhook.send(text="too late")
    assert (expired.status_code, expired.body) == (404, "expired_url")


def test_wait_for_times_out_with_what_it_saw(client: WebClient, fake: FakeSlack) -> None:
    client.auth_test()

    with pytest.raises(AssertionError, match=r"1 call\(s\) to chat.postMessage.*auth.test"):
        fake.wait_for(1, method="chat.postMessage", timeout=0.05)
    assert [c.method for c in fake.wait_for(1)] == ["auth.test"]


def test_concurrent_posts_get_unique_timestamps(fake: FakeSlack) -> None:
    def post(channel: str) -> None:
        client = WebClient(token=fake.token, base_url=fake.url)
        for n in range(10):
            client.chat_postMessage(channel=channel, text=f"message {n}")

    threads = [threading.Thread(target=post, args=(f"C{n:04d}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    stamps = [message["ts"] for message in fake.messages()]
    assert len(stamps) == 80 and len(set(stamps)) == 80
    assert stamps == sorted(stamps, key=float)


def test_clear_forgets_calls_and_reset_forgets_state(client: WebClient, fake: FakeSlack) -> None:
    client.chat_postMessage(channel="C0001", text="hi")
    fake.fail_next("auth.test", error="account_inactive")

    fake.clear()
    assert fake.calls == [] and len(fake.messages()) == 1
    with pytest.raises(SlackApiError):
        client.auth_test()
    fake.reset()
    assert fake.calls == [] and fake.messages() == []
    assert client.auth_test()["ok"]


def test_url_needs_a_running_server() -> None:
    fake = FakeSlack()
    with pytest.raises(RuntimeError):
        _ = fake.url
    with fake:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/", fake.url)
        assert fake.response_url().endswith("/response/r1")
    fake.stop()  # stopping twice is harmless
