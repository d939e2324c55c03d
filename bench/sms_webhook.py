"""Inbound SMS webhook benchmark: signed `YES` replies against the app under gunicorn, beside two
baselines served the same way in the same run: a bare Flask endpoint and a durable floor.

What is compared, and why ------------------------- *The app* is `bot.app:create_app()` under
gunicorn (what the Procfile and `keepposted serve` run) answering `POST /sms/inbound` as Twilio
calls it: the form fields of `bot.demo.simulate.inbound_form`, signed in X-Twilio-Signature over
`public_url` + path. `public_url` is the fixed PUBLIC_URL below, in the app's config and for every
server, so one set of signed requests serves all three. Every request is a different customer's
`YES` to their one case that was resolved and awaits confirmation, with its own MessageSid. Per
request the app checks the signature, stores the message (insert-or-ignore on MessageSid) and
answers empty TwiML; the flows run in the worker. After the HTTP runs, the worker's job
(`bot.engine.inbound.handle_received`) reads and answers every stored reply in this process, timed:
it confirms and closes each case, appends to the case's hash-chained log, and queues the thank-you
and the CSAT question. The checks then prove all of it happened.

The SMS channel is live, as in production (a made-up account SID; its API base URL points at a
closed local port so that nothing could reach Twilio). On the webhook path that makes no
difference; --dry-run-channel runs without TWILIO_ACCOUNT_SID instead.

Two baselines, served by the same gunicorn (same workers, threads, worker class, bind) and sent
the identical request bytes:

- *bare* (`bare_app` below): Flask with one `POST /sms/inbound` that parses the form and answers
  a fixed TwiML; no signature check, no database. The floor of HTTP + gunicorn + Flask + this
  load generator on this machine.
- *floor* (`floor_app` below): the least a webhook that keeps the customer's words durably must
  do. It checks X-Twilio-Signature with twilio's RequestValidator over the same public URL + path,
  runs one `INSERT ... ON CONFLICT (sid) DO NOTHING` of (sid, from, body) into a one-table
  database and commits, then answers the same fixed TwiML. The database is a separate SQLite
  file in the temp dir opened with `bot.store.db.make_engine` (the app's WAL, synchronous=NORMAL,
  BEGIN IMMEDIATE); its table is made here before gunicorn starts. It stays SQLite under
  --database-url, so app / floor then compares PostgreSQL with SQLite.

Run order: bare, floor, app, bare, so that drift shows; ratios to bare use the mean of the two
bare runs. Printed: app / bare (the issue's target: >= 0.60), app / floor (what the app costs
over storing the message at all) and floor / bare (how much of the gap is the bare cost of
storing anything).

Load: every request is built and signed before timing. --concurrency client threads in this
process post them with http.client, opening a new connection whenever the server closes one
(sync workers close after every response; gthread workers keep alive), and time each request with
perf_counter from send to last byte. Every server gets a warm-up first; the app's warm-up uses
cases of its own, so the measured cases are untouched. Also shown: CPU seconds per request of the
gunicorn workers (read from /proc) and of the load generator, which share the machine's cores.

Seeding (N + warm-up contacts, each with one case opened and resolved through `bot.engine.actions`,
500 per transaction) is not measured. SQLite (a file in a temp dir, the single-machine default)
unless --database-url names an empty throwaway PostgreSQL database.

--profile K: afterwards, K more seeded `YES` replies go through the app in this process (Flask's
test client, same database, no HTTP) under cProfile; prints the time per request, the SQL
statements and commits per request, and the functions where the time goes.

Run from the repository root: `python -m bench.sms_webhook [--quick] [--requests N]
[--workers W] [--threads T] [--concurrency C] [--database-url URL] [--dry-run-channel]
[--profile K]` (--quick: 300 requests per server and 30 warm-up, every check made). Exits
non-zero when a check fails: an app answer that is not 200 with a <Message>, a bare or floor
answer that is not 200 with the fixed TwiML, a floor database that does not hold one row per
distinct request it got, or an app database that does not hold exactly one inbound message and
one confirmed, closed case per request sent, with `log.verify` ok.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from http.client import HTTPConnection, HTTPException
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlencode

import yaml
from flask import Flask, Response, request
from sqlalchemy import Column, MetaData, String, Table, Text, func, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from bench.sql_counter import SqlCounter
from bot.config import Config, Settings, load_config
from bot.core import Core, create_core
from bot.demo.simulate import inbound_form
from bot.domain import CaseStatus, CloseReason, Direction
from bot.engine import actions
from bot.ledger import chain as log
from bot.store.db import is_sqlite, make_engine
from bot.store.migrate import upgrade
from bot.store.models import Case, Contact, Message

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
# What every request is signed over and every server checks against (+ path): one set of signed
# requests for all three servers, whatever port each listens on. Nothing resolves it.
PUBLIC_URL = "http://bench.invalid"
SMS_FROM = "+15005550006"
SEED_BATCH = 500
READY_TIMEOUT_SECONDS = 60
REQUEST_TIMEOUT_SECONDS = 30
TARGET_RATIO = 0.60
FULL_SIZES = {"requests": 2000, "warmup": 200}
QUICK_SIZES = {"requests": 300, "warmup": 30}
BARE_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Message>Thank you.</Message></Response>'
)

T = TypeVar("T")

# -- the baseline: served by gunicorn as `bench.sms_webhook:bare_app` -------------------------

bare_app = Flask("bare")


@bare_app.post("/sms/inbound")
def bare_inbound() -> Response:
    if not request.form.get("MessageSid"):  # parse the form, as any webhook must
        return Response("no MessageSid", status=400)
    return Response(BARE_TWIML, mimetype="application/xml")


@bare_app.get("/healthz")
def bare_healthz() -> Response:
    return Response("ok")


# -- the durable floor: served by gunicorn as `bench.sms_webhook:floor_app` -------------------

floor_metadata = MetaData()
floor_messages = Table(
    "inbound_messages",
    floor_metadata,
    Column("sid", String(64), primary_key=True),
    Column("sender", String(64), nullable=False),
    Column("body", Text, nullable=False),
)
FLOOR_INSERT = sqlite_insert(floor_messages).on_conflict_do_nothing(index_elements=["sid"])

# Read at import, once per gunicorn worker; the bench sets these for the floor server only (the
# table is created by the bench before gunicorn starts, so workers do not race to create it).
FLOOR_DATABASE_URL = os.environ.get("BENCH_FLOOR_DATABASE_URL")
floor_engine = make_engine(FLOOR_DATABASE_URL) if FLOOR_DATABASE_URL else None
floor_public_url = os.environ.get("BENCH_PUBLIC_URL", "").rstrip("/")
floor_validator = RequestValidator(os.environ.get("TWILIO_AUTH_TOKEN", ""))

floor_app = Flask("floor")


@floor_app.post("/sms/inbound")
def floor_inbound() -> Response:
    """Signature, then one idempotent insert of the customer's words, committed; fixed TwiML."""
    if floor_engine is None:
        return Response("BENCH_FLOOR_DATABASE_URL is not set", status=500)
    form = request.form
    signature = request.headers.get("X-Twilio-Signature", "")
    query = request.query_string.decode("latin-1")
    signed_url = f"{floor_public_url}{request.path}" + (f"?{query}" if query else "")
    if not signature or not floor_validator.validate(signed_url, form, signature):
        return Response("bad signature", status=403)
    sid, sender = form.get("MessageSid"), form.get("From")
    if not sid or not sender:
        return Response("no MessageSid or From", status=400)
    with floor_engine.begin() as connection:
        connection.execute(
            FLOOR_INSERT, {"sid": sid, "sender": sender, "body": form.get("Body", "")}
        )
    return Response(BARE_TWIML, mimetype="application/xml")


