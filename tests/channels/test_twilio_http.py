"""PooledTwilioHttp, the HTTP layer under the app's twilio Client: the real Client drives it
against the fake Twilio, a recording proxy, a TLS server and servers that fail on purpose, and
each transport failure says whether the text may have reached Twilio."""

from __future__ import annotations

import base64
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import cast
from urllib.parse import parse_qs, urlsplit

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from bot.errors import ChannelError
from channels.twilio_http import PooledTwilioHttp
from tests.support.fake_twilio import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, FakeTwilio
from tests.support.loopback_server import LoopbackServer

TO, FROM = "+12125550101", "+12125550100"
CALLBACK = "http://127.0.0.1:1/sms/status?m=7"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def no_proxy_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sets the proxy variables it is about, and no others."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def twilio_client(
    base_url: str, http: PooledTwilioHttp, auth_token: str = DEFAULT_AUTH_TOKEN
) -> Client:
    client = Client(DEFAULT_ACCOUNT_SID, auth_token, http_client=http)
    client.api.base_url = base_url
    return client


@pytest.fixture
def http() -> Iterator[PooledTwilioHttp]:
    pooled = PooledTwilioHttp(timeout=5, connections=4)
    yield pooled
    pooled.close()


# -- against the fake Twilio ---------------------------------------------------------------


def test_a_message_is_created_with_its_form_and_basic_auth(
    fake_twilio: FakeTwilio, http: PooledTwilioHttp
) -> None:
    client = twilio_client(fake_twilio.url, http)
    created = client.messages.create(
        to=TO, from_=FROM, body="Still on it: ünïcode too", status_callback=CALLBACK
    )
    [sent] = fake_twilio.wait_for(1)  # the fake answers 401 unless Basic auth checks out
    assert created.sid == sent.sid and created.status == "queued"
    assert sent.form == {
        "To": TO,
        "From": FROM,
        "Body": "Still on it: ünïcode too",
        "StatusCallback": CALLBACK,
    }
    fetched = client.messages(sent.sid).fetch()  # a GET
    assert (fetched.sid, fetched.body) == (sent.sid, sent.body)


def test_messages_share_one_kept_alive_connection(
    fake_twilio: FakeTwilio, http: PooledTwilioHttp
) -> None:
    client = twilio_client(fake_twilio.url, http)
    for _ in range(5):
        client.messages.create(to=TO, from_=FROM, body="hi")
    assert fake_twilio.attempts == 5 and fake_twilio.connections == 1


def test_a_twilio_error_is_a_rest_exception_as_with_the_stock_client(
    fake_twilio: FakeTwilio, http: PooledTwilioHttp
) -> None:
    client = twilio_client(fake_twilio.url, http)
    fake_twilio.fail_next(400, code=21610)
    with pytest.raises(TwilioRestException) as refused:
        client.messages.create(to=TO, from_=FROM, body="hi")
    assert (refused.value.status, refused.value.code) == (400, 21610)

    wrong = twilio_client(fake_twilio.url, http, auth_token="not-the-token")
    with pytest.raises(TwilioRestException) as unauthorized:
        wrong.messages.create(to=TO, from_=FROM, body="hi")
    assert (unauthorized.value.status, unauthorized.value.code) == (401, 20003)


# -- transport failures ----------------------------------------------------------------------


def test_a_refused_connection_is_retryable_and_was_not_sent(http: PooledTwilioHttp) -> None:
    with socket.socket() as reserved:  # bound but not listening: connecting is refused
        reserved.bind(("127.0.0.1", 0))
        client = twilio_client(f"http://127.0.0.1:{reserved.getsockname()[1]}", http)
        with pytest.raises(ChannelError) as failed:
            client.messages.create(to=TO, from_=FROM, body="hi")
    assert failed.value.retryable and not failed.value.maybe_sent
    assert failed.value.message.startswith("could not reach Twilio: ")
    assert DEFAULT_AUTH_TOKEN not in failed.value.message


