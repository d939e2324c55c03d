"""A fake Slack Web API on 127.0.0.1, for tests that drive the real `slack_sdk.WebClient`.

Why a server and not a mock: the app talks to Slack through the official client, so the
only honest seam is HTTP. Point a client at the fake with `WebClient(token=fake.token,
base_url=fake.url)` and everything the client does (JSON, form and multipart bodies, the
Bearer token, turning `ok: false` into `SlackApiError`, its retry handlers honouring
`Retry-After`) runs for real.

It covers what the app uses: DMs, posting and updating messages, ephemeral messages,
modals, user look-ups, `response_url`s, and Slack-shaped errors (scripted or random, for
retry and load tests).

    with FakeSlack() as fake:
        client = WebClient(token=fake.token, base_url=fake.url)
        dm = client.conversations_open(users="U123")["channel"]["id"]
        client.chat_postMessage(channel=dm, text="Your case is still open.")
        [call] = fake.wait_for(1, method="chat.postMessage")
        [message] = fake.messages(dm)
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from tests.support.loopback_server import LoopbackServer

DEFAULT_TOKEN = "xoxb-fake-token"
DEFAULT_BOT_USER_ID = "UBOT0001"
DEFAULT_TEAM_ID = "T0000001"
BOT_ID = "B0000001"
APP_ID = "A0000001"
TEAM_NAME = "Acme"
TEAM_URL = "https://acme.slack.com/"
BOT_NAME = "keepposted"
# Every user gets this zone unless set_user() says otherwise; the app schedules by it.
DEFAULT_USER_TZ = "America/New_York"

# The method name `response_url` posts are recorded under.
RESPONSE_URL = "response_url"
API_PREFIX = "/api/"
RESPONSE_PREFIX = "/response/"

# Message timestamps count up in microseconds from here, so the first is 1700000000.000101:
# unique and increasing like Slack's, yet the same in every run.
_FIRST_TS_MICROS = 1_700_000_000_000_100

# Slack's ids for people: U… for users, W… for Enterprise Grid users.
_USER_ID_PREFIXES = ("U", "W")


@dataclass(frozen=True)
class SlackCall:
    """One request the fake received, answered or refused.

    `params` merges query string and body (JSON, form or multipart); form fields holding
    JSON lists/objects (e.g. `blocks`) are decoded, as Slack does. `headers` have
    lower-case names, because urllib sends `Content-type`. `at` is `time.monotonic()` on
    arrival, for measuring gaps such as a client's wait after `Retry-After`.
    """

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float
    answered_status: int = 200
    answered_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.answered_status == 200 and self.answered_error is None


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()
    error: str | None = None


def _json_reply(
    payload: dict[str, Any], status: int = 200, headers: tuple[tuple[str, str], ...] = ()
) -> _Reply:
    error = None if payload.get("ok") else str(payload.get("error"))
    body = json.dumps(payload).encode("utf-8")
    return _Reply(status, body, "application/json; charset=utf-8", headers, error)


def _text_reply(text: str, status: int = 200, headers: tuple[tuple[str, str], ...] = ()) -> _Reply:
    error = None if status == 200 and text == "ok" else text
    return _Reply(status, text.encode("utf-8"), "text/plain; charset=utf-8", headers, error)


@dataclass(frozen=True)
class _Failure:
    status: int
    error: str
    retry_after: int | None


@dataclass
class _Failures:
    """Scripted failures: per-method queues served first, then a random share (seeded)."""

    queued: dict[str, deque[_Failure]] = field(default_factory=dict)
    ratio: float = 0.0
    ratio_method: str = "chat.postMessage"
    ratio_failure: _Failure | None = None
    rng: random.Random = field(default_factory=random.Random)

    def next(self, method: str) -> _Failure | None:
        queued = self.queued.get(method)
        if queued:
            return queued.popleft()
        if method == self.ratio_method and self.ratio and self.rng.random() < self.ratio:
            return self.ratio_failure
        return None


def _failure_reply(method: str, failure: _Failure) -> _Reply:
    retry_after = failure.retry_after
    if retry_after is None and failure.status == 429:
        retry_after = 1
    headers = () if retry_after is None else (("Retry-After", str(retry_after)),)
    if method == RESPONSE_URL:
        # hooks.slack.com answers errors as plain text, e.g. 404 "expired_url".
        return _text_reply(failure.error, failure.status, headers)
    if failure.status in (200, 429):
        return _json_reply({"ok": False, "error": failure.error}, failure.status, headers)
    return _text_reply(f"{failure.status} {HTTPStatus(failure.status).phrase}", failure.status)


class _SlackError(Exception):
    """Raised by a method handler to answer `{"ok": false, "error": ...}`."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class _BadBody(ValueError):
    """The body could not be parsed as its Content-Type says."""