@floor_app.get("/healthz")
def floor_healthz() -> Response:
    return Response("ok")


def create_floor_database(url: str) -> None:
    engine = make_engine(url)
    try:
        floor_metadata.create_all(engine)
    finally:
        engine.dispose()


def count_floor_rows(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(floor_messages)) or 0)
    finally:
        engine.dispose()


# -- setup --------------------------------------------------------------------------------------


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def phone(i: int) -> str:
    return f"+1415{5_550_000 + i:07d}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def write_config(path: Path, public_url: str) -> Config:
    data = {
        "public_url": public_url,
        "timezone": "America/New_York",
        "quiet_hours": {"enabled": False},
        "channels": {"sms": {"from": SMS_FROM}},
    }
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(path)  # what the app will read


def open_bench_case(session: Session, core: Core, i: int, phone: str, now: datetime) -> Case:
    """Customer i's case, opened through the app's own action as the API would open it."""
    return actions.open_case(
        session,
        core,
        subject=f"Internet down (site {i})",
        contact={"name": f"Customer {i}", "phone": phone},
        actor="bench",
        now=now,
    )


def seed(core: Core, first: int, count: int) -> float:
    """Contacts first .. first+count-1, each with one case resolved and awaiting their word."""
    started = time.perf_counter()
    now = core.clock.now()
    for batch in chunks(range(first, first + count), SEED_BATCH):
        with core.sessions.begin() as session:
            for i in batch:
                case = open_bench_case(session, core, i, phone(i), now)
                actions.resolve(
                    session,
                    core,
                    case,
                    resolution="We replaced the line card.",
                    actor="bench",
                    now=now,
                )
    return time.perf_counter() - started


