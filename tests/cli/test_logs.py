"""Logs: JSON lines or text, phone numbers masked in messages, extra fields and tracebacks, in
our loggers, twilio's and gunicorn's; things that only look like numbers are left alone."""

from __future__ import annotations

import io
import json
import logging
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from gunicorn.config import Config as GunicornConfig
from gunicorn.glogging import Logger

from bot.errors import ConfigError
from bot.process_logging import (
    CHATTY,
    KeeppostedHandler,
    configure_logging,
    configure_logging_if_unset,
    gunicorn_logconfig,
    mask_sensitive,
)
from bot.store.db import shown_url
from channels.base import OutboundMessage
from channels.dryrun import DryRunSender
from channels.twilio_http import PooledTwilioHttp
from tests.support.fake_twilio import FakeTwilio
from tests.support.processes import read_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """Where configure_logging writes during the test; the root logger is put back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    chatty = {name: logging.getLogger(name).level for name in CHATTY}
    yield io.StringIO()
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, was in chatty.items():
        logging.getLogger(name).setLevel(was)


def json_lines(output: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.getvalue().splitlines()]


# -- what is masked -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+12125550101", "+*********01"),
        ("to +442079460018.", "to +**********18."),
        ("To=%2B12125550101&From=%2B15005550006", "To=%2B*********01&From=%2B*********06"),
        ("{'To': '+12125550101'}", "{'To': '+*********01'}"),
        ("(212) 555-0101", "(***) ***-**01"),
        ("(212)555-0101", "(***)***-**01"),
        ("212-555-0101", "***-***-**01"),
        ("212.555.0101", "***.***.**01"),
        ("212 555 0101", "*** *** **01"),
        ("+1 (212) 555-0101", "+* (***) ***-**01"),
        ("+44 20 7946 0018", "+** ** **** **18"),
        ("+33 6 12 34 56 78", "+** * ** ** ** 78"),
        ("020 7946 0018", "*** **** **18"),
        ("call 1-800-555-0199 now", "call *-***-***-**99 now"),
        ("tel:+12125550101", "tel:+*********01"),
        ("at 2026-11-23T15:00:00Z from +12125550101", "at 2026-11-23T15:00:00Z from +*********01"),
        ("2026-11-23 212-555-0101", "2026-11-23 ***-***-**01"),
        ("GET /c/eyJjIjoxLCJ2IjowfQ.aZAbCd.Xy-z_0123456789abc HTTP/1.1", "GET /c/<token> HTTP/1.1"),
    ],
)
def test_phone_numbers_keep_only_their_last_two_digits(text: str, masked: str) -> None:
    assert mask_sensitive(text) == masked
    assert mask_sensitive(masked) == masked  # masking twice changes nothing


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-23T15:00:00Z",
        "2026-11-23T15:00:00.123456+00:00",
        "2026-11-23T10:00:00-05:00",
        "2026-11-23 15:00:00,123",
        "23.11.2026 and 11-23-2026 and 2026.11.23",
        "case #1042 and #1042 #1043 #1044",
        "case 1042",
        "took 12.5s, 1500 ms, 2h 30m, 0:00:12.345678",
        "Slack ts 1700000000.000100",
        "thread_ts=1700000000.000100 ts 1712345678.123456",
        "550e8400-e29b-41d4-a716-446655440000",
        "12345678-1234-1234-1234-123456789012",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "prev 0000000000000000000000000000000000000000000000000000000000000000",
        "SM0123456789abcdef0123456789abcdef",
        "127.0.0.1 - - [23/Nov/2026:15:00:00 +0000] 192.168.100.200",
        "epoch 1700000000 pid 1234567",
        "version 1.2.3, 3 of 12 sent",
        "+0530",
    ],
)
def test_what_only_looks_like_a_number_is_left_alone(text: str) -> None:
    assert mask_sensitive(text) == text


# -- records ---------------------------------------------------------------------------------


def test_json_lines_carry_the_masked_message_and_extra_fields(output: io.StringIO) -> None:
    configure_logging("json", stream=output)
    log = logging.getLogger("keepposted.test")
    log.info(
        "sent case %s to %s",
        "#1042",
        "+12125550101",
        extra={
            "to": "+12125550101",
            "sent": {"numbers": ["(212) 555-0102"], "at": "2026-11-23T15:00:00Z"},
            "case_id": 1042,
        },
    )
    [line] = json_lines(output)
    assert line["message"] == "sent case #1042 to +*********01"
    assert (line["level"], line["logger"]) == ("INFO", "keepposted.test")
    assert line["to"] == "+*********01"
    assert line["sent"] == {"numbers": ["(***) ***-**02"], "at": "2026-11-23T15:00:00Z"}
    assert line["case_id"] == 1042
    assert line["timestamp"].endswith("+00:00")
    assert "12125550101" not in output.getvalue()


def test_tracebacks_are_masked_in_json_and_in_text(output: io.StringIO) -> None:
    log = logging.getLogger("keepposted.test")
    for fmt in ("json", "text"):
        configure_logging(fmt, stream=output)
        try:
            raise ValueError("no route to +12125550101")
        except ValueError:
            log.exception("send to %s failed", "+12125550101")
    text = output.getvalue()
    assert "12125550101" not in text
    first = json.loads(text.splitlines()[0])
    assert "ValueError: no route to +*********01" in first["exc_info"]
    assert "ValueError: no route to +*********01" in text.split("\n", 1)[1]


def test_a_dict_message_is_masked_field_by_field(output: io.StringIO) -> None:
    configure_logging("json", stream=output)
    logging.getLogger("keepposted.test").warning({"event": "opted_out", "phone": "+12125550101"})
    [line] = json_lines(output)
    assert (line["event"], line["phone"]) == ("opted_out", "+*********01")


def test_text_lines_are_for_a_person(output: io.StringIO) -> None:
    configure_logging("text", stream=output)
    logging.getLogger("keepposted.test").warning("reply from %s kept", "212-555-0101")
    assert (
        output.getvalue().rstrip().endswith("WARNING keepposted.test: reply from ***-***-**01 kept")
    )


def test_twilio_logs_its_requests_through_the_same_mask(
    output: io.StringIO, fake_twilio: FakeTwilio
) -> None:
    """The app's twilio HTTP client logs each request's URL and query (phone numbers) at INFO
    on twilio's logger, as twilio's stock client does; that is heard at DEBUG only, and
    masked."""
    url = f"{fake_twilio.url}/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"
    twilio = PooledTwilioHttp()
    try:
        configure_logging("json", "INFO", stream=output)
        twilio.request("GET", url, params={"To": "+12125550101"}, timeout=5)
        assert output.getvalue() == ""
        configure_logging("json", "DEBUG", stream=output)
        twilio.request("GET", url, params={"To": "+12125550101"}, timeout=5)
    finally:
        twilio.close()
    lines = [line for line in json_lines(output) if line["logger"] == "twilio.http_client"]
    assert any("To=%2B*********01" in line["message"] for line in lines), lines
    assert "12125550101" not in output.getvalue()


# -- configuration ---------------------------------------------------------------------------


def test_configuring_twice_keeps_one_handler(output: io.StringIO) -> None:
    configure_logging("json", stream=output)
    configure_logging("text", "WARNING", stream=output)
    root = logging.getLogger()
    assert sum(isinstance(h, KeeppostedHandler) for h in root.handlers) == 1
    assert root.level == logging.WARNING
    logging.getLogger("keepposted.test").warning("once")
    assert output.getvalue().count("once") == 1
    assert not output.getvalue().startswith("{")  # the second call's format won


def test_the_environment_chooses_format_and_level(
    output: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_FORMAT", "text")
    monkeypatch.setenv("LOG_LEVEL", "error")
    configure_logging(stream=output)  # the command's default (json) gives way to LOG_FORMAT
    log = logging.getLogger("keepposted.test")
    log.warning("not shown")
    log.error("shown")
    assert output.getvalue().rstrip().endswith("ERROR keepposted.test: shown")
    monkeypatch.delenv("LOG_FORMAT")
    configure_logging(default_format="text", stream=output)  # `keepposted dev`
    log.error("still text")
    assert output.getvalue().rstrip().endswith("ERROR keepposted.test: still text")


@pytest.mark.parametrize(("name", "value"), [("LOG_FORMAT", "xml"), ("LOG_LEVEL", "LOUD")])
def test_a_bad_setting_is_named(
    output: io.StringIO, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        configure_logging(stream=output)


def test_the_app_factory_configures_only_an_unconfigured_process(output: io.StringIO) -> None:
    root = logging.getLogger()
    foreign = logging.NullHandler()
    root.addHandler(foreign)
    configure_logging_if_unset()  # pytest, a CLI command or gunicorn's logconfig came first
    assert not any(isinstance(h, KeeppostedHandler) for h in root.handlers)
    root.removeHandler(foreign)
    saved = root.handlers[:]
    for handler in saved:
        root.removeHandler(handler)
    try:
        configure_logging_if_unset()  # plain `gunicorn 'bot.app:create_app()'`
        assert [type(h) for h in root.handlers] == [KeeppostedHandler]
    finally:
        for handler in saved:
            root.addHandler(handler)


# -- gunicorn, as `keepposted serve` runs it ---------------------------------------------------


def _status(request: urllib.request.Request) -> int:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


@pytest.mark.slow
def test_serve_logs_gunicorn_and_the_app_as_masked_json(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'logs.db'}",
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "TWILIO_AUTH_TOKEN": "twilio-token",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
    }
    bot = [sys.executable, "-m", "bot", "--config", str(ROOT / "config.yaml")]
    subprocess.run([*bot, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    server = subprocess.Popen(
        [*bot, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = read_until(server.stderr, "Listening at")
        base = f"http://127.0.0.1:{port}"
        unsigned = urllib.request.Request(
            f"{base}/sms/inbound", data=b"From=%2B12125550101&Body=YES", method="POST"
        )
        assert _status(unsigned) == 403
        assert _status(urllib.request.Request(f"{base}/c/{'x' * 40}.{'y' * 10}")) >= 400
    finally:
        server.terminate()
        _, rest = server.communicate(timeout=30)
    records = [json.loads(line) for line in [*lines, *rest.splitlines()] if line.strip()]
    loggers = {record["logger"] for record in records}
    assert {"gunicorn.error", "gunicorn.access", "bot.web.sms"} <= loggers, records
    access = [r["message"] for r in records if r["logger"] == "gunicorn.access"]
    assert any('"POST /sms/inbound HTTP/1.1" 403' in message for message in access), access
    assert any('"GET /c/<token> HTTP/1.1"' in message for message in access), access
    assert "x" * 40 not in rest


# -- every form a number, a token or a secret takes in a URL, and every path that prints one -----

CHAT_TOKEN = "eyJjIjoxLCJ2IjowfQ.aZAbCd.Xy-z_0123456789abc"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("To=%2B1%20415%20555%200101", "To=%2B*%20***%20***%20**01"),
        ("From=%2B1%20(415)%20555-0101", "From=%2B*%20(***)%20***-**01"),
        ("(415)%20555-0101", "(***)%20***-**01"),
        ("%28415%29%20555-0101", "%28***%29%20***-**01"),
        ("From=%28415%29+555-0101&Body=YES", "From=%28***%29+***-**01&Body=YES"),
        ("From=+1+415+555+0101", "From=+*+***+***+**01"),
        ("From= 12125550101&To= 15005550006", "From= *********01&To= *********06"),
        ("{'From': [' 12125550101']}", "{'From': [' *********01']}"),
        ('"From": " 12125550101"', '"From": " *********01"'),
        ("From=%2012125550101", "From=%20*********01"),
    ],
)
def test_phone_numbers_are_masked_url_encoded_and_decoded(text: str, masked: str) -> None:
    assert mask_sensitive(text) == masked
    assert mask_sensitive(masked) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            f"GET /widget/example?kp_chat={CHAT_TOKEN} HTTP/1.1",
            "GET /widget/example?kp_chat=<token> HTTP/1.1",
        ),
        (
            f"/widget/example?lang=en&kp_chat=http%3A%2F%2F127.0.0.1%3A8000%2Fc%2F{CHAT_TOKEN}&x=1",
            "/widget/example?lang=en&kp_chat=<token>&x=1",
        ),
        (f"next=%2Fc%2F{CHAT_TOKEN}", "next=%2Fc%2F<token>"),
        (
            "postgresql://kp:s3cret@db:5432/kp?password=hunter2&sslmode=require",
            "postgresql://kp:***@db:5432/kp?password=***&sslmode=require",
        ),
        (
            "GET /x?access_token=abc123&api_key=K9&Signature=zz&sig=1&page=2&client_secret=s",
            "GET /x?access_token=***&api_key=***&Signature=***&sig=***&page=2&client_secret=***",
        ),
        (
            "contact maria.gomez+home@example.co.uk, cc ops@acme.com",
            "contact ***@example.co.uk, cc ***@acme.com",
        ),
    ],
)
def test_chat_tokens_secrets_and_email_addresses_are_masked(text: str, masked: str) -> None:
    assert mask_sensitive(text) == masked
    assert mask_sensitive(masked) == masked


@pytest.mark.parametrize(
    "text",
    [
        "sqlite:///keepposted.db",
        "postgresql://keepposted@db/keepposted",  # a user name alone is no secret
        "GET /api/v1/cases?status=open&page=2&keyword_count=3 HTTP/1.1",
        "/c/<token> and kp_chat=<token>",
        "x=1700000000 and at=2026-11-23T15:00:00Z",
    ],
)
def test_what_is_not_secret_in_a_url_is_left_alone(text: str) -> None:
    assert mask_sensitive(text) == text


def test_gunicorn_access_log_masks_request_line_and_referer(output: io.StringIO) -> None:
    """The access log as `keepposted serve` and the Procfile configure it (bot/gunicorn_conf.py):
    the request line carries the raw query string, the referer the page's."""
    logconfig = gunicorn_logconfig("json", "INFO")
    logconfig["handlers"]["keepposted"]["stream"] = output
    cfg = GunicornConfig()
    cfg.set("logconfig_dict", logconfig)
    query = "From=%2B1%20415%20555%200101&To=(415)%20555-0102&password=hunter2"
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": f"/sms/inbound?{query}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "QUERY_STRING": query,
        "HTTP_REFERER": f"https://shop.example.com/help?kp_chat={CHAT_TOKEN}",
        "REMOTE_ADDR": "127.0.0.1",
    }
    response = SimpleNamespace(status="200 OK", sent=0, headers=[])
    Logger(cfg).access(response, SimpleNamespace(headers=[]), environ, timedelta(seconds=0))
    [line] = [entry for entry in json_lines(output) if entry["logger"] == "gunicorn.access"]
    assert '"POST /sms/inbound?From=%2B*%20***%20***%20**01&To=(***)%20***-**02' in line["message"]
    assert "password=***" in line["message"] and "kp_chat=<token>" in line["message"]
    for secret in ("415%20555%200101", "555-0102", "hunter2", CHAT_TOKEN):
        assert secret not in output.getvalue()


def test_the_dry_run_console_masks_the_address_not_the_message() -> None:
    console = io.StringIO()
    message = OutboundMessage("sms", "+12125550101", "Case #4: call 1-800-555-0199", 7, "reply")
    DryRunSender("sms", console).send(message)
    assert console.getvalue() == "[simulated sms -> +*********01] Case #4: call 1-800-555-0199\n"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://kp:s3cret@db/kp", "postgresql://kp:***@db/kp"),
        ("postgresql://kp:pa/ss@db/kp", "postgresql://kp:***@db/kp"),
        (
            "postgresql+psycopg://kp@db/kp?password=s3cret&sslmode=require",
            "postgresql+psycopg://kp@db/kp?password=***&sslmode=require",
        ),
        (
            "postgresql://db/kp?sslpassword=k3y&user=kp",
            "postgresql://db/kp?sslpassword=***&user=kp",
        ),
        ("sqlite:///keepposted.db", "sqlite:///keepposted.db"),
    ],
)
def test_shown_url_masks_the_password_wherever_it_is(url: str, shown: str) -> None:
    assert shown_url(url) == shown
