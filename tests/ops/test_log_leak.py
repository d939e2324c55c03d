"""No customer's words, number or email address, and no chat link or API token, in any log line.

One app serves every channel over real HTTP (SMS signed by the fake Twilio, Slack signed and
answered by the fake Slack, web chat and the REST API over the wire), with the app's own logging
set up as `keepposted serve` sets it up (bot/process_logging.py, JSON, INFO). A journey plays
each channel through: texts, DMs and buttons, chat posts, resolving by API and by /case, a STOP,
scores. Every line written is then searched for what must not be there. The check is shown to
work first: the same journey with one leak planted (the engine logging each message it is
handed) must be caught.

The customers' sentences each carry a word found nowhere else (flamingo, marmalade, ...), so a
log line quoting any part of one, or a URL-encoded copy, is caught as well as a whole one.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
import requests

from bot.clock import FrozenClock
from bot.config import Config, Settings, parse_config
from bot.core import Core, create_core
from bot.engine import inbound as engine
from bot.process_logging import CHATTY, configure_logging
from bot.worker import tick
from tests.conftest import (
    API_TOKEN,
    SECRET_KEY,
    SMS_FROM,
    TEST_CONFIG,
    LiveApp,
    Phone,
    auth_header,
    serve_app,
)
from tests.support.fake_slack import FakeSlack
from tests.support.fake_twilio import FakeTwilio
from tests.support.slack_harness import (
    AGENT,
    ALERTS,
    CUSTOMER,
    SIGNING_SECRET,
    SUPERVISOR,
    SlackApp,
    Workspace,
)

MARIA = "+12125550101"  # texts
MARIA_EMAIL = "maria.gomez@example.com"
LEE = "+12125550177"  # on web chat; their number is on file, never in a log
OTHER = "+442079460018"  # a stranger who texts STOP
SENTENCES = {
    "sms": [
        "STATUS please, the flamingo router blinks red all evening",
        f"call me at (212) 555-0188 or write to {MARIA_EMAIL}, the marmalade line is dead",
        "YES it works now, thank you, the quokka cable was the problem",
    ],
    "slack": [
        "Still declined at the xylophone shop this morning, I am furious",
        "thanks, the walrus terminal took it",
    ],
    "webchat": [
        "The zeppelin light is still red and nothing loads",
        "ok now it works, the pelican page opened",
    ],
}
MARKERS = ("flamingo", "marmalade", "quokka", "xylophone", "walrus", "zeppelin", "pelican")
DM = "D" + CUSTOMER[1:]


@dataclass
class Private:
    """What no log line may carry."""

    phones: list[str]
    emails: list[str]
    secrets: list[str]  # tokens and keys, whole
    sentences: list[str]
    markers: tuple[str, ...] = MARKERS
    chat_tokens: list[str] = field(default_factory=list)


def _digits_of(line: str) -> str:
    """The line with what may split or encode a phone number's digits taken out."""
    return re.sub(r"%2[Bb089]|%20|[\s\-.()+/\\]", "", line)


def leaks(lines: list[str], private: Private) -> list[str]:
    """Each line that carries something private, with what it carries."""
    found = []
    for line in lines:
        lower, digits = line.lower(), _digits_of(line)
        what = [p for p in private.phones if _digits_of(p)[-7:] in digits]  # 5550101 and longer
        what += [e for e in private.emails if e.split("@")[0] in lower]
        what += [e for e in private.emails if quote(e.split("@")[0]).lower() in lower]
        what += [s for s in private.secrets + private.chat_tokens if s in line]
        what += [s[-12:] for s in private.chat_tokens if s[-12:] in line]  # the signature
        what += [s for s in private.sentences if s.lower() in lower]
        what += [m for m in private.markers if m in lower]
        if what:
            found.append(f"{what}: {line}")
    return found


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The app's logging, set up as `keepposted serve` sets it up, written here; the root
    logger is put back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    chatty = {name: logging.getLogger(name).level for name in CHATTY}
    written = io.StringIO()
    configure_logging("json", "INFO", stream=written)
    yield written
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, was in chatty.items():
        logging.getLogger(name).setLevel(was)