def test_no_answer_within_the_timeout_may_have_sent() -> None:
    http = PooledTwilioHttp(timeout=0.3)
    # Listening but never accepting: the kernel completes the handshake and takes the request.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        client = twilio_client(f"http://127.0.0.1:{silent.getsockname()[1]}", http)
        with pytest.raises(ChannelError) as failed:
            client.messages.create(to=TO, from_=FROM, body="hi")
    http.close()
    assert failed.value.retryable and failed.value.maybe_sent
    assert failed.value.message.startswith("lost the connection to Twilio: ")
    assert "timed out" in failed.value.message


def test_a_connection_closed_after_the_request_may_have_sent(http: PooledTwilioHttp) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        read: list[bytes] = []
        hang_up = threading.Thread(target=lambda: read.append(_read_then_close(server)))
        hang_up.start()
        client = twilio_client(f"http://127.0.0.1:{server.getsockname()[1]}", http)
        with pytest.raises(ChannelError) as failed:
            client.messages.create(to=TO, from_=FROM, body="hi")
        hang_up.join()
    assert read[0].startswith(b"POST /2010-04-01/Accounts/") and b"Body=hi" in read[0]
    assert failed.value.retryable and failed.value.maybe_sent


def _read_then_close(server: socket.socket) -> bytes:
    """Take one request whole, then hang up without answering."""
    server.settimeout(5)  # a test that never connects fails rather than hangs
    connection, _ = server.accept()
    with connection:
        connection.settimeout(5)
        request = b""
        while b"\r\n\r\n" not in request:
            request += connection.recv(65536)
        head, _, body = request.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += connection.recv(65536)
        return head + b"\r\n\r\n" + body


# -- proxies ---------------------------------------------------------------------------------


@dataclass
class Forwarded:
    request_line: str
    headers: dict[str, str]  # by lowercase name
    body: bytes


@dataclass
class RecordingProxy:
    """A forwarding HTTP proxy: records each request, passes it on, relays the answer."""

    forwarded: list[Forwarded] = field(default_factory=list)
    url: str = ""


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        proxy = cast(LoopbackServer[RecordingProxy], self.server).fake
        headers = {name.lower(): value for name, value in self.headers.items()}
        proxy.forwarded.append(Forwarded(self.requestline, headers, body))
        target = urlsplit(self.path)
        upstream = HTTPConnection(target.netloc, timeout=5)
        passed = {k: v for k, v in self.headers.items() if not k.lower().startswith("proxy-")}
        path = f"{target.path}?{target.query}" if target.query else target.path
        upstream.request(self.command, path, body, passed)
        answer = upstream.getresponse()
        data = answer.read()
        upstream.close()
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.getheader("Content-Type") or "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def proxy() -> Iterator[RecordingProxy]:
    recording = RecordingProxy()
    server = LoopbackServer(recording, _ProxyHandler)
    thread = server.serve_in_thread("recording-proxy")
    recording.url = f"http://127.0.0.1:{server.server_port}"
    yield recording
    server.shutdown()
    thread.join()
    server.server_close()


