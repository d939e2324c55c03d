"""The fake Twilio API speaks well enough for the real `twilio.rest.Client` and validator."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qsl

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.support.fake_twilio import SERVICE_NUMBER, FakeTwilio, signed_post

TO, FROM = "+12125550101", "+12125550100"
SERVICE = "MG" + "ab" * 16


@dataclass(frozen=True)
class Received:
    url: str
    form: dict[str, str]
    signature: str | None


class _ReceiverServer(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    received: list[Received]
    arrived: threading.Condition


class _ReceiverHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        server = cast(_ReceiverServer, self.server)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        # Rebuild the URL from Host, as an app behind no proxy would, to validate it.
        got = Received(
            url=f"http://{self.headers['Host']}{self.path}",
            form=dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True)),
            signature=self.headers.get("X-Twilio-Signature"),
        )
        with server.arrived:
            server.received.append(got)
            server.arrived.notify_all()
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Receiver:
    """Stands in for the app's webhook endpoint: records each signed form it gets."""

    def __init__(self) -> None:
        self._server = _ReceiverServer(("127.0.0.1", 0), _ReceiverHandler)
        self._server.received, self._server.arrived = [], threading.Condition()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/twilio/status"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self._server.arrived:
            self._server.arrived.wait_for(lambda: len(self._server.received) >= count, timeout)
            assert len(self._server.received) >= count, self._server.received
            return list(self._server.received)


def valid(got: Received, auth_token: str) -> bool:
    return bool(RequestValidator(auth_token).validate(got.url, got.form, got.signature))


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def make_client(fake: FakeTwilio, auth_token: str | None = None) -> Client:
    client = Client(fake.account_sid, auth_token or fake.auth_token)
    client.api.base_url = fake.url
    return client


@pytest.fixture
def client(fake: FakeTwilio) -> Iterator[Client]:
    built = make_client(fake)
    yield built
    built.http_client.session.close()


def test_create_with_from_number_is_recorded_and_parsed(client: Client, fake: FakeTwilio) -> None:
    created = client.messages.create(
        to=TO,
        from_=FROM,
        body="Your case is still open.",
        status_callback="http://127.0.0.1:1/status",
        validity_period=600,
    )

    [sent] = fake.wait_for(1)
    assert created.sid == sent.sid and sent.sid.startswith("SM") and len(sent.sid) == 34
    assert (created.to, created.from_, created.body) == (TO, FROM, "Your case is still open.")
    assert (created.status, created.direction, created.num_segments) == (
        "queued",
        "outbound-api",
        "1",
    )
    assert created.account_sid == fake.account_sid and created.error_code is None
    assert created.date_created is not None and created.messaging_service_sid is None
    assert (sent.to, sent.from_, sent.body) == (TO, FROM, "Your case is still open.")
    assert sent.status_callback == "http://127.0.0.1:1/status"
    assert sent.validity_period == 600 and sent.form["ValidityPeriod"] == "600"
    assert fake.by_sid(sent.sid) == sent and fake.attempts == 1

    fetched = client.messages(sent.sid).fetch()
    assert (fetched.sid, fetched.body, fetched.status) == (sent.sid, sent.body, "queued")


def test_create_with_messaging_service(client: Client, fake: FakeTwilio) -> None:
    created = client.messages.create(to=TO, messaging_service_sid=SERVICE, body="hi")

    [sent] = fake.messages
    assert created.sid == sent.sid and created.status == "accepted"
    assert created.messaging_service_sid == SERVICE and created.from_ is None
    assert sent.messaging_service_sid == SERVICE and sent.from_ is None
    assert sent.validity_period is None and sent.status_callback is None


def test_wrong_auth_token_is_401(fake: FakeTwilio) -> None:
    client = make_client(fake, auth_token="not-the-token")
    try:
        with pytest.raises(TwilioRestException) as raised:
            client.messages.create(to=TO, from_=FROM, body="hi")
    finally:
        client.http_client.session.close()

    assert (raised.value.status, raised.value.code) == (401, 20003)
    assert fake.messages == [] and fake.attempts == 1


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"body": "hi"}, 21603),  # neither From nor MessagingServiceSid
        ({"from_": FROM}, 21602),  # no Body
    ],
)
def test_missing_fields_are_400(
    client: Client, fake: FakeTwilio, fields: dict[str, str], code: int
) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=TO, **fields)
    assert (raised.value.status, raised.value.code) == (400, code)
    assert fake.messages == []


def test_fail_next_429_then_success(client: Client, fake: FakeTwilio) -> None:
    fake.fail_next(429)

    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=TO, from_=FROM, body="hi")
    assert (raised.value.status, raised.value.code) == (429, 20429)
    assert "Too Many Requests" in raised.value.msg
    assert fake.messages == []

    created = client.messages.create(to=TO, from_=FROM, body="hi")
    assert [m.sid for m in fake.messages] == [created.sid]
    assert fake.attempts == 2


def test_fail_next_400_with_code(client: Client, fake: FakeTwilio) -> None:
    fake.fail_next(400, 21610)

    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to=TO, from_=FROM, body="hi")
    assert (raised.value.status, raised.value.code) == (400, 21610)
    assert "unsubscribed recipient" in raised.value.msg


