"""Signed SMS webhooks that Twilio would never send: a parameter given twice or one Twilio has no
name for, counts that are not small whole numbers, characters no database stores. Each gets a
4xx naming what was wrong and stores nothing; every real Twilio request still gets through.
Over real HTTP, signed with twilio's own signer."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from bot.demo.simulate import inbound_form
from bot.domain import CaseStatus, MessageStatus
from bot.store.models import Message
from tests.conftest import LiveApp, auth_header, case_of, open_case, resolved_case
from tests.support.fake_twilio import FakeTwilio

MARIA = "+12125550101"
SID = "SM" + "7" * 32


def _stored(live: LiveApp) -> int:
    """Customer messages kept (a resolved case has our confirmation request stored too)."""
    with live.core.sessions() as session:
        query = select(func.count()).select_from(Message).where(Message.direction == "in")
        return session.scalar(query) or 0


def _form(live: LiveApp, body: str = "YES", **fields: str) -> dict[str, str]:
    return inbound_form(live.core.config, MARIA, body) | fields


def _post_pairs(
    url: str, pairs: list[tuple[str, str]], signature: str, *, token: str
) -> requests.Response:
    """POST a form whose names may repeat, with a signature made elsewhere (a captured one)."""
    # The attack is only worth refusing because twilio's validator accepts it.
    assert RequestValidator(token).validate(url, MultiDict(pairs), signature)
    return requests.post(url, data=pairs, headers={"X-Twilio-Signature": signature}, timeout=10)


def _refused(response: requests.Response, field: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert field in error["message"]


# -- parameters Twilio never sends ------------------------------------------------------------


def test_a_captured_text_resent_with_its_body_split_in_two_is_refused(
    live: LiveApp, fake_twilio: FakeTwilio
) -> None:
    """The signature is the URL followed by each name and its values, sorted: "YESBodystill
    broken" signs the same as two Body parameters, "YES" and "still broken"."""
    case_id = resolved_case(live.client, auth_header())
    url = f"{live.url}/sms/inbound"
    captured = _form(live, "YESBodystill broken", MessageSid=SID, SmsMessageSid=SID, SmsSid=SID)
    signature = RequestValidator(fake_twilio.auth_token).compute_signature(url, captured)
    split = [(k, v) for k, v in captured.items() if k != "Body"]
    split += [("Body", "YES"), ("Body", "still broken")]
    response = _post_pairs(url, split, signature, token=fake_twilio.auth_token)
    _refused(response, "Body")
    assert _stored(live) == 0
    assert case_of(live.core, case_id).status == CaseStatus.RESOLVED


def test_a_parameter_given_twice_with_the_same_value_is_refused(
    live: LiveApp, fake_twilio: FakeTwilio
) -> None:
    open_case(live.client, auth_header())
    url = f"{live.url}/sms/inbound"
    form = _form(live, "STATUS")
    signature = RequestValidator(fake_twilio.auth_token).compute_signature(url, form)
    pairs = [*form.items(), ("From", form["From"])]
    _refused(_post_pairs(url, pairs, signature, token=fake_twilio.auth_token), "From")
    assert _stored(live) == 0


@pytest.mark.parametrize("name", ["BodyYES", "Injected", "MediaUrl10", "MediaUrl01", "body"])
def test_a_parameter_twilio_has_no_name_for_is_refused(
    live: LiveApp, fake_twilio: FakeTwilio, name: str
) -> None:
    form = _form(live) | {name: "x"}
    response = fake_twilio.signed_post(f"{live.url}/sms/inbound", form)
    _refused(response, name)
    assert _stored(live) == 0


def test_a_refused_name_is_cut_short_in_the_answer(live: LiveApp, fake_twilio: FakeTwilio) -> None:
    name = "X" * 5000
    response = fake_twilio.signed_post(f"{live.url}/sms/inbound", _form(live) | {name: "x"})
    assert response.status_code == 400
    assert len(response.json()["error"]["message"]) < 200
    assert _stored(live) == 0


def test_a_status_callback_with_a_repeated_status_is_refused(
    live: LiveApp, fake_twilio: FakeTwilio
) -> None:
    url = f"{live.url}/sms/status"
    form = {"MessageSid": SID, "MessageStatus": "deliveredMessageStatusfailed"}
    signature = RequestValidator(fake_twilio.auth_token).compute_signature(url, form)
    pairs = [("MessageSid", SID), ("MessageStatus", "delivered"), ("MessageStatus", "failed")]
    _refused(_post_pairs(url, pairs, signature, token=fake_twilio.auth_token), "MessageStatus")


