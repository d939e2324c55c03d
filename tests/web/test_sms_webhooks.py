"""The SMS webhooks refuse what Twilio did not sign, keep what it did, and answer bad input with
a clear 4xx; every request goes over real HTTP with signatures from twilio's own signer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from bot.clock import FrozenClock
from bot.demo.simulate import inbound_form
from bot.store.models import LogEntry, Message
from tests.conftest import (
    LiveApp,
    Phone,
    auth_header,
    open_case,
    resolved_case,
    serve_live,
)
from tests.support.fake_twilio import FakeTwilio, signed_post

MARIA = "+12125550101"


def _stored(live: LiveApp) -> int:
    with live.core.sessions() as session:
        return session.scalar(select(func.count()).select_from(Message)) or 0


def _form(live: LiveApp, body: str = "YES", **fields: str) -> dict[str, str]:
    return inbound_form(live.core.config, MARIA, body) | fields


# -- signatures --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    ["", "bm90IGEgc2lnbmF0dXJl", "W3ZK0YUubS1LmjPXXkSKn8+1Jh4="],
    ids=["unsigned", "garbage", "forged"],
)
def test_a_bad_signature_gets_403_and_nothing_is_stored(
    live: LiveApp, fake_twilio: FakeTwilio, signature: str
) -> None:
    open_case(live.client, auth_header())
    before = _stored(live)
    url = f"{live.url}/sms/inbound"
    response = requests.post(
        url, data=_form(live), headers={"X-Twilio-Signature": signature}, timeout=5
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert _stored(live) == before


def test_a_signature_for_another_url_or_body_is_refused(
    live: LiveApp, fake_twilio: FakeTwilio
) -> None:
    url = f"{live.url}/sms/inbound"
    form = _form(live)
    validator = RequestValidator(fake_twilio.auth_token)
    for signed_url in (
        "https://attacker.example/sms/inbound",
        f"{live.url}/sms/status",
        f"{live.url}/sms/inbound?tenant=b",
    ):
        signature = validator.compute_signature(signed_url, form)
        response = signed_post(url, form, signature=signature)
        assert response.status_code == 403, signed_url
    # Signed for YES, delivered as REOPEN: the body is covered by the signature too.
    signature = validator.compute_signature(url, form)
    response = signed_post(url, form | {"Body": "REOPEN"}, signature=signature)
    assert response.status_code == 403
    # Signed with another account's token.
    assert signed_post(url, form, auth_token="someone-elses-token").status_code == 403
    assert _stored(live) == 0


def test_signed_against_the_public_url_behind_a_tls_proxy(
    database_url: str, clock: FrozenClock, fake_twilio: FakeTwilio
) -> None:
    public = "https://support.example.com"
    with serve_live(database_url, clock, fake_twilio, public_url=public) as live:
        open_case(live.client, auth_header())
        form = _form(live, "STATUS")
        # Twilio signs the public https URL, with the query string it was configured with.
        for number, path in enumerate(("/sms/inbound", "/sms/inbound?tenant=acme")):
            copy = form | {"MessageSid": f"SM{number:032d}"}
            signature = RequestValidator(fake_twilio.auth_token).compute_signature(
                public + path, copy
            )
            response = signed_post(live.url + path, copy, signature=signature)
            assert response.status_code == 200, response.text
        # The same request signed for the address the app really listens on is refused.
        local = signed_post(live.url + "/sms/inbound", form, auth_token=fake_twilio.auth_token)
        assert local.status_code == 403


def test_without_an_auth_token_every_webhook_is_refused(
    live: LiveApp, fake_twilio: FakeTwilio
) -> None:
    live.sms_inbound.validator = None  # as when TWILIO_AUTH_TOKEN is unset
    response = signed_post(f"{live.url}/sms/inbound", _form(live), auth_token="anything")
    assert response.status_code == 403
    assert _stored(live) == 0


# -- idempotency -------------------------------------------------------------------------------


def test_fifty_concurrent_copies_store_one_message_and_act_once(
    live: LiveApp, fake_twilio: FakeTwilio
) -> None:
    case_id = resolved_case(live.client, auth_header())
    form = _form(live, "YES", MessageSid="SM" + "5" * 32)
    url = f"{live.url}/sms/inbound"
    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(
            pool.map(lambda _: signed_post(url, form, auth_token=fake_twilio.auth_token), range(50))
        )
    assert [r.status_code for r in responses] == [200] * 50
    phone = Phone(live, fake_twilio, MARIA)
    thanks, csat_ask = phone.inbox()[-2:]  # one thank-you, not fifty
    assert "Thank you for confirming" in thanks and "How did we do" in csat_ask
    assert phone.inbox() == []
    with live.core.sessions() as session:
        inbound = session.scalar(
            select(func.count()).select_from(Message).where(Message.direction == "in")
        )
        events = list(session.scalars(select(LogEntry.event).where(LogEntry.case_id == case_id)))
    assert inbound == 1
    assert events.count("confirmed") == 1 and events.count("customer_message") == 1


# -- bad and unusual input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"MessageSid": "", "SmsMessageSid": "", "SmsSid": ""}, "MessageSid"),
        ({"MessageSid": "not-a-sid", "SmsMessageSid": "", "SmsSid": ""}, "MessageSid"),
        ({"From": ""}, "From"),
        ({"From": "+1" * 40}, "From"),
        ({"NumMedia": "many"}, "NumMedia"),
    ],
)
def test_a_malformed_signed_webhook_gets_400_naming_the_field(
    live: LiveApp, fake_twilio: FakeTwilio, fields: dict[str, str], field: str
) -> None:
    form = _form(live) | fields
    response = signed_post(f"{live.url}/sms/inbound", form, auth_token=fake_twilio.auth_token)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == field
    assert _stored(live) == 0


def test_an_oversized_body_gets_413_and_nothing_is_stored(
    live: LiveApp, fake_twilio: FakeTwilio
) -> None:
    form = _form(live, "x" * 300_000)
    response = signed_post(f"{live.url}/sms/inbound", form, auth_token=fake_twilio.auth_token)
    assert response.status_code == 413
    assert _stored(live) == 0


def test_a_json_body_is_not_a_twilio_webhook(live: LiveApp) -> None:
    response = requests.post(f"{live.url}/sms/inbound", json={"Body": "YES"}, timeout=5)
    assert response.status_code == 403


def test_get_is_not_allowed(live: LiveApp) -> None:
    response = requests.get(f"{live.url}/sms/inbound", timeout=5)
    assert response.status_code == 405


def test_a_picture_with_no_text_is_kept_and_acknowledged(
    live: LiveApp, fake_twilio: FakeTwilio
) -> None:
    open_case(live.client, auth_header())
    phone = Phone(live, fake_twilio, MARIA)
    picture = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    [reply] = phone.texts("", NumMedia="1", MediaUrl0=picture, MediaContentType0="image/jpeg")
    assert "attachment" in reply
    with live.core.sessions() as session:
        message = session.scalars(select(Message).where(Message.direction == "in")).one()
    assert message.body == "" and message.media_count == 1 and message.media_urls == [picture]


@pytest.mark.parametrize(
    "text",
    [
        "Всё ещё не работает, интернет пропал снова",
        "还是不行，网络又断了",
        "لا يزال لا يعمل",
        "यह अभी भी काम नहीं कर रहा है 😡",
        "word " * 320,  # 1600 characters: the longest text Twilio delivers
    ],
    ids=["russian", "chinese", "arabic", "hindi-emoji", "1600-chars"],
)
def test_long_and_non_latin_text_is_kept_word_for_word(
    live: LiveApp, fake_twilio: FakeTwilio, text: str
) -> None:
    case_id = resolved_case(live.client, auth_header())
    replies = Phone(live, fake_twilio, MARIA).texts(text)
    assert replies and "YES" in replies[0]  # asked to answer plainly, case untouched
    with live.core.sessions() as session:
        message = session.scalars(select(Message).where(Message.direction == "in")).one()
        assert message.body == text and message.case_id == case_id


def test_an_unknown_sender_is_kept_and_pointed_to_help(
    live: LiveApp, fake_twilio: FakeTwilio
) -> None:
    stranger = Phone(live, fake_twilio, "+12125550199")
    [reply] = stranger.texts("is my order shipped yet")
    assert "could not find an open case" in reply
    assert stranger.texts("anyone there?") == []  # one pointer a day, never a bot loop
    with live.core.sessions() as session:
        bodies = list(session.scalars(select(Message.body).where(Message.direction == "in")))
    assert bodies == ["is my order shipped yet", "anyone there?"]