@dataclass(frozen=True)
class Prepared:
    body: bytes
    headers: dict[str, str]


def build_requests(
    config: Config, token: str, run: int, indexes: range
) -> tuple[list[Prepared], list[dict[str, str]]]:
    """Signed `YES` webhooks from contacts `indexes`, as bytes on the wire and as forms."""
    url = config.public_url.rstrip("/") + "/sms/inbound"
    validator = RequestValidator(token)
    prepared, forms = [], []
    for i in indexes:
        form = inbound_form(config, phone(i), "YES", sid=f"SM{run:08x}{i:024x}")
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": validator.compute_signature(url, form),
        }
        prepared.append(Prepared(urlencode(form).encode(), headers))
        forms.append(form)
    return prepared, forms


# -- gunicorn -----------------------------------------------------------------------------------


class Server:
    """One gunicorn master and its workers, output to a log file."""

    def __init__(
        self,
        label: str,
        app_spec: str,
        port: int,
        gunicorn_args: list[str],
        env: dict[str, str],
        tmp: Path,
    ) -> None:
        self.label = label
        self.port = port
        self.log_path = tmp / f"{label}.log"
        self.command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"{HOST}:{self.port}",
            "--chdir",
            str(ROOT),
            *gunicorn_args,
            app_spec,
        ]
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("wb") as out:
            self.process = subprocess.Popen(
                self.command, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.label} server exited:\n{self.log_tail()}")
            try:
                conn = HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except (OSError, HTTPException):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.label} server not ready in {READY_TIMEOUT_SECONDS}s")

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        pid = self.process.pid
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # gunicorn: graceful shutdown of the workers
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def log_errors(self) -> int:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return 0
        return text.count("Traceback") + text.count("[CRITICAL]")