def test_everything_twilio_documents_for_a_text_still_gets_in(
    live: LiveApp, fake_twilio: FakeTwilio
) -> None:
    """SMS, MMS with ten pictures, the geographic fields, a Messaging Service, Advanced Opt-Out
    and WhatsApp's own fields (a WhatsApp sender posts to the same webhook)."""
    open_case(live.client, auth_header())
    media = {f"MediaUrl{i}": f"https://api.twilio.com/media/ME{i}" for i in range(10)}
    media |= {f"MediaContentType{i}": "image/jpeg" for i in range(10)}
    documented = {
        "SmsStatus": "received",
        "MessagingServiceSid": "MG" + "0" * 32,
        "NumMedia": "10",
        "FromCity": "SAN FRANCISCO",
        "FromState": "CA",
        "FromZip": "94105",
        "FromCountry": "US",
        "ToCity": "NASHUA",
        "ToState": "NH",
        "ToZip": "03049",
        "ToCountry": "US",
        "OptOutType": "HELP",
        "AddOns": '{"status": "successful"}',
        "ProfileName": "Maria",
        "WaId": "12125550101",
        "Forwarded": "false",
        "FrequentlyForwarded": "false",
        "ButtonText": "Yes",
        "ButtonPayload": "confirm",
        "MessageType": "button",
        "Latitude": "37.79",
        "Longitude": "-122.39",
        "Address": "1 Market St",
        "Label": "Office",
        "ReferralBody": "Ad",
        "ReferralHeadline": "Ad",
        "ReferralSourceId": "1",
        "ReferralSourceType": "ad",
        "ReferralSourceUrl": "https://example.com/ad",
        "ReferralMediaId": "1",
        "ReferralMediaContentType": "image/jpeg",
        "ReferralMediaUrl": "https://example.com/ad.jpg",
        "ReferralNumMedia": "0",
        "ReferralCtwaClid": "abc",
        "OriginalRepliedMessageSender": "whatsapp:+15005550006",
        "OriginalRepliedMessageSid": "SM" + "1" * 32,
        "ChannelMetadata": "{}",
    }
    form = _form(live, "STATUS") | media | documented
    response = fake_twilio.signed_post(f"{live.url}/sms/inbound", form)
    assert response.status_code == 200, response.text
    with live.core.sessions() as session:
        message = session.scalars(select(Message).where(Message.direction == "in")).one()
    assert message.body == "STATUS" and message.media_count == 10
    assert message.media_urls == [media[f"MediaUrl{i}"] for i in range(10)]


def test_everything_twilio_documents_for_a_status_callback_still_gets_in(
    live: LiveApp, fake_twilio: FakeTwilio
) -> None:
    open_case(live.client, auth_header(), priority="P1")
    with live.core.sessions.begin() as session:
        sent = Message(
            channel="sms",
            direction="out",
            address=MARIA,
            body="hi",
            status="sent",
            provider_id=SID,
            at=live.core.clock.now(),
        )
        session.add(sent)
    form = {
        "MessageSid": SID,
        "SmsSid": SID,
        "MessageStatus": "delivered",
        "SmsStatus": "delivered",
        "AccountSid": fake_twilio.account_sid,
        "MessagingServiceSid": "MG" + "0" * 32,
        "From": "+15005550006",
        "To": MARIA,
        "ApiVersion": "2010-04-01",
        "RawDlrDoneDate": "2611231500",
        "ChannelToAddress": "+1212555XXXX",
        "ChannelPrefix": "sms",
        "ChannelInstallSid": "XE" + "0" * 32,
        "StructuredMessage": "false",
        "EventType": "DELIVERED",
        "Body": "hi",
        "NumMedia": "0",
        "NumSegments": "1",
    }
    response = fake_twilio.signed_post(f"{live.url}/sms/status", form)
    assert response.status_code == 200, response.text
    with live.core.sessions() as session:
        status = session.scalar(select(Message.status).where(Message.provider_id == SID))
    assert status == MessageStatus.DELIVERED


# -- counts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "count",
    ["²", "9" * 5000, "11", "-1", " 1", "1.0", "٣"],
    ids=["superscript", "5000-digits", "over-ten", "negative", "spaced", "decimal", "arabic-digit"],
)
def test_a_media_count_that_is_not_0_to_10_gets_400(
    live: LiveApp, fake_twilio: FakeTwilio, count: str
) -> None:
    response = fake_twilio.signed_post(f"{live.url}/sms/inbound", _form(live, NumMedia=count))
    _refused(response, "NumMedia")
    assert _stored(live) == 0


@pytest.mark.parametrize("ours", ["²", "9" * 5000, "٣"], ids=["superscript", "5000", "arabic"])
def test_a_status_callback_with_a_message_id_that_is_no_number_gets_400(
    live: LiveApp, fake_twilio: FakeTwilio, ours: str
) -> None:
    form = {"MessageSid": SID, "MessageStatus": "sent"}
    # Percent-encoded, as it is on the wire and in the URL Twilio signs.
    response = fake_twilio.signed_post(f"{live.url}/sms/status?m={quote(ours)}", form)
    _refused(response, "m")


def test_an_error_code_that_is_no_twilio_code_gets_400(
    live: LiveApp, fake_twilio: FakeTwilio
) -> None:
    form = {"MessageSid": SID, "MessageStatus": "failed", "ErrorCode": "3" * 40}
    _refused(fake_twilio.signed_post(f"{live.url}/sms/status", form), "ErrorCode")


# -- characters no database stores -------------------------------------------------------------


def test_a_text_with_a_nul_gets_a_4xx_and_stores_nothing(
    live: LiveApp, fake_twilio: FakeTwilio
) -> None:
    """PostgreSQL refuses NUL in text: keeping it would fail there, so it is refused here."""
    case_id = resolved_case(live.client, auth_header())
    response = fake_twilio.signed_post(f"{live.url}/sms/inbound", _form(live, "YES\x00"))
    assert 400 <= response.status_code < 500, response.text
    assert _stored(live) == 0
    assert case_of(live.core, case_id).status == CaseStatus.RESOLVED


def test_a_sender_with_a_nul_gets_a_4xx_and_stores_nothing(
    live: LiveApp, fake_twilio: FakeTwilio
) -> None:
    form = _form(live) | {"From": "ACME\x00"}  # a sender name, kept as sent
    response = fake_twilio.signed_post(f"{live.url}/sms/inbound", form)
    assert 400 <= response.status_code < 500, response.text
    assert _stored(live) == 0