def _decode_json_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Decode string values that hold a JSON list or object, as Slack reads `blocks=[...]`."""
    decoded: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None
            if isinstance(parsed, list | dict):
                value = parsed
        decoded[name] = value
    return decoded


def _multipart_fields(content_type: str, body: bytes) -> dict[str, Any]:
    """Fields of a multipart/form-data body (what `api_call(data=...)` sends); files as bytes."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise _BadBody("multipart body without parts")
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        fields[name] = data if part.get_filename() else data.decode("utf-8")
    return fields


def _parse_params(query: str, content_type: str, body: bytes) -> dict[str, Any]:
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not body.strip():
        # slack_sdk labels even empty bodies (e.g. auth.test) application/json.
        return _decode_json_fields(params)
    if media_type == "application/json":
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise _BadBody(str(exc)) from exc
        if not isinstance(payload, dict):
            raise _BadBody("JSON body is not an object")
        params.update(payload)
    elif media_type == "multipart/form-data":
        params.update(_multipart_fields(content_type, body))
    else:
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return _decode_json_fields(params)


def _truthy(value: Any) -> bool:
    """Slack's booleans arrive as true (JSON) or "1"/"true" (forms)."""
    return value is True or str(value).lower() in ("1", "true")


def _is_user_id(value: Any) -> bool:
    return isinstance(value, str) and len(value) > 1 and value.startswith(_USER_ID_PREFIXES)


def _has_content(params: dict[str, Any]) -> bool:
    return any(params.get(name) for name in ("text", "blocks", "attachments", "markdown_text"))