def every_channel_config(public_url: str) -> Config:
    channels = {
        **TEST_CONFIG["channels"],
        "sms": {"from": SMS_FROM, "mps": 1000},
        "slack": {
            "alerts_channel": ALERTS,
            "agents": [AGENT],
            "supervisors": [SUPERVISOR],
            "mps": 1000,
        },
    }
    return parse_config(TEST_CONFIG | {"public_url": public_url, "channels": channels})


@dataclass
class Served:
    url: str
    core: Core
    phone: Phone
    stranger: Phone
    workspace: Workspace
    twilio: FakeTwilio
    slack: FakeSlack

    def api(self, method: str, path: str, **body: Any) -> dict[str, Any]:
        response = requests.request(
            method, f"{self.url}/api/v1{path}", json=body or None, headers=auth_header(), timeout=10
        )
        assert response.status_code in (200, 201), response.text
        data: dict[str, Any] = response.json()
        return data


@pytest.fixture
def served(database_url: str, clock: FrozenClock) -> Iterator[Served]:
    with FakeTwilio() as twilio, FakeSlack() as slack:
        settings = Settings(
            database_url=database_url,
            api_token=API_TOKEN,
            secret_key=SECRET_KEY,
            twilio_account_sid=twilio.account_sid,
            twilio_auth_token=twilio.auth_token,
            twilio_api_base_url=twilio.url,
            slack_bot_token=slack.token,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=slack.url,
        )

        def build(url: str) -> Core:
            return create_core(every_channel_config(url), settings, clock=clock)

        with serve_app(build) as (url, core, app):
            live = LiveApp(url, core, app.test_client())
            workspace = Workspace(SlackApp(url, core, app.test_client()), slack)
            yield Served(
                url,
                core,
                Phone(live, twilio, MARIA),
                Phone(live, twilio, OTHER),
                workspace,
                twilio,
                slack,
            )


def journey(served: Served) -> list[str]:
    """Every channel, end to end; returns the web chat tokens the links carried."""
    url, phone, workspace = served.url, served.phone, served.workspace
    sms_case = served.api(
        "POST",
        "/cases",
        subject="Internet down",
        priority="P2",
        contact={"name": "Maria Gomez", "phone": MARIA},
    )
    chat_case = served.api(
        "POST",
        "/cases",
        subject="Router keeps rebooting",
        contact={"name": "Lee Chen", "phone": LEE, "channel": "webchat"},
    )
    token = chat_case["webchat_url"].rsplit("/c/", 1)[1]

    # SMS: a question, words with a number and an email in them, the answer, a score, STOP.
    sms_id = sms_case["id"]
    first, second, answer = SENTENCES["sms"]
    assert phone.texts(first)  # the status, answered by the worker
    phone.texts(second)
    served.api("POST", f"/cases/{sms_id}/resolve", resolution="Replaced the line card")
    tick(served.core, "test")
    assert any("closed" in text for text in phone.texts(answer))
    phone.texts("5")
    served.stranger.texts("STOP")
    # An unsigned post with numbers in its query string, as a probe or a misconfigured proxy
    # would send it: refused, and logged (the access log carries the query string).
    probe = f"{url}/sms/inbound?From=%2B1%20415%20555%200101&To=(415)%20555-0177"
    assert requests.post(probe, data={"From": MARIA}, timeout=10).status_code == 403

    # Slack: the agent opens and resolves by /case, the customer writes and answers by button.
    workspace.command(AGENT, f'new <@{CUSTOMER}|dana> "Card declined abroad" --priority P2')
    angry, thanks = SENTENCES["slack"]
    assert workspace.dm(CUSTOMER, angry).status_code == 200
    workspace.command(AGENT, "resolve 3 We lifted the travel block on your card.")
    ask = workspace.sent_to(DM)[-1]
    assert workspace.click(CUSTOMER, "customer_confirm", "3", channel=DM, message=ask).ok
    workspace.dm(CUSTOMER, "4")
    workspace.dm(CUSTOMER, thanks)
    workspace.sent_to(ALERTS)

    # Web chat: the page, the widget's example opened with ?kp_chat=, posts and a score.
    chat = f"{url}/c/{token}"
    assert requests.get(chat, timeout=10).status_code == 200
    assert requests.get(f"{url}/widget/example?kp_chat={token}", timeout=10).status_code == 200
    broken, works = SENTENCES["webchat"]
    posts: list[dict[str, Any]] = [
        {"text": broken},
        {"action": "confirm"},
        {"action": "rate", "score": 5},
        {"text": works},
    ]
    for n, body in enumerate(posts):
        if n == 1:
            served.api("POST", f"/cases/{chat_case['id']}/resolve", resolution="New firmware")
        posted = requests.post(
            f"{chat}/messages", json={"client_id": f"leak-test-client-{n:04d}"} | body, timeout=10
        )
        assert posted.status_code == 201, posted.text
        tick(served.core, "test")
        assert requests.get(f"{chat}/messages?after=0", timeout=10).status_code == 200

    # The REST API reads it all back.
    for case_id in (sms_id, chat_case["id"], 3):
        assert served.api("GET", f"/cases/{case_id}")["status"] == "closed"
    tick(served.core, "test")
    return [token]