def cpu_seconds(pids: Sequence[int]) -> float | None:
    """User + system CPU time of the processes, from /proc; None where that is not available."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks if pids else None


# -- load ---------------------------------------------------------------------------------------

Check = Callable[[int, bytes], str | None]


def check_answer(status: int, body: bytes) -> str | None:
    """200 with a TwiML answer (the app's is empty: its worker sends the thank-you)."""
    if status != 200 or b"<Response" not in body:
        return f"{status}: {body[:200]!r}"
    return None


@dataclass
class Run:
    label: str
    latencies: list[float]
    seconds: float
    errors: list[str]
    server_cpu: float | None
    client_cpu: float

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def percentile(self, p: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1]


def fire(
    server: Server, label: str, prepared: Sequence[Prepared], concurrency: int, check: Check
) -> Run:
    """Post every prepared request once from `concurrency` threads; time the whole and each."""
    lock = threading.Lock()
    pending = iter(prepared)
    latencies: list[float] = []
    errors: list[str] = []
    start = threading.Barrier(concurrency + 1)

    def client() -> None:
        conn: HTTPConnection | None = None
        mine: list[float] = []
        problems: list[str] = []
        start.wait()
        while True:
            with lock:
                item = next(pending, None)
            if item is None:
                break
            began = time.perf_counter()
            try:
                if conn is None:
                    conn = HTTPConnection(HOST, server.port, timeout=REQUEST_TIMEOUT_SECONDS)
                conn.request("POST", "/sms/inbound", item.body, item.headers)
                response = conn.getresponse()
                body = response.read()
                if response.will_close:
                    conn.close()
                    conn = None
            except (OSError, HTTPException) as exc:
                problems.append(f"{type(exc).__name__}: {exc}")
                if conn is not None:
                    conn.close()
                conn = None
                continue
            mine.append(time.perf_counter() - began)
            problem = check(response.status, body)
            if problem is not None:
                problems.append(problem)
        if conn is not None:
            conn.close()
        with lock:
            latencies.extend(mine)
            errors.extend(problems)

    seconds, server_cpu, client_cpu = run_clients(server, client, concurrency, start)
    return Run(label, latencies, seconds, errors, server_cpu, client_cpu)


def run_clients(
    server: Server, client: Callable[[], None], concurrency: int, start: threading.Barrier
) -> tuple[float, float | None, float]:
    """Run `concurrency` client threads, released together at `start` (a barrier of
    concurrency + 1), to the last answer: wall seconds, the gunicorn workers' CPU seconds (None
    when /proc cannot tell) and this process's CPU seconds."""
    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    pids = server.worker_pids()
    cpu_before = cpu_seconds(pids)
    client_before = time.process_time()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    client_cpu = time.process_time() - client_before
    cpu_after = cpu_seconds(pids)
    server_cpu = (
        cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    )
    return seconds, server_cpu, client_cpu


# -- checks -------------------------------------------------------------------------------------


@dataclass
class Checks:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def expect(self, what: str, got: object, want: object) -> None:
        if got == want:
            self.lines.append(f"ok: {what}: {got}")
        else:
            self.problems.append(f"{what}: {got}, expected {want}")


def check_database(core: Core, expected: int, checks: Checks) -> None:
    with core.sessions() as session:
        inbound = session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.direction == Direction.IN, Message.body == "YES")
        )
        closed = session.scalar(
            select(func.count())
            .select_from(Case)
            .where(Case.status == CaseStatus.CLOSED, Case.close_reason == CloseReason.CONFIRMED)
        )
        thanked = session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.direction == Direction.OUT, Message.template == "confirm_thanks")
        )
        checks.expect("inbound YES messages stored", inbound, expected)
        checks.expect("cases closed as confirmed", closed, expected)
        checks.expect("thank-you replies stored", thanked, expected)
        verified = log.verify(session)
    if verified.ok:
        checks.lines.append(f"ok: log.verify: {verified.entries} entries, {verified.chains} chains")
    else:
        checks.problems.append(f"log.verify failed: {verified.first_problem}")


def drain(core: Core) -> tuple[int, float]:
    """Let the worker's job answer every accepted message; (how many, seconds)."""
    from bot.engine.inbound import handle_received

    devnull = open(os.devnull, "w")  # noqa: SIM115 - the dry-run channel prints every reply
    stdout, sys.stdout = sys.stdout, devnull
    try:
        began, answered = time.perf_counter(), 0
        while batch := handle_received(core):
            answered += batch
        return answered, time.perf_counter() - began
    finally:
        sys.stdout = stdout
        devnull.close()


# -- in-process profile -------------------------------------------------------------------------


def profile_in_process(
    config: Config, settings: Settings, forms: list[dict[str, str]], top: int
) -> list[str]:
    """The webhook through Flask's test client (no HTTP, no gunicorn), then the worker's
    answering of those messages under cProfile."""
    from bot.app import create_app
    from bot.engine.inbound import handle_received

    validator = RequestValidator(settings.twilio_auth_token or "")
    url = config.public_url.rstrip("/") + "/sms/inbound"
    signed = [(form, validator.compute_signature(url, form)) for form in forms]
    core = create_core(config, settings)
    try:
        client = create_app(core=core).test_client()
        counter = SqlCounter()
        counter.attach(core.engine)
        problems = 0
        began = time.perf_counter()
        for form, signature in signed:
            response = client.post(
                "/sms/inbound", data=form, headers={"X-Twilio-Signature": signature}
            )
            problems += response.status_code != 200
        accept = (time.perf_counter() - began) / max(len(signed), 1)
        accept_statements, counter.statements, counter.commits = counter.statements, 0, 0
        profiler = cProfile.Profile()
        profiler.enable()
        began = time.perf_counter()
        answered = 0
        while batch := handle_received(core):
            answered += batch
        answer = (time.perf_counter() - began) / max(answered, 1)
        profiler.disable()
    finally:
        core.engine.dispose()
    n = len(signed)
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    return [
        f"in-process, 1 thread: the webhook (Flask test client) {accept * 1000:.2f} ms and "
        f"{accept_statements / n:.1f} SQL statements per request, {problems} non-200 answers; "
        f"the worker answering them (under cProfile) {answer * 1000:.2f} ms, "
        f"{counter.statements / max(answered, 1):.1f} SQL statements and "
        f"{counter.commits / max(answered, 1):.1f} commits per message",
        stream.getvalue(),
    ]