class _Handler(BaseHTTPRequestHandler):
    """Hands each request to the FakeSlack; one request per connection (HTTP/1.0)."""

    timeout = 10  # an idle client must not hold up stop()
    server_version = "FakeSlack/1.0"

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): str(value) for name, value in self.headers.items()}
        fake = cast(LoopbackServer[FakeSlack], self.server).fake
        reply = fake.handle(self.path, headers, body)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest output is for failures, not access logs."""


class FakeSlack:
    """The fake API: records every call, keeps posted messages and views, scripts failures.

    Thread-safe; start()/stop() or `with`. State lives until reset(); clear() forgets
    only the recorded calls.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_user_id: str = DEFAULT_BOT_USER_ID,
        team_id: str = DEFAULT_TEAM_ID,
    ) -> None:
        self.token = token
        self.bot_user_id = bot_user_id
        self.team_id = team_id
        self._changed = threading.Condition()
        self._calls: list[SlackCall] = []
        self._last_ts = _FIRST_TS_MICROS
        self._failures = _Failures()
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._views_opened = 0
        self._view_serial = 0  # bumped per open and update, for a fresh hash each time
        self._opened_conversations: set[str] = set()
        self._user_overrides: dict[str, dict[str, Any]] = {}
        self._server: LoopbackServer[FakeSlack] | None = None
        self._thread: threading.Thread | None = None
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "conversations.open": self._conversations_open,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "users.info": self._users_info,
        }

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("FakeSlack is already running")
        self._server = LoopbackServer(self, _Handler)
        self._thread = self._server.serve_in_thread("fake-slack-http")
        return self

    def stop(self) -> None:
        """Stop serving and join the server thread and every request thread."""
        if self._server is None:
            return
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join()
        self._server.server_close()
        self._server, self._thread = None, None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def _origin(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeSlack is not running; call start() or use `with`")
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def url(self) -> str:
        """`base_url` for `WebClient`: http://127.0.0.1:PORT/api/ (the slash matters)."""
        return self._origin + API_PREFIX

    def response_url(self, name: str = "r1") -> str:
        """A `response_url` to hand the app; posts to it are recorded as `response_url`."""
        return self._origin + RESPONSE_PREFIX + quote(name, safe="")

    # --- what was called ---------------------------------------------------------------

    @property
    def calls(self) -> list[SlackCall]:
        """Every request so far, oldest first, refused ones included (a snapshot)."""
        with self._changed:
            return list(self._calls)

    def calls_to(self, method: str) -> list[SlackCall]:
        with self._changed:
            return [call for call in self._calls if call.method == method]

    def wait_for(
        self, count: int, method: str | None = None, timeout: float = 5.0
    ) -> list[SlackCall]:
        """Block until at least `count` calls (to `method`, if given) arrived; returns them."""

        def matching() -> list[SlackCall]:
            return [call for call in self._calls if method is None or call.method == method]

        with self._changed:
            if not self._changed.wait_for(lambda: len(matching()) >= count, timeout):
                target = f" to {method}" if method else ""
                raise AssertionError(
                    f"expected {count} call(s){target} within {timeout}s, got "
                    f"{len(matching())}; all calls: {[call.method for call in self._calls]}"
                )
            return matching()

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Posted messages (channel, ts, text, blocks, thread_ts), oldest first, as updated."""
        with self._changed:
            return [
                copy.deepcopy(message)
                for message in self._messages.values()
                if channel is None or message["channel"] == channel
            ]

    def views(self) -> list[dict[str, Any]]:
        """Opened views as last updated, oldest first."""
        with self._changed:
            return copy.deepcopy(list(self._views.values()))

    def set_user(self, user_id: str, **fields: Any) -> None:
        """Override fields of the user users.info answers, e.g. tz="Europe/Paris"."""
        with self._changed:
            self._user_overrides.setdefault(user_id, {}).update(fields)

    def clear(self) -> None:
        """Forget recorded calls; messages, views, users and scripted failures stay."""
        with self._changed:
            self._calls.clear()

    def reset(self) -> None:
        """Forget everything but the ts and view counters, so ids stay unique."""
        with self._changed:
            self._calls.clear()
            self._failures = _Failures()
            self._messages.clear()
            self._views.clear()
            self._opened_conversations.clear()
            self._user_overrides.clear()

    # --- scripted failures -------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 200,
        error: str = "ratelimited",
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` calls to `method` with an error, then serve normally.

        200: `{"ok": false, "error": error}`. 429: the same JSON with HTTP 429 and
        `Retry-After` (default 1). Other statuses (500, 503): that HTTP status with a short
        plain-text body. For `response_url` the body is `error` as plain text, as
        hooks.slack.com answers (e.g. status=404, error="expired_url").
        """
        HTTPStatus(status)  # refuses statuses HTTP does not know
        if times < 1:
            raise ValueError("times must be at least 1")
        failure = _Failure(status, error, retry_after)
        with self._changed:
            self._failures.queued.setdefault(method, deque()).extend([failure] * times)

    def fail_ratio(
        self,
        ratio: float,
        status: int = 429,
        seed: int | None = None,
        *,
        method: str = "chat.postMessage",
    ) -> None:
        """Fail a random share of calls to `method` (after any fail_next ones); 0 stops it."""
        if not 0.0 <= ratio <= 1.0:
            raise ValueError("ratio must be within [0, 1]")
        error = "ratelimited" if status in (200, 429) else HTTPStatus(status).phrase
        with self._changed:
            self._failures.ratio, self._failures.ratio_method = ratio, method
            self._failures.ratio_failure = _Failure(status, error, None)
            self._failures.rng = random.Random(seed)

    def clear_failures(self) -> None:
        with self._changed:
            self._failures = _Failures()

    # --- the HTTP side -----------------------------------------------------------------

    def handle(self, target: str, headers: dict[str, str], body: bytes) -> _Reply:
        """Answer and record one request to `target` (path and query)."""
        at = time.monotonic()
        split = urlsplit(target)
        path = unquote(split.path)
        try:
            params: dict[str, Any] | None = _parse_params(
                split.query, headers.get("content-type", ""), body
            )
        except (_BadBody, UnicodeDecodeError):
            params = None
        with self._changed:
            if path.startswith(RESPONSE_PREFIX):
                method = RESPONSE_URL
                reply = self._answer_response_url(params)
                params = {**(params or {}), "name": path[len(RESPONSE_PREFIX) :]}
            elif path.startswith(API_PREFIX):
                method = path[len(API_PREFIX) :]
                reply = self._answer_api(method, params, headers)
            else:
                method = path
                reply = _text_reply("Not Found", 404)
            self._calls.append(
                SlackCall(method, params or {}, headers, at, reply.status, reply.error)
            )
            self._changed.notify_all()
        return reply

    def _answer_response_url(self, params: dict[str, Any] | None) -> _Reply:
        failure = self._failures.next(RESPONSE_URL)
        if failure is not None:
            return _failure_reply(RESPONSE_URL, failure)
        if params is None:
            return _text_reply("invalid_payload", 400)
        return _text_reply("ok")

    def _answer_api(
        self, method: str, params: dict[str, Any] | None, headers: dict[str, str]
    ) -> _Reply:
        handler = self._methods.get(method)
        if handler is None:
            return _json_reply({"ok": False, "error": "unknown_method"})
        auth_error = self._auth_error(headers, params or {})
        if auth_error:
            return _json_reply({"ok": False, "error": auth_error})
        failure = self._failures.next(method)
        if failure is not None:
            return _failure_reply(method, failure)
        if params is None:
            return _json_reply({"ok": False, "error": "invalid_json"})
        try:
            return _json_reply({"ok": True, **handler(params)})
        except _SlackError as refused:
            return _json_reply({"ok": False, "error": refused.error})

    def _auth_error(self, headers: dict[str, str], params: dict[str, Any]) -> str | None:
        """Slack's answer to the token: none at all is not_authed, a wrong one invalid_auth."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            # Slack also takes the token as a POST parameter; slack_sdk never sends it so.
            token = str(params.get("token", ""))
        if not token.strip():
            return "not_authed"
        return None if token.strip() == self.token else "invalid_auth"

    # --- the methods (called with the lock held) ---------------------------------------

    def _next_ts(self) -> str:
        self._last_ts += 1
        seconds, micros = divmod(self._last_ts, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": TEAM_URL,
            "team": TEAM_NAME,
            "user": BOT_NAME,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    @staticmethod
    def _dm_id(user_id: str) -> str:
        """Stable per user, so the same person always gets the same DM."""
        return "D" + user_id[1:]

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        users = params.get("users") or []
        if isinstance(users, str):
            users = [user.strip() for user in users.split(",") if user.strip()]
        if not users:
            if params.get("channel"):
                return {"channel": {"id": str(params["channel"])}}
            raise _SlackError("users_list_not_supplied")
        if not all(_is_user_id(user) for user in users):
            raise _SlackError("user_not_found")
        if len(users) == 1:
            channel: dict[str, Any] = {"id": self._dm_id(users[0])}
            if _truthy(params.get("return_im")):
                channel.update(is_im=True, user=users[0], created=1_700_000_000)
        else:
            digest = hashlib.sha1(",".join(sorted(users)).encode()).hexdigest()
            channel = {"id": "G" + digest[:10].upper()}
        reply: dict[str, Any] = {"channel": channel}
        if channel["id"] in self._opened_conversations:
            reply.update(no_op=True, already_open=True)
        self._opened_conversations.add(channel["id"])
        return reply

    def _channel_for_post(self, params: dict[str, Any]) -> str:
        channel = params.get("channel")
        if not channel or not isinstance(channel, str):
            raise _SlackError("channel_not_found")
        # Posting to a user id lands in the DM with them; Slack answers the DM's id.
        return self._dm_id(channel) if _is_user_id(channel) else channel

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_for_post(params)
        if not _has_content(params):
            raise _SlackError("no_text")
        ts = self._next_ts()
        stored = {
            "channel": channel,
            "ts": ts,
            "text": str(params.get("text") or ""),
            "blocks": params.get("blocks"),
            "thread_ts": params.get("thread_ts"),
        }
        self._messages[(channel, ts)] = stored
        return {"channel": channel, "ts": ts, "message": self._message_object(stored)}

    def _message_object(self, stored: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": self.team_id,
            "text": stored["text"],
            "ts": stored["ts"],
        }
        if stored["blocks"] is not None:
            message["blocks"] = copy.deepcopy(stored["blocks"])
        if stored["thread_ts"] is not None:
            message["thread_ts"] = stored["thread_ts"]
        return message

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        if not channel:
            raise _SlackError("channel_not_found")
        # As in Slack, the channel must be the one chat.postMessage answered (D…, not U…).
        stored = self._messages.get((str(channel), str(params.get("ts", ""))))
        if stored is None:
            raise _SlackError("message_not_found")
        if not _has_content(params):
            raise _SlackError("no_text")
        if "text" in params:
            stored["text"] = str(params["text"] or "")
        if "blocks" in params:
            stored["blocks"] = params["blocks"]
        return {
            "channel": stored["channel"],
            "ts": stored["ts"],
            "text": stored["text"],
            "message": self._message_object(stored),
        }

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        self._channel_for_post(params)
        if not _is_user_id(params.get("user")):
            raise _SlackError("user_not_in_channel")
        if not _has_content(params):
            raise _SlackError("no_text")
        return {"message_ts": self._next_ts()}

    def _view_object(self, view_id: str, view: dict[str, Any]) -> dict[str, Any]:
        """The view as Slack echoes it: defaults, then what was sent, then Slack's own ids."""
        self._view_serial += 1
        return {
            "type": "modal",
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "state": {"values": {}},
            "clear_on_close": False,
            "notify_on_close": False,
            "previous_view_id": None,
            **copy.deepcopy(view),
            "id": view_id,
            "team_id": self.team_id,
            "hash": f"1700000000.{self._view_serial:08d}",
            "root_view_id": view_id,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
        }

    @staticmethod
    def _view_param(params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        if not isinstance(view, dict):
            raise _SlackError("invalid_arguments")
        return view

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id") and not params.get("interactivity_pointer"):
            raise _SlackError("invalid_arguments")
        view = self._view_param(params)
        self._views_opened += 1
        view_id = f"V{self._views_opened:010d}"
        self._views[view_id] = self._view_object(view_id, view)
        return {"view": copy.deepcopy(self._views[view_id])}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view = self._view_param(params)
        view_id, external_id = params.get("view_id"), params.get("external_id")
        if not view_id and not external_id:
            raise _SlackError("invalid_arguments")
        current = next(
            (
                stored
                for stored in self._views.values()
                if stored["id"] == view_id or (external_id and stored["external_id"] == external_id)
            ),
            None,
        )
        if current is None:
            raise _SlackError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise _SlackError("hash_conflict")
        self._views[current["id"]] = self._view_object(current["id"], view)
        return {"view": copy.deepcopy(self._views[current["id"]])}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user_id = params.get("user")
        if not _is_user_id(user_id):
            raise _SlackError("user_not_found")
        return {"user": self._user_object(str(user_id), _truthy(params.get("include_locale")))}

    def _user_object(self, user_id: str, include_locale: bool) -> dict[str, Any]:
        overrides = self._user_overrides.get(user_id, {})
        is_bot = user_id == self.bot_user_id
        real_name = overrides.get("real_name", BOT_NAME if is_bot else f"User {user_id}")
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": BOT_NAME if is_bot else user_id.lower(),
            "deleted": False,
            "real_name": real_name,
            "tz": DEFAULT_USER_TZ,
            "tz_label": "Eastern Standard Time",
            "tz_offset": -18000,
            "is_admin": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": 1_700_000_000,
            "profile": {
                "real_name": real_name,
                "display_name": real_name,
                "email": f"{user_id.lower()}@acme.example",
                "team": self.team_id,
            },
        }
        if include_locale:
            user["locale"] = "en-US"
        user.update(copy.deepcopy(overrides))
        return user
