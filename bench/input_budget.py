"""Hostile-input budget: what the worst request costs the server, and what it costs everyone else.

The app runs as the Procfile runs it (gunicorn, `bot.gunicorn_conf`, 2 workers x 4 threads, on a
SQLite file in a temp dir), with Twilio, Slack and web chat all set up (Slack's API is the test
suite's fake, on a local port). In one run:

1. *Baseline*: customers text a signed `STATUS` one after the other; the median and p99 of their
   answer times are the yardstick for the rest.
2. *Corpus*: every request of a fixed hostile corpus is sent once and timed: the probes the
   hardening issue listed (a 40,000-character "not good" Slack DM, signed; 15,000 and 30,000
   nested `[`; a JSON body `null`; a non-numeric Slack timestamp; `NumMedia` of `²` and of 5,000
   digits; a split `Body`; a 198,000-character web chat post; ...) and a few hundred random
   bodies to every POST endpoint, signed and unsigned, from a seeded generator. Printed: the
   slowest accepted (2xx) request and the slowest of all, each as a multiple of the baseline
   median.
3. *Interference*: the three slowest corpus requests are sent over and over from two threads
   while customers text `STATUS` as in 1; their median and p99 are printed against the baseline
   median.

Checks (exit 1 on any): no 5xx anywhere in the corpus; the unsigned requests stored nothing;
every baseline and interference text answered 200.

Run from the repository root: `python -m bench.input_budget [--quick] [--random N]
[--customers N]` (--quick: 60 random bodies and 20 customers).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPException
from pathlib import Path
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier
from twilio.request_validator import RequestValidator

from bench.checks import Checks
from bot.config import Config
from bot.demo.simulate import inbound_form
from bot.store.migrate import upgrade
from tests.support.fake_slack import FakeSlack
from tests.support.pg_server import free_port
from tests.support.processes import Process
from tests.support.scale_harness import percentile

HOST = "127.0.0.1"
AUTH_TOKEN = "bench-twilio-auth-token"
SIGNING_SECRET = "bench-slack-signing-secret"
API_TOKEN = "bench-api-token"
READY_SECONDS = 60
DEFAULT_CONFIG = Config()  # how the senders' numbers are read (US)


@dataclass(frozen=True)
class Probe:
    label: str
    path: str
    body: bytes
    headers: dict[str, str]
    signed: bool


@dataclass(frozen=True)
class Timed:
    probe: Probe
    status: int
    seconds: float


class Target:
    """The app under gunicorn, and how to sign for it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.public_url = f"http://{HOST}:{port}"

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes, float]:
        connection = HTTPConnection(HOST, self.port, timeout=60)
        started = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=headers or {})
            answer = connection.getresponse()
            data = answer.read()
            return answer.status, data, time.perf_counter() - started
        finally:
            connection.close()

    def twilio(self, path: str, form: dict[str, str], *, raw: bytes | None = None) -> Probe:
        signature = RequestValidator(AUTH_TOKEN).compute_signature(self.public_url + path, form)
        return Probe(
            f"signed {path}",
            path,
            raw if raw is not None else urlencode(form).encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
            signed=True,
        )

    def slack(self, body: bytes, content_type: str, *, stamp: str | None = None) -> Probe:
        stamp = stamp or str(int(time.time()))
        signature = SignatureVerifier(SIGNING_SECRET).generate_signature(
            timestamp=stamp, body=body.decode("utf-8", "replace")
        )
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature or "",
        }
        return Probe("signed /slack/events", "/slack/events", body, headers, signed=True)


def sms_form(sender: str, text: str) -> dict[str, str]:
    """A text as Twilio sends it, with a MessageSid of its own."""
    return inbound_form(DEFAULT_CONFIG, sender, text)


def slack_dm(text: str) -> bytes:
    ts = f"{time.time():.6f}"
    event = {
        "type": "message",
        "channel_type": "im",
        "channel": "DBENCH0001",
        "user": "UBENCH0001",
        "text": text,
        "ts": ts,
        "event_ts": ts,
    }
    return json.dumps(
        {"type": "event_callback", "event": event, "event_id": f"Ev{secrets.token_hex(6)}"}
    ).encode()