def test_the_proxy_from_the_environment_carries_the_request(
    fake_twilio: FakeTwilio, proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://kp:s%40cret@"))
    http = PooledTwilioHttp(timeout=5)
    monkeypatch.delenv("HTTP_PROXY")  # read once, when the client is built
    client = twilio_client(fake_twilio.url, http)
    media = ["https://example.com/a.png", "https://example.com/b.png"]
    client.messages.create(to=TO, from_=FROM, body="hi", media_url=media)
    http.close()

    [through] = proxy.forwarded
    assert through.request_line.startswith(f"POST {fake_twilio.messages_url} ")
    assert through.headers["proxy-authorization"] == "Basic " + _b64("kp:s@cret")
    account = f"{fake_twilio.account_sid}:{fake_twilio.auth_token}"
    assert through.headers["authorization"] == "Basic " + _b64(account)
    assert parse_qs(through.body.decode())["MediaUrl"] == media  # a list repeats its name
    assert fake_twilio.wait_for(1)[0].body == "hi"


def test_a_fetch_carries_its_query(
    fake_twilio: FakeTwilio, proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    http = PooledTwilioHttp(timeout=5)
    client = twilio_client(fake_twilio.url, http)
    sid = client.messages.create(to=TO, from_=FROM, body="hi").sid
    fetch = f"{fake_twilio.url}/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages/{sid}.json"
    answer = http.request("GET", fetch, params={"PageSize": 2, "To": [TO, FROM]}, auth=client.auth)
    http.close()
    assert answer.status_code == 200 and sid in answer.text
    query = "PageSize=2&To=%2B12125550101&To=%2B12125550100"
    assert proxy.forwarded[1].request_line == f"GET {fetch}?{query} HTTP/1.1"


def test_no_proxy_sends_straight_to_the_host(
    fake_twilio: FakeTwilio, proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.0/8")
    http = PooledTwilioHttp(timeout=5)
    twilio_client(fake_twilio.url, http).messages.create(to=TO, from_=FROM, body="hi")
    http.close()
    assert proxy.forwarded == [] and len(fake_twilio.messages) == 1


def test_a_proxy_that_refuses_means_not_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{reserved.getsockname()[1]}")
        http = PooledTwilioHttp(timeout=5)
        with pytest.raises(ChannelError) as failed:
            twilio_client("http://twilio.invalid", http).messages.create(
                to=TO, from_=FROM, body="hi"
            )
    assert failed.value.retryable and not failed.value.maybe_sent


def test_a_proxy_that_hangs_up_after_the_request_may_have_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """urllib3 calls this a ProxyError too, as if the proxy had never been reached."""
    with socket.create_server(("127.0.0.1", 0)) as hanging_up:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{hanging_up.getsockname()[1]}")
        read: list[bytes] = []
        hang_up = threading.Thread(target=lambda: read.append(_read_then_close(hanging_up)))
        hang_up.start()
        http = PooledTwilioHttp(timeout=5)
        with pytest.raises(ChannelError) as failed:
            twilio_client("http://twilio.invalid", http).messages.create(
                to=TO, from_=FROM, body="hi"
            )
        hang_up.join()
    assert read[0].startswith(b"POST http://twilio.invalid/2010-04-01/")
    assert failed.value.retryable and failed.value.maybe_sent


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# -- TLS -------------------------------------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate: (its URL, the cert)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    serving = threading.Thread(target=_answer_over_tls, args=(listener, context), daemon=True)
    serving.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}", cert
    listener.shutdown(socket.SHUT_RDWR)  # wakes the accept(); close() alone would not
    listener.close()
    serving.join(timeout=5)


def _answer_over_tls(listener: socket.socket, context: ssl.SSLContext) -> None:
    """Answer each connection's first request with an empty JSON object, until closed."""
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        try:
            connection.settimeout(5)
            with context.wrap_socket(connection, server_side=True) as tls:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += tls.recv(65536) or b"\r\n\r\n"  # or the client left
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        except (ssl.SSLError, OSError):
            pass  # the client refused our certificate


def test_the_ca_bundle_from_the_environment_is_trusted(
    tls_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, cert = tls_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    http = PooledTwilioHttp(timeout=5)
    assert http.request("GET", url).text == "{}"
    http.close()


def test_a_certificate_no_one_vouches_for_is_refused(
    tls_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = tls_server
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    http = PooledTwilioHttp(timeout=5)  # certifi's bundle
    with pytest.raises(ChannelError) as failed:
        http.request("GET", url)
    http.close()
    assert "CERTIFICATE_VERIFY_FAILED" in failed.value.message
    assert failed.value.retryable and failed.value.maybe_sent  # past the connect: play safe
