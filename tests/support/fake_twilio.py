"""A fake Twilio REST API on 127.0.0.1, for tests that drive the real `twilio.rest.Client`.

Why a server and not a mock: the app talks to Twilio through the official client, so the
only honest seam is HTTP. Point a client at the fake with `client.api.base_url = fake.url`
and everything the client does (form encoding, Basic auth, parsing the JSON resource,
turning error JSON into `TwilioRestException`) runs for real.

It covers what the app uses: creating and fetching messages, Twilio-shaped errors
(scripted or random, for retry and load tests) and signed status callbacks back to the app.

    with FakeTwilio() as fake:
        client = Client(fake.account_sid, fake.auth_token)
        client.api.base_url = fake.url
        client.messages.create(to="+12125550101", from_="+12125550100", body="hi")
        [sent] = fake.wait_for(1)
        client.http_client.session.close()
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import queue
import random
import re
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import parse_qsl, urlsplit

import requests
from twilio.request_validator import RequestValidator

from channels.segments import count_segments
from tests.support.loopback_server import LoopbackServer

DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
DEFAULT_AUTH_TOKEN = "fake-auth-token"
# Twilio's magic "valid" test number; stands in for the number a messaging service picks.
SERVICE_NUMBER = "+15005550006"
API_VERSION = "2010-04-01"

_ACCOUNT = r"/2010-04-01/Accounts/(?P<account>[^/]+)"
_CREATE_PATH = re.compile(_ACCOUNT + r"/Messages\.json")
_FETCH_PATH = re.compile(_ACCOUNT + r"/Messages/(?P<sid>[^/]+)\.json")

# Default (code, message) per HTTP status, for scripted failures given without a code.
_STATUS_ERRORS: dict[int, tuple[int, str]] = {
    400: (21211, "Invalid 'To' Phone Number"),
    401: (20003, "Authenticate"),
    404: (20404, "The requested resource was not found"),
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}
# Messages for codes a test may pass to fail_next() without spelling the message out.
_CODE_MESSAGES: dict[int, str] = {
    21211: "Invalid 'To' Phone Number",
    21408: "Permission to send an SMS has not been enabled for the region",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number is not currently reachable via SMS",
    21614: "'To' number is not a valid mobile number",
}


def error_body(status: int, code: int, message: str) -> dict[str, Any]:
    """Twilio's legacy error JSON, which the client turns into a `TwilioRestException`."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def signed_post(
    url: str,
    params: Mapping[str, str],
    auth_token: str | None = None,
    signature: str | None = None,
) -> requests.Response:
    """POST a form to `url` the way Twilio calls webhooks: signed with X-Twilio-Signature.

    The signature is computed from `auth_token` (default: the fake's default token);
    pass `signature` to send a given header verbatim, e.g. to prove forgeries are refused.
    """
    if signature is None:
        validator = RequestValidator(auth_token or DEFAULT_AUTH_TOKEN)
        signature = validator.compute_signature(url, dict(params))
    return requests.post(
        url,
        data=dict(params),
        headers={"X-Twilio-Signature": signature},
        timeout=10,
        allow_redirects=False,
    )


@dataclass(frozen=True)
class SentMessage:
    """One message the fake accepted; `status`/`error_code` follow the callbacks posted."""

    sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    status_callback: str | None
    validity_period: int | None
    form: dict[str, str]
    at: datetime
    status: str = "queued"
    error_code: int | None = None


@dataclass(frozen=True)
class PostedCallback:
    """A status callback the fake posted: the app's answer, or why there was none."""

    sid: str
    status: str
    url: str
    status_code: int | None
    error: str | None = None


@dataclass(frozen=True)
class _Failure:
    status: int
    code: int
    message: str


@dataclass
class _Failures:
    """Scripted failures: a queue served first, then a random share (seeded for replay)."""

    queued: deque[_Failure] = field(default_factory=deque)
    ratio: float = 0.0
    statuses: tuple[int, ...] = ()
    rng: random.Random = field(default_factory=random.Random)

    def next(self) -> _Failure | None:
        if self.queued:
            return self.queued.popleft()
        if self.ratio and self.rng.random() < self.ratio:
            return _failure(self.rng.choice(self.statuses))
        return None


def _failure(status: int, code: int | None = None, message: str = "") -> _Failure:
    default_code, default_message = _STATUS_ERRORS.get(
        status, (20500, "Internal Server Error") if status >= 500 else (status, "Error")
    )
    if code is None:
        code = default_code
    else:
        default_message = _CODE_MESSAGES.get(code, default_message)
    return _Failure(status, code, message or default_message)