def named_probes(target: Target, chat_path: str) -> list[Probe]:
    """The probes the hardening issue found, each as it was sent."""
    split = sms_form("+14155550101", "NO")
    raw = urlencode(split).encode() + b"&Body=YES"
    probes = [
        target.slack(slack_dm("not good " * 4445), "application/json"),
        target.slack(b"[" * 15_000, "application/json"),
        target.slack(b"null", "application/json"),
        target.slack(b'{"event": {"type": "message", "files": "x"}}', "application/json"),
        target.slack(b"text=hello", "application/json"),
        target.slack(b"{}", "application/json", stamp="soon"),
        target.twilio("/sms/inbound", sms_form("+14155550101", "YES") | {"NumMedia": "²"}),
        target.twilio("/sms/inbound", sms_form("+14155550101", "YES") | {"NumMedia": "9" * 5000}),
        target.twilio("/sms/inbound", split, raw=raw),
        target.twilio("/sms/inbound", sms_form("+14155550101", "not good " * 180)),
    ]
    for body in (
        b"[" * 30_000,
        json.dumps({"action": ["confirm"]}).encode(),
        json.dumps({"action": "rate", "score": "²"}).encode(),
        json.dumps({"text": "not good " * 22_000}).encode(),
    ):
        probes.append(
            Probe("chat link", chat_path, body, {"Content-Type": "application/json"}, True)
        )
    return probes


def random_probes(target: Target, chat_path: str, count: int, seed: int) -> list[Probe]:
    """Random bodies to every POST endpoint: half unsigned, half signed or with a chat link."""
    rng = random.Random(seed)
    alphabet = "abc YES no 0123456789 [{\"',:}]\x00\u00b2\u202e\ufffd&=%+\n"

    def junk() -> bytes:
        size = rng.choice([0, 1, 10, 200, 3000, 40_000])
        kind = rng.random()
        if kind < 0.3:
            return rng.randbytes(size)
        if kind < 0.6:
            return "".join(rng.choice(alphabet) for _ in range(size)).encode("utf-8", "replace")
        depth = rng.randint(1, 20_000)
        return (rng.choice(["[", '{"a":']) * depth).encode()

    probes: list[Probe] = []
    for number in range(count):
        body = junk()
        content_type = rng.choice(
            ["application/json", "application/x-www-form-urlencoded", "text/plain", ""]
        )
        match number % 6:
            case 0:
                probes.append(target.slack(body, content_type))
            case 1:
                text = body.decode("utf-8", "replace")[:1600]
                probes.append(target.twilio("/sms/inbound", sms_form("+14155550199", text)))
            case 2:
                headers = {"Content-Type": content_type}
                probes.append(Probe("chat link", chat_path, body, headers, signed=True))
            case _:
                path = rng.choice(
                    ["/sms/inbound", "/sms/status", "/slack/events", "/api/v1/cases", chat_path]
                )
                if path == chat_path:
                    path = "/c/not-a-token/messages"
                headers = {"Content-Type": content_type, "X-Twilio-Signature": "forged"}
                probes.append(Probe(f"unsigned {path}", path, body, headers, signed=False))
    return probes


def rows(database: Path) -> tuple[int, ...]:
    with sqlite3.connect(database) as connection:
        return tuple(
            connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("messages", "cases", "contacts", "notes")
        )


def texts(target: Target, phones: list[str]) -> list[float]:
    """Each customer texts STATUS once, one after the other; their answer times."""
    seconds = []
    for phone in phones:
        probe = target.twilio("/sms/inbound", sms_form(phone, "STATUS"))
        status, _, took = target.request("POST", probe.path, probe.body, probe.headers)
        if status != 200:
            raise RuntimeError(f"a customer's STATUS got {status}")
        seconds.append(took)
    return seconds


def p99(values: list[float]) -> float:
    return percentile(values, 0.99)


def start_app(tmp: Path, database: Path, fake: FakeSlack) -> tuple[Process, Target]:
    port = free_port()
    target = Target(port)
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{database}",
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": fake.token,
        "SLACK_API_URL": fake.url,
        "SECRET_KEY": "bench-secret-key",
        "API_TOKEN": API_TOKEN,
        "KEEPPOSTED_PUBLIC_URL": target.public_url,
        "LOG_LEVEL": "WARNING",
    }
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "python:bot.gunicorn_conf",
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        "2",
        "--threads",
        "4",
        "--timeout",
        "30",
        "bot.app:create_app()",
    ]
    server = Process("gunicorn", argv, env, tmp / "gunicorn.log")
    server.start()
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if not server.alive:
            raise RuntimeError(server.log_tail())
        try:
            if target.request("GET", "/healthz")[0] == 200:
                return server, target
        except (OSError, HTTPException):
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError("the app did not get ready:\n" + server.log_tail())