# -- report -------------------------------------------------------------------------------------


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def print_runs(runs: Sequence[Run], *, count: str = "requests", per: str = "req") -> None:
    """One row per run: throughput, latency, errors and CPU per request of both sides."""
    header = (
        f"{'server':<24}{count:>9}{'seconds':>9}{per + '/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}{f'srv CPU ms/{per}':>17}{f'cli CPU ms/{per}':>17}"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        server_cpu = (
            f"{run.server_cpu * 1000 / max(run.count, 1):.2f}"
            if run.server_cpu is not None
            else "-"
        )
        print(
            f"{run.label:<24}{run.count:>9}{run.seconds:>9.2f}{run.throughput:>9.0f}"
            f"{run.percentile(50) * 1000:>9.2f}{run.percentile(99) * 1000:>9.2f}"
            f"{len(run.errors):>8}{server_cpu:>17}"
            f"{run.client_cpu * 1000 / max(run.count, 1):>17.2f}"
        )


def print_table(runs: list[Run], bare_mean: float, floor: Run, app: Run) -> None:
    print_runs(runs)
    print()
    app_bare = ratio(app.throughput, bare_mean)
    verdict = "meets" if app_bare >= TARGET_RATIO else "BELOW"
    if any(run.errors for run in runs):
        verdict = "no verdict: some answers failed the check (see below)"
    print(
        f"app / bare endpoint throughput: {app_bare:.2f} (bare mean {bare_mean:.0f} req/s); "
        f"aim: >= {TARGET_RATIO:.2f}: {verdict}"
    )
    print(
        "app / durable floor (signature + idempotent insert): "
        f"{ratio(app.throughput, floor.throughput):.2f}"
    )
    print(f"floor / bare: {ratio(floor.throughput, bare_mean):.2f}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sms_webhook",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_SIZES['requests']} requests per server (seconds), with the same checks",
    )
    parser.add_argument(
        "--requests",
        type=int,
        help=f"measured requests per server (default {FULL_SIZES['requests']})",
    )
    parser.add_argument(
        "--warmup", type=int, help=f"warm-up requests per server (default {FULL_SIZES['warmup']})"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers, both servers")
    parser.add_argument(
        "--threads", type=int, default=1, help="gunicorn threads per worker (>1: gthread)"
    )
    parser.add_argument("--worker-class", help="gunicorn worker class (default: gunicorn's)")
    parser.add_argument(
        "--database-url", help="an empty throwaway database (default: SQLite in a temp dir)"
    )
    parser.add_argument(
        "--dry-run-channel",
        action="store_true",
        help="SMS channel in dry-run (no account SID), not live (the production path)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="K",
        help="then run K more replies in-process under cProfile",
    )
    parser.add_argument("--profile-top", type=int, default=30, help="functions to list")
    args = parser.parse_args(argv)
    for name, value in (QUICK_SIZES if args.quick else FULL_SIZES).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.requests < 1 or args.concurrency < 1 or args.workers < 1 or args.threads < 1:
        parser.error("--requests, --concurrency, --workers and --threads must be at least 1")
    if args.warmup < 0 or args.profile < 0:
        parser.error("--warmup and --profile cannot be negative")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    n, warm, prof = args.requests, args.warmup, args.profile
    token = secrets.token_hex(16)
    run_id = secrets.randbits(32)
    tmp = Path(tempfile.mkdtemp(prefix="keepposted-bench-"))
    checks = Checks()
    try:
        config_path = tmp / "config.yaml"
        config = write_config(config_path, PUBLIC_URL)
        url = args.database_url or f"sqlite:///{tmp / 'keepposted.db'}"
        upgrade(url)
        floor_url = f"sqlite:///{tmp / 'floor.db'}"
        create_floor_database(floor_url)
        live = (
            {}
            if args.dry_run_channel
            else {
                "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
                "TWILIO_API_BASE_URL": f"http://{HOST}:{free_port()}",
            }
        )
        settings = Settings(
            database_url=url,
            twilio_auth_token=token,
            twilio_account_sid=live.get("TWILIO_ACCOUNT_SID"),
            twilio_api_base_url=live.get("TWILIO_API_BASE_URL"),
        )
        core = create_core(config, settings)
        try:
            with core.sessions() as session:
                if session.scalar(select(func.count()).select_from(Contact)):
                    raise SystemExit(f"{url} is not empty: give an empty, throwaway database")
            seed_seconds = seed(core, 0, n + warm + prof)

            measured, _ = build_requests(config, token, run_id, range(n))
            warmup, _ = build_requests(config, token, run_id, range(n, n + warm))
            _, profile_forms = build_requests(
                config, token, run_id, range(n + warm, n + warm + prof)
            )

            gunicorn_args = ["--workers", str(args.workers), "--threads", str(args.threads)]
            if args.worker_class:
                gunicorn_args += ["--worker-class", args.worker_class]
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("TWILIO_", "SLACK_")) and k != "WEB_CONCURRENCY"
            }
            env |= {
                "DATABASE_URL": url,
                "KEEPPOSTED_CONFIG": str(config_path),
                "TWILIO_AUTH_TOKEN": token,
                "API_TOKEN": secrets.token_hex(16),
                **live,
            }
            runs: list[Run] = []
            warmups: list[Run] = []
            floor_env = env | {
                "BENCH_PUBLIC_URL": PUBLIC_URL,
                "BENCH_FLOOR_DATABASE_URL": floor_url,
            }
            with ExitStack() as stack:
                servers = [
                    Server(label, spec, free_port(), gunicorn_args, server_env, tmp)
                    for label, spec, server_env in (
                        ("bare", "bench.sms_webhook:bare_app", env),
                        ("floor", "bench.sms_webhook:floor_app", floor_env),
                        ("app", "bot.app:create_app()", env),
                    )
                ]
                for server in servers:
                    stack.callback(server.stop)
                    server.start()
                for server in servers:
                    server.wait_ready()
                bare_server, floor_server, app_server = servers

                c = args.concurrency
                if warm:
                    for server in servers:
                        label = f"{server.label} warm-up"
                        warmups.append(fire(server, label, warmup, c, check_answer))
                for server, label in (
                    (bare_server, "bare endpoint (1st)"),
                    (floor_server, "durable floor"),
                    (app_server, "app /sms/inbound"),
                    (bare_server, "bare endpoint (2nd)"),
                ):
                    runs.append(fire(server, label, measured, c, check_answer))
                for server in servers:
                    server.stop()
                    if server.log_errors():
                        checks.problems.append(
                            f"{server.label} server logged errors:\n{server.log_tail()}"
                        )
            worker_class = args.worker_class or ("gthread" if args.threads > 1 else "sync")
            engine = "SQLite file (WAL)" if is_sqlite(url) else "PostgreSQL"
            mode = "dry-run" if args.dry_run_channel else "live"
            print(
                f"keepposted POST /sms/inbound, signed YES to a resolved case, on {engine} "
                f"(the floor: its own SQLite file), SMS channel {mode}; "
                f"gunicorn {worker_class}, {args.workers} workers x {args.threads} threads, "
                f"{os.cpu_count()} CPUs; {c} client threads in this process"
            )
            print(
                f"seed ({n + warm + prof} contacts with a resolved case, not measured): "
                f"{seed_seconds:.2f} s; warm-up {warm} requests per server"
            )
            print()
            bare_first, floor_run, app_run, bare_second = runs
            bare_mean = (bare_first.throughput + bare_second.throughput) / 2
            print_table(runs, bare_mean, floor_run, app_run)
            print()

            for run in warmups + runs:
                checks.expect(f"{run.label}: answers that failed the check", len(run.errors), 0)
                if run.errors:
                    checks.problems.append(f"{run.label}, first error: {run.errors[0]}")
            checks.expect("floor rows stored", count_floor_rows(floor_url), n + warm)
            answered, seconds = drain(core)
            print(
                f"worker, after the runs: read and answered {answered} stored replies in "
                f"{seconds:.2f} s ({answered / max(seconds, 1e-9):.0f}/s): matched each to its "
                "case, confirmed and closed it, logged, queued the thank-you and CSAT question"
            )
            print()
            check_database(core, n + warm, checks)
        finally:
            core.engine.dispose()

        for line in checks.lines:
            print(line)
        if checks.problems:
            print("FAILED:")
            for problem in checks.problems:
                print(f"  - {problem}")
        if prof:
            print()
            for block in profile_in_process(config, settings, profile_forms, args.profile_top):
                print(block)
        return 1 if checks.problems else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