class _ApiError(Exception):
    """Raised inside a request to answer with Twilio's error JSON."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to the FakeTwilio over HTTP/1.1 keep-alive, as Twilio's API does: the
    real client's pooled session sends many messages over one connection, and every answer
    carries its Content-Length so the next request can follow on the same socket."""

    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes; with Nagle's algorithm the body would
    # wait for the client's delayed ACK of the headers, some 40 ms per answer.
    disable_nagle_algorithm = True
    # A connection idle this long is closed; stop() closes idle ones at once (see below).
    timeout = 60
    server_version = "FakeTwilio/1.0"

    def setup(self) -> None:
        super().setup()
        self._fake.opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self._fake.closed(self.connection)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except ConnectionError:  # the client went away, e.g. a worker killed mid-request
            self.close_connection = True
        if self._fake.stopping:  # answer what is in flight, then let the connection go
            self.close_connection = True

    def do_POST(self) -> None:
        form = self._read_form()
        self._answer(self._fake.handle("POST", self.path, self._authorization, form))

    def do_GET(self) -> None:
        self._answer(self._fake.handle("GET", self.path, self._authorization, {}))

    def end_headers(self) -> None:
        if self._fake.latency:  # the round trip of the real API (each connection has a thread)
            time.sleep(self._fake.latency)
        super().end_headers()

    @property
    def _authorization(self) -> str:
        return str(self.headers.get("Authorization", ""))

    @property
    def _fake(self) -> FakeTwilio:
        return cast(LoopbackServer[FakeTwilio], self.server).fake

    def _read_form(self) -> dict[str, str]:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))

    def _answer(self, reply: tuple[int, dict[str, Any]]) -> None:
        status, payload = reply
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest output is for failures, not access logs."""


class FakeTwilio:
    """The fake API: records messages, scripts failures and posts signed status callbacks.

    `auto_status`, e.g. ("sent", "delivered"), makes a background thread post those
    callbacks in order after each accepted message, `auto_status_delay` seconds later
    (so the app can store the sid first). `latency`: seconds each answer takes, as the real
    API's some 100-300 ms (0, the default: at once). Thread-safe; start()/stop() or `with`.
    """

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        *,
        auto_status: Sequence[str] | None = None,
        auto_status_delay: float = 0.05,
        latency: float = 0.0,
    ) -> None:
        self.account_sid = account_sid
        self.latency = latency
        self.auth_token = auth_token
        self.auto_status = tuple(auto_status or ())
        self.auto_status_delay = auto_status_delay
        self._changed = threading.Condition()
        self._messages: dict[str, SentMessage] = {}
        self._callbacks: list[PostedCallback] = []
        self._attempts = 0
        self._failures = _Failures()
        self._server: LoopbackServer[FakeTwilio] | None = None
        self._threads: list[threading.Thread] = []
        self._jobs: queue.Queue[tuple[float, str] | None] = queue.Queue()
        self._stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._connections = 0

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("FakeTwilio is already running")
        self._stopping.clear()
        self._server = LoopbackServer(self, _Handler)
        self._threads.append(self._server.serve_in_thread("fake-twilio-http"))
        if self.auto_status:
            self._spawn(self._post_auto_status, "fake-twilio-callbacks")
        return self

    def stop(self) -> None:
        """Stop serving and join every thread; callbacks still pending are dropped."""
        if self._server is None:
            return
        self._stopping.set()
        self._jobs.put(None)
        self._server.shutdown()
        with self._changed:
            idle = list(self._open)
        for connection in idle:
            # Ends the read of a connection waiting for its next request (it sees EOF); one
            # mid-request still writes its answer, then closes as `stopping` says.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RD)
        for thread in self._threads:
            thread.join()
        self._server.server_close()
        self._server, self._threads = None, []
        self._jobs = queue.Queue()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def opened(self, connection: socket.socket) -> None:
        """A client connected (the handler calls this once per TCP connection)."""
        with self._changed:
            self._open.add(connection)
            self._connections += 1

    def closed(self, connection: socket.socket) -> None:
        with self._changed:
            self._open.discard(connection)

    @property
    def connections(self) -> int:
        """TCP connections accepted so far: far fewer than `attempts` when clients keep
        their connections alive."""
        with self._changed:
            return self._connections

    @property
    def url(self) -> str:
        """Base URL to put in `client.api.base_url`, e.g. http://127.0.0.1:PORT."""
        if self._server is None:
            raise RuntimeError("FakeTwilio is not running; call start() or use `with`")
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def messages_url(self) -> str:
        """The Messages.json URL the client POSTs to."""
        return f"{self.url}/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"

    # --- what was sent -----------------------------------------------------------------

    @property
    def messages(self) -> list[SentMessage]:
        """Accepted messages, oldest first (a snapshot)."""
        with self._changed:
            return list(self._messages.values())

    @property
    def attempts(self) -> int:
        """Every create call, including refused and scripted-to-fail ones."""
        with self._changed:
            return self._attempts

    @property
    def callbacks(self) -> list[PostedCallback]:
        """Status callbacks posted so far, oldest first (a snapshot)."""
        with self._changed:
            return list(self._callbacks)

    def by_sid(self, sid: str) -> SentMessage:
        with self._changed:
            if sid not in self._messages:
                raise KeyError(f"no message {sid}; have {list(self._messages)}")
            return self._messages[sid]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[SentMessage]:
        """Block until at least `count` messages were accepted; returns them all."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._messages) >= count, timeout):
                raise AssertionError(
                    f"expected {count} message(s) within {timeout}s, "
                    f"got {len(self._messages)}: {list(self._messages.values())!r}"
                )
            return list(self._messages.values())

    def wait_for_callbacks(self, count: int, timeout: float = 5.0) -> list[PostedCallback]:
        """Block until at least `count` status callbacks were posted (auto or not)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._callbacks) >= count, timeout):
                raise AssertionError(
                    f"expected {count} callback(s) within {timeout}s, got {self._callbacks!r}"
                )
            return list(self._callbacks)

    def reset(self) -> None:
        """Forget messages, attempts, callbacks and scripted failures."""
        with self._changed:
            self._messages.clear()
            self._callbacks.clear()
            self._attempts = 0
            self._failures = _Failures()

    # --- scripted failures -------------------------------------------------------------

    def fail_next(
        self, status: int, code: int | None = None, message: str = "", times: int = 1
    ) -> None:
        """Answer the next `times` create calls with this Twilio error instead of sending.

        Without `code`: 429 -> 20429, 5xx -> 20500/20503, 400 -> 21211, 401 -> 20003.
        """
        failure = _failure(status, code, message)
        with self._changed:
            self._failures.queued.extend([failure] * times)

    def fail_ratio(
        self, ratio: float, statuses: Sequence[int] = (429, 500), seed: int | None = None
    ) -> None:
        """Fail a random share of create calls (after any fail_next ones) with `statuses`."""
        if not 0.0 <= ratio <= 1.0 or not statuses:
            raise ValueError("ratio must be within [0, 1] and statuses non-empty")
        with self._changed:
            self._failures.ratio, self._failures.statuses = ratio, tuple(statuses)
            self._failures.rng = random.Random(seed)

    def clear_failures(self) -> None:
        with self._changed:
            self._failures = _Failures()

    # --- status callbacks --------------------------------------------------------------

    def callback(
        self,
        sid_or_message: str | SentMessage,
        status: str,
        error_code: int | None = None,
        url: str | None = None,
    ) -> int:
        """Post a signed status callback for a message, as Twilio would; returns the HTTP status.

        Goes to `url`, else the message's StatusCallback. The message's recorded status
        follows, so a later fetch shows it.
        """
        sid = sid_or_message if isinstance(sid_or_message, str) else sid_or_message.sid
        message = self._set_status(sid, status, error_code)
        target = url or message.status_callback
        if not target:
            raise ValueError(f"message {sid} has no StatusCallback; pass url=")
        try:
            response = signed_post(target, self.callback_params(message), self.auth_token)
        except requests.RequestException as exc:
            self._log_callback(PostedCallback(sid, status, target, None, repr(exc)))
            raise
        with response:
            self._log_callback(PostedCallback(sid, status, target, response.status_code))
            return response.status_code

    def callback_params(self, message: SentMessage) -> dict[str, str]:
        """The form fields Twilio posts to a StatusCallback for `message`'s current status."""
        params = {
            "MessageSid": message.sid,
            "SmsSid": message.sid,
            "MessageStatus": message.status,
            "SmsStatus": message.status,
            "AccountSid": self.account_sid,
            "From": message.from_ or SERVICE_NUMBER,
            "To": message.to,
            "ApiVersion": API_VERSION,
        }
        if message.error_code is not None:
            params["ErrorCode"] = str(message.error_code)
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        return params

    def signed_post(self, url: str, params: Mapping[str, str]) -> requests.Response:
        """`signed_post` with this fake's auth token (e.g. for inbound-message webhooks)."""
        return signed_post(url, params, self.auth_token)

    def _set_status(self, sid: str, status: str, error_code: int | None) -> SentMessage:
        with self._changed:
            updated = replace(self.by_sid(sid), status=status, error_code=error_code)
            self._messages[sid] = updated
            return updated

    def _log_callback(self, posted: PostedCallback) -> None:
        with self._changed:
            self._callbacks.append(posted)
            self._changed.notify_all()

    def _post_auto_status(self) -> None:
        """Background worker: post `auto_status` callbacks for each message, in order."""
        while (job := self._jobs.get()) is not None:
            due, sid = job
            if self._stopping.wait(max(0.0, due - time.monotonic())):
                return
            for status in self.auto_status:
                if self._stopping.is_set():
                    return
                self._auto_callback(sid, status)

    def _auto_callback(self, sid: str, status: str) -> None:
        """One automatic callback; failures land in `callbacks`, never kill the worker."""
        try:
            self.callback(sid, status)
        except requests.RequestException:
            pass  # already logged by callback()
        except (KeyError, ValueError) as exc:  # reset() dropped it, or no StatusCallback
            self._log_callback(PostedCallback(sid, status, "", None, repr(exc)))

    # --- the HTTP API ------------------------------------------------------------------

    def handle(
        self, method: str, path: str, authorization: str, form: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """Answer one API request: (HTTP status, JSON body)."""
        path = urlsplit(path).path
        create = _CREATE_PATH.fullmatch(path) if method == "POST" else None
        fetch = _FETCH_PATH.fullmatch(path) if method == "GET" else None
        if create:
            with self._changed:
                self._attempts += 1
        try:
            self._authenticate(authorization)
            match = create or fetch
            if match is None or match["account"] != self.account_sid:
                raise _ApiError(404, 20404, f"The requested resource {path} was not found")
            if create:
                return 201, self._resource(self._create(form))
            sid = match["sid"]
            with self._changed:
                found = self._messages.get(sid)
            if found is None:
                raise _ApiError(404, 20404, f"The requested resource {path} was not found")
            return 200, self._resource(found)
        except _ApiError as error:
            return error.status, error_body(error.status, error.code, error.message)

    def _authenticate(self, header: str) -> None:
        scheme, _, encoded = header.partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user = password = ""
        if scheme.lower() != "basic" or (user, password) != (self.account_sid, self.auth_token):
            raise _ApiError(401, 20003, "Authenticate")

    def _create(self, form: dict[str, str]) -> SentMessage:
        with self._changed:
            failure = self._failures.next()
        if failure:
            raise _ApiError(failure.status, failure.code, failure.message)
        message = self._validate(form)
        with self._changed:
            self._messages[message.sid] = message
            self._changed.notify_all()
        if self.auto_status:
            self._jobs.put((time.monotonic() + self.auto_status_delay, message.sid))
        return message

    @staticmethod
    def _validate(form: dict[str, str]) -> SentMessage:
        """Refuse what Twilio refuses, with its codes; build the message otherwise."""
        if not form.get("To"):
            raise _ApiError(400, 21604, "A 'To' phone number is required.")
        if not form.get("Body"):
            raise _ApiError(400, 21602, "Message body is required.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            raise _ApiError(400, 21603, "A 'From' phone number is required.")
        validity = form.get("ValidityPeriod")
        if validity is not None and not (validity.isdigit() and 1 <= int(validity) <= 36000):
            # Stand-in code: the fake only needs the app to notice it sent nonsense.
            raise _ApiError(400, 21000, "ValidityPeriod must be an integer from 1 to 36000")
        service = form.get("MessagingServiceSid") or None
        return SentMessage(
            sid="SM" + uuid.uuid4().hex,
            to=form["To"],
            from_=form.get("From") or None,
            messaging_service_sid=service,
            body=form["Body"],
            status_callback=form.get("StatusCallback") or None,
            validity_period=int(validity) if validity is not None else None,
            form=dict(form),
            at=datetime.now(UTC),
            status="accepted" if service else "queued",
        )

    def _resource(self, message: SentMessage) -> dict[str, Any]:
        """The message as Twilio's JSON resource, which `MessageInstance` parses."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{message.sid}.json"
        created = format_datetime(message.at.replace(microsecond=0))
        return {
            "sid": message.sid,
            "account_sid": self.account_sid,
            "to": message.to,
            "from": message.from_,
            "messaging_service_sid": message.messaging_service_sid,
            "body": message.body,
            "status": message.status,
            "num_segments": str(count_segments(message.body).segments),
            "num_media": "0",
            "direction": "outbound-api",
            "api_version": API_VERSION,
            "price": None,
            "price_unit": "USD",
            "error_code": message.error_code,
            "error_message": None,
            "uri": uri,
            "date_created": created,
            "date_updated": created,
            "date_sent": None,
            "subresource_uris": {},
        }