def open_cases(target: Target, phones: list[str]) -> str:
    """A case per customer; returns the first one's chat messages path."""
    chat_path = ""
    for phone in phones:
        body = json.dumps({"subject": "Internet down", "contact": {"phone": phone}}).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"}
        status, data, _ = target.request("POST", "/api/v1/cases", body, headers)
        if status != 201:
            raise RuntimeError(f"opening a case got {status}: {data[:300]!r}")
        chat_path = (
            chat_path
            or json.loads(data)["webchat_url"].split(target.public_url, 1)[1] + "/messages"
        )
    return chat_path


def hammer(target: Target, probes: list[Probe], stop: threading.Event) -> Callable[[], None]:
    def run() -> None:
        while not stop.is_set():
            for probe in probes:
                fresh = probe
                if probe.path == "/slack/events":  # a fresh timestamp, or it is a replay
                    fresh = target.slack(probe.body, probe.headers["Content-Type"])
                target.request("POST", fresh.path, fresh.body, fresh.headers)

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 random bodies, 20 customers")
    parser.add_argument("--random", type=int, default=600, help="random corpus requests")
    parser.add_argument("--customers", type=int, default=60, help="customers texting STATUS")
    parser.add_argument("--seed", type=int, default=20261202)
    options = parser.parse_args(argv)
    if options.quick:
        options.random, options.customers = 60, 20
    checks = Checks()
    phones = [f"+1415555{n:04d}" for n in range(options.customers)]
    with tempfile.TemporaryDirectory() as folder, FakeSlack() as fake:
        tmp = Path(folder)
        database = tmp / "keepposted.db"
        upgrade(f"sqlite:///{database}")
        server, target = start_app(tmp, database, fake)
        try:
            chat_path = open_cases(target, phones)
            texts(target, phones[:5])  # warm up both workers
            baseline = texts(target, phones)
            median = statistics.median(baseline)
            print(
                f"baseline: {len(baseline)} STATUS texts, median {median * 1000:.1f} ms, "
                f"p99 {p99(baseline) * 1000:.1f} ms"
            )

            corpus = named_probes(target, chat_path) + random_probes(
                target, chat_path, options.random, options.seed
            )
            timed: list[Timed] = []
            for probe in corpus:
                if probe.path == "/slack/events" and probe.signed:
                    probe = target.slack(probe.body, probe.headers["Content-Type"])
                before = rows(database) if not probe.signed else None
                status, _, took = target.request("POST", probe.path, probe.body, probe.headers)
                timed.append(Timed(probe, status, took))
                if before is not None and rows(database) != before:
                    checks.fail(f"an unsigned request to {probe.path} stored something")
            errors = [t for t in timed if t.status >= 500]
            checks.expect("corpus answers that are 5xx", len(errors), 0)
            for error in errors[:5]:
                print(f"    {error.status} {error.probe.label}: {error.probe.body[:80]!r}")
            accepted = [t for t in timed if 200 <= t.status < 300]
            slowest = max(timed, key=lambda t: t.seconds)
            print(f"corpus: {len(timed)} requests, {len(accepted)} accepted (2xx)")
            if accepted:
                worst = max(accepted, key=lambda t: t.seconds)
                print(
                    f"  slowest accepted: {worst.seconds * 1000:.1f} ms "
                    f"= {worst.seconds / median:.1f}x the baseline median "
                    f"({worst.probe.label}, {len(worst.probe.body):,} bytes)"
                )
            print(
                f"  slowest of all: {slowest.seconds * 1000:.1f} ms "
                f"= {slowest.seconds / median:.1f}x the baseline median "
                f"({slowest.probe.label}, {len(slowest.probe.body):,} bytes, {slowest.status})"
            )

            worst_three = [t.probe for t in sorted(timed, key=lambda t: -t.seconds)[:3]]
            stop = threading.Event()
            threads = [
                threading.Thread(target=hammer(target, worst_three, stop), daemon=True)
                for _ in range(2)
            ]
            for thread in threads:
                thread.start()
            try:
                beside = texts(target, phones)
            finally:
                stop.set()
                for thread in threads:
                    thread.join(timeout=120)
            print(
                f"interference: {len(beside)} STATUS texts beside the 3 slowest inputs on 2 "
                f"threads: median {statistics.median(beside) * 1000:.1f} ms "
                f"= {statistics.median(beside) / median:.2f}x the baseline median, p99 "
                f"{p99(beside) * 1000:.1f} ms = {p99(beside) / median:.2f}x"
            )
        finally:
            server.stop()
    return 1 if checks.problems else 0


if __name__ == "__main__":
    sys.exit(main())