def test_fail_next_times_and_5xx(client: Client, fake: FakeTwilio) -> None:
    fake.fail_next(503, times=2)

    for _ in range(2):
        with pytest.raises(TwilioRestException) as raised:
            client.messages.create(to=TO, from_=FROM, body="hi")
        assert (raised.value.status, raised.value.code) == (503, 20503)
    client.messages.create(to=TO, from_=FROM, body="hi")
    assert len(fake.messages) == 1 and fake.attempts == 3


def _outcomes(fake: FakeTwilio, calls: int) -> list[int]:
    auth = (fake.account_sid, fake.auth_token)
    form = {"To": TO, "From": FROM, "Body": "hi"}
    with requests.Session() as session:
        return [
            session.post(fake.messages_url, data=form, auth=auth).status_code for _ in range(calls)
        ]


def test_fail_ratio_is_seeded_and_clearable(fake: FakeTwilio) -> None:
    fake.fail_ratio(0.5, statuses=(429, 500), seed=7)
    first = _outcomes(fake, 40)
    fake.fail_ratio(0.5, statuses=(429, 500), seed=7)
    assert _outcomes(fake, 40) == first
    assert set(first) == {201, 429, 500}
    assert len(fake.messages) == 2 * first.count(201) and fake.attempts == 80

    fake.clear_failures()
    assert _outcomes(fake, 5) == [201] * 5


def test_fetch_unknown_sid_is_404(client: Client) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.messages("SM" + "0" * 32).fetch()
    assert (raised.value.status, raised.value.code) == (404, 20404)


def test_callback_is_signed_and_shaped_like_twilio(
    client: Client, fake: FakeTwilio, receiver: Receiver
) -> None:
    created = client.messages.create(to=TO, from_=FROM, body="hi", status_callback=receiver.url)

    assert fake.callback(created.sid, "delivered") == 204
    assert fake.callback(fake.by_sid(created.sid), "undelivered", error_code=30003) == 204

    delivered, undelivered = receiver.wait_for(2)
    assert valid(delivered, fake.auth_token) and valid(undelivered, fake.auth_token)
    assert not valid(delivered, "some-other-token")
    assert delivered.form == {
        "MessageSid": created.sid,
        "SmsSid": created.sid,
        "MessageStatus": "delivered",
        "SmsStatus": "delivered",
        "AccountSid": fake.account_sid,
        "From": FROM,
        "To": TO,
        "ApiVersion": "2010-04-01",
    }
    assert undelivered.form["MessageStatus"] == "undelivered"
    assert undelivered.form["ErrorCode"] == "30003"
    # The fetched resource follows the callbacks.
    assert client.messages(created.sid).fetch().status == "undelivered"
    assert [c.status_code for c in fake.callbacks] == [204, 204]


def test_callback_for_messaging_service_to_explicit_url(
    client: Client, fake: FakeTwilio, receiver: Receiver
) -> None:
    created = client.messages.create(to=TO, messaging_service_sid=SERVICE, body="hi")

    assert fake.callback(created.sid, "sent", url=receiver.url) == 204

    [got] = receiver.wait_for(1)
    assert valid(got, fake.auth_token)
    assert got.form["MessagingServiceSid"] == SERVICE
    assert got.form["From"] == SERVICE_NUMBER and "ErrorCode" not in got.form


def test_callback_without_url_is_refused(client: Client, fake: FakeTwilio) -> None:
    created = client.messages.create(to=TO, from_=FROM, body="hi")
    with pytest.raises(ValueError, match="StatusCallback"):
        fake.callback(created.sid, "sent")


def test_signed_post_and_forged_signature(receiver: Receiver) -> None:
    inbound = {"MessageSid": "SM" + "1" * 32, "From": TO, "To": FROM, "Body": "STOP"}

    assert signed_post(receiver.url, inbound, auth_token="tok").status_code == 204
    assert signed_post(receiver.url, inbound, signature="forged").status_code == 204

    genuine, forged = receiver.wait_for(2)
    assert genuine.form == inbound and valid(genuine, "tok")
    assert forged.signature == "forged" and not valid(forged, "tok")


def test_auto_status_posts_callbacks_in_order(receiver: Receiver) -> None:
    with FakeTwilio(auto_status=("sent", "delivered")) as fake:
        client = make_client(fake)
        try:
            created = client.messages.create(
                to=TO, from_=FROM, body="hi", status_callback=receiver.url
            )
        finally:
            client.http_client.session.close()
        fake.wait_for_callbacks(2)

    got = receiver.wait_for(2)
    assert [g.form["MessageStatus"] for g in got] == ["sent", "delivered"]
    assert all(g.form["MessageSid"] == created.sid for g in got)
    assert all(valid(g, fake.auth_token) for g in got)


def test_wait_for_reports_what_it_has(fake: FakeTwilio) -> None:
    with pytest.raises(AssertionError, match="expected 1 message"):
        fake.wait_for(1, timeout=0.05)


def test_reset_and_restart(client: Client, fake: FakeTwilio) -> None:
    client.messages.create(to=TO, from_=FROM, body="hi")
    fake.fail_next(500)
    fake.reset()
    assert (fake.messages, fake.attempts) == ([], 0)
    client.messages.create(to=TO, from_=FROM, body="hi")  # the scripted failure is gone too

    fake.stop()
    fake.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = fake.url