def private_of(served: Served, chat_tokens: list[str]) -> Private:
    return Private(
        phones=[MARIA, LEE, OTHER, "(212) 555-0188"],
        emails=[MARIA_EMAIL],
        secrets=[
            API_TOKEN,
            SECRET_KEY,
            SIGNING_SECRET,
            served.twilio.auth_token,
            served.slack.token,
        ],
        sentences=[s for said in SENTENCES.values() for s in said],
        chat_tokens=chat_tokens,
    )


def records(written: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in written.getvalue().splitlines() if line.strip()]


def test_no_log_line_carries_a_customer_s_words_number_or_token(
    served: Served, log_lines: io.StringIO
) -> None:
    tokens = journey(served)
    lines = log_lines.getvalue().splitlines()
    loggers = {record["logger"] for record in records(log_lines)}
    # The journey was heard: request lines (the access log here), the refused probe, the worker.
    assert {"werkzeug", "bot.web.sms"} <= loggers, loggers
    assert leaks(lines, private_of(served, tokens)) == []
    assert any("/sms/inbound?From=%2B*" in line for line in lines), lines  # masked, not dropped
    assert any("kp_chat=<token>" in line for line in lines), lines


def test_a_planted_leak_is_caught(
    served: Served, log_lines: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same journey, with the engine logging every message it is handed (its repr holds
    the sender and the words): the check above must find it."""
    check = engine.check_inbound

    def leaky(inbound: Any) -> None:
        engine.logger.info("handed %r", inbound)
        check(inbound)

    monkeypatch.setattr(engine, "check_inbound", leaky)
    tokens = journey(served)
    found = leaks(log_lines.getvalue().splitlines(), private_of(served, tokens))
    said = "\n".join(found)
    for marker in MARKERS:  # every customer's words, on every channel
        assert marker in said, marker
    # The mask still did its part on the planted lines: numbers and addresses, not sentences.
    assert "(***) ***-**88" in said and "***@example.com" in said and MARIA_EMAIL not in said


def test_the_check_finds_each_kind_of_leak() -> None:
    """Lines as a mask that missed would leave them: each kind is found, masked ones are not."""
    private = Private(
        phones=[MARIA],
        emails=[MARIA_EMAIL],
        secrets=[API_TOKEN],
        sentences=["the router blinks"],
        markers=("flamingo",),
        chat_tokens=["eyJjIjoxLCJ2IjowfQ.aZAbCd.Xy-z_0123456789abc"],
    )
    planted = [
        "to +12125550101",
        "From=%2B1%20415%20555%200101",
        "from (212) 555-0101",
        "From= 12125550101",
        "for maria.gomez@example.com",
        "mailto:maria.gomez%40example.com",
        f"Authorization: Bearer {API_TOKEN}",
        "GET /c/eyJjIjoxLCJ2IjowfQ.aZAbCd.Xy-z_0123456789abc",
        "said: The router blinks",
        "said: the FLAMINGO",
    ]
    assert len(leaks(planted, private)) == len(planted)
    masked = ["to +*********01", "From=%2B*%20***%20***%20**01", "for ***@example.com"]
    assert leaks([*masked, "GET /c/<token>", "case #1 closed"], private) == []
