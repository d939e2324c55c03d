"""Web chat polling benchmark: how many open chat pages one web process carries, beside a bare
Flask endpoint served the same way in the same run.

An open page (`GET /c/<token>`) polls `GET /c/<token>/messages?after=<cursor>` every 2 seconds,
so open pages = 2 x polls/s. Per poll the app checks the signed link (itsdangerous), loads the
case and its contact, reads the public timeline after the cursor, renders the status line and
answers JSON (`bot/web/webchat.py` `messages()`).

*The app* is `bot.app:create_app()` under gunicorn with SECRET_KEY and API_TOKEN set, over a SQLite
file in a temp dir. --cases cases are seeded through `bot.engine.actions.open_case`, an hour ago,
each for its own contact, with a timeline of 2 sent updates, the customer's question and a sent
answer (outbound rows with their sent outbox row), all older than the cursor's 30 s settling time.
Each case's link is minted with `core.links.token(case)`. Two runs, over the cases in turn in a
shuffled order: --requests/2 *steady* polls (after=<the case's last id>: nothing new, what an open
page does all day; the page itself renders the timeline and hands the script its cursor) and
--first-polls *first* polls (after=0: the whole timeline; default --requests/10, as they are rare
and slow). Each bare run sends --requests/2.

*bare* (`bare_app` below): Flask with one `GET /c/<token>/messages` answering a fixed small JSON;
no signature, no database. Same gunicorn settings, same request paths.

Run order: bare, app steady, app first, bare; ratios use the mean of the two bare runs. The
gunicorn, timing and CPU helpers come from `sms_webhook` (see its docstring); the load here is
GET over http.client from --concurrency threads, each answer kept and checked after the timing.

--profile K: afterwards, K steady and K first polls in this process (Flask's test client, same
database) under cProfile: time and SQL statements per poll, and where the time goes.

Run from the repository root: `python -m bench.webchat_poll [--quick] [--cases N] [--requests N]
[--first-polls N] [--workers W] [--threads T] [--concurrency C] [--profile K]` (--quick: 200
cases, 1,000 requests, 50 warm-up, every check made). Exits non-zero when a check fails: an app
answer that is not 200 JSON for the case its token was minted for, with the seeded messages on a
first poll and none on a steady one, and the case's last message id as cursor; a bare answer
that is not 200; a traceback in a server's log."""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import json
import os
import pstats
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from http.client import HTTPConnection, HTTPException
from pathlib import Path

from flask import Flask, Response, jsonify
from sqlalchemy import func, select

from bench import sms_webhook as sms
from bench.sql_counter import SqlCounter
from bot.config import Settings
from bot.core import Core, create_core
from bot.domain import Direction, MessageStatus, OutboxKind, OutboxStatus
from bot.store.migrate import upgrade
from bot.store.models import Case, Message, Outbox

FULL_SIZES = {"cases": 2000, "requests": 20000, "warmup": 200}
QUICK_SIZES = {"cases": 200, "requests": 1000, "warmup": 50}
TIMELINE = (  # (direction, body), oldest first, 5 minutes apart
    (Direction.OUT, "We are on it: a technician is looking at your line."),
    (Direction.OUT, "Update: the fault is at the street cabinet; parts are on their way."),
    (Direction.IN, "Thanks. Any idea when it will be back?"),
    (Direction.OUT, "We expect it back this afternoon; we will tell you as soon as it is."),
)

# -- the baseline: served by gunicorn as `bench.webchat_poll:bare_app` -------------------------

bare_app = Flask("bare")
BARE_ANSWER = {
    "case": {"label": "#1", "subject": "Internet down", "status": "open", "status_text": "Open"},
    "state": {"awaiting": None, "can_reopen": False},
    "messages": [],
    "cursor": 0,
}


@bare_app.get("/c/<token>/messages")
def bare_messages(token: str) -> Response:
    return jsonify(BARE_ANSWER)


@bare_app.get("/healthz")
def bare_healthz() -> Response:
    return Response("ok")


# -- setup --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    case_id: int
    token: str
    count: int  # messages in its timeline
    last_id: int


def seed(core: Core, n: int) -> list[Seeded]:
    then = core.clock.now() - timedelta(hours=1)
    for batch in sms.chunks(range(n), sms.SEED_BATCH):
        with core.sessions.begin() as session:
            for i in batch:
                case = sms.open_bench_case(session, core, i, f"+1415{7_770_000 + i:07d}", then)
                for k, (direction, body) in enumerate(TIMELINE, 1):
                    at, inbound = then + timedelta(minutes=5 * k), direction == Direction.IN
                    both = {"case_id": case.id, "channel": "sms", "body": body}
                    message = Message(
                        **both,
                        contact_id=case.contact_id,
                        address=case.contact.phone,
                        direction=direction,
                        status=MessageStatus.RECEIVED if inbound else MessageStatus.SENT,
                        at=at,
                        handled_at=at if inbound else None,
                    )
                    session.add(message)
                    if not inbound:  # and the outbox row it went out through, sent
                        session.add(
                            Outbox(
                                **both,
                                message=message,
                                kind=OutboxKind.INTERIM,
                                address=message.address,
                                status=OutboxStatus.SENT,
                                attempts=1,
                                not_before=at,
                                created_at=at,
                                sent_at=at,
                            )
                        )
    assert core.links is not None
    with core.sessions() as session:
        per_case = select(Message.case_id, func.count(), func.max(Message.id))
        stats = {row[0]: row[1:] for row in session.execute(per_case.group_by(Message.case_id))}
        return [
            Seeded(case.id, core.links.token(case), *stats[case.id])
            for case in session.scalars(select(Case).order_by(Case.id))
        ]


# -- load and checks ----------------------------------------------------------------------------


Poll = tuple[Seeded, int]  # the case, and the `after` asked with
Answers = list[tuple[int, bytes] | None]  # (status, body) per path; None: no answer


def poll(
    server: sms.Server, label: str, paths: Sequence[str], concurrency: int
) -> tuple[sms.Run, Answers]:
    """GET every path once from `concurrency` threads; time the whole and each, keep answers."""
    answers: Answers = [None] * len(paths)
    latencies: list[float] = []
    errors: list[str] = []
    turn = itertools.count()  # next() on it is atomic under the GIL
    gate = threading.Barrier(concurrency + 1)

    def client() -> None:
        conn: HTTPConnection | None = None
        gate.wait()
        while (i := next(turn)) < len(paths):
            began = time.perf_counter()
            try:
                conn = conn or HTTPConnection(
                    sms.HOST, server.port, timeout=sms.REQUEST_TIMEOUT_SECONDS
                )
                conn.request("GET", paths[i])
                response = conn.getresponse()
                answers[i] = (response.status, response.read())
                latencies.append(time.perf_counter() - began)
                if response.will_close:
                    conn.close()
                    conn = None
            except (OSError, HTTPException) as exc:
                errors.append(f"{paths[i]}: {type(exc).__name__}: {exc}")
                conn = None
        if conn is not None:
            conn.close()

    seconds, server_cpu, client_cpu = sms.run_clients(server, client, concurrency, gate)
    return sms.Run(label, latencies, seconds, errors, server_cpu, client_cpu), answers


def check(run: sms.Run, answers: Answers, polls: Sequence[Poll], app: bool) -> None:
    """App: 200 JSON for the token's case, every seeded message on a first poll and none on a
    steady one, the case's last id as cursor. Bare: 200."""
    for (case, after), answer in zip(polls, answers, strict=True):
        if answer is None:
            continue  # no answer: counted in errors already
        status, body = answer
        got: object = status
        want: object = 200
        if app:
            want = (200, f"#{case.case_id}", case.count if after == 0 else 0, case.last_id)
            try:
                data = json.loads(body)
                got = (status, data["case"]["label"], len(data["messages"]), data["cursor"])
            except (ValueError, TypeError, KeyError):
                got = (status, body[:200])
        if got != want:
            run.errors.append(f"case {case.case_id} after={after}: {got!r}, expected {want!r}")


def profile_in_process(core: Core, polls: dict[str, list[Poll]], top: int) -> str:
    """The polls through Flask's test client: timed, then again under cProfile."""
    from bot.app import create_app

    client = create_app(core=core).test_client()
    counter = SqlCounter()
    counter.attach(core.engine)
    out = io.StringIO()
    for kind, mine in polls.items():
        urls = [f"/c/{case.token}/messages?after={after}" for case, after in mine]
        counter.statements = 0
        began = time.perf_counter()
        bad = sum(client.get(url).status_code != 200 for url in urls)
        ms = (time.perf_counter() - began) * 1000 / len(urls)
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [client.get(url) for url in urls])  # noqa: B023 - called here
        print(
            f"in-process {kind} poll (Flask test client, 1 thread): {ms:.2f} ms, "
            f"{counter.statements / (2 * len(urls)):.1f} SQL statements per poll, {bad} non-200; "
            "under cProfile, by cumulative time:",
            file=out,
        )
        stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("cumulative")
        stats.print_stats(top)
    return out.getvalue()


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.webchat_poll",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    add = parser.add_argument
    full, quick = FULL_SIZES, ", ".join(f"{value} {name}" for name, value in QUICK_SIZES.items())
    add("--quick", action="store_true", help=f"{quick} (seconds), with the same checks")
    add("--cases", type=int, help=f"seeded cases, each with its own link (default {full['cases']})")
    add("--requests", type=int, help=f"N/2 polls to bare and steady (default {full['requests']})")
    add("--first-polls", type=int, help="polls in the first-poll run (default: N/10)")
    add("--warmup", type=int, help=f"warm-up polls per server (default {full['warmup']})")
    add("--concurrency", type=int, default=8, help="client threads")
    add("--workers", type=int, default=2, help="gunicorn workers, both servers")
    add("--threads", type=int, default=1, help="gunicorn threads per worker (>1: gthread)")
    add("--profile", type=int, default=0, metavar="K", help="then K+K polls under cProfile")
    add("--profile-top", type=int, default=25, help="functions to list")
    args = parser.parse_args(argv)
    for name, value in (QUICK_SIZES if args.quick else FULL_SIZES).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.first_polls is None:
        args.first_polls = max(args.requests // 10, 1)
    least = (args.cases, args.requests // 2, args.first_polls, args.concurrency, args.workers)
    if min(*least, args.threads) < 1:
        parser.error(
            "--cases, --first-polls, --concurrency, --workers, --threads >= 1 and --requests >= 2"
        )
    return args


def measure(
    args: argparse.Namespace, env: dict[str, str], tmp: Path, polls: dict[str, list[Poll]]
) -> tuple[list[sms.Run], list[str]]:
    """Warm-up, then bare, app steady, app first, bare, each checked after its timing; and what
    went wrong in the servers' logs."""
    gunicorn_args = ["--workers", str(args.workers), "--threads", str(args.threads)]
    bare = sms.Server(
        "bare", "bench.webchat_poll:bare_app", sms.free_port(), gunicorn_args, env, tmp
    )
    app = sms.Server("app", "bot.app:create_app()", sms.free_port(), gunicorn_args, env, tmp)
    plan = [(bare, "warm-up", "warm"), (app, "warm-up", "warm"), (bare, "endpoint (1st)", "steady")]
    plan += [(app, "steady (after=last)", "steady"), (app, "first (after=0)", "first")]
    plan += [(bare, "endpoint (2nd)", "steady")]
    runs = []
    try:
        for server in (bare, app):
            server.start()
        for server in (bare, app):
            server.wait_ready()
        for server, label, kind in plan:
            paths = [f"/c/{case.token}/messages?after={after}" for case, after in polls[kind]]
            run, answers = poll(server, f"{server.label} {label}", paths, args.concurrency)
            check(run, answers, polls[kind], server is app)
            runs.append(run)
    finally:
        for server in (bare, app):
            server.stop()
    logged = [f"{s.label} logged errors:\n{s.log_tail()}" for s in (bare, app) if s.log_errors()]
    return runs, logged


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="keepposted-bench-"))
    try:
        config = sms.write_config(tmp / "config.yaml", sms.PUBLIC_URL)
        url = f"sqlite:///{tmp / 'keepposted.db'}"
        upgrade(url)
        secret_key = secrets.token_hex(32)
        core = create_core(config, Settings(database_url=url, secret_key=secret_key))
        began = time.perf_counter()
        cases = seed(core, args.cases)
        seed_seconds = time.perf_counter() - began
        shuffled = random.Random(1).sample(cases, len(cases))  # every case in turn, shuffled
        turns = list(itertools.islice(itertools.cycle(shuffled), args.requests // 2))
        steady = [(case, case.last_id) for case in turns]
        first = [(case, 0) for case in itertools.islice(itertools.cycle(turns), args.first_polls)]
        polls = {"warm": steady[: args.warmup], "steady": steady, "first": first}
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SLACK_"))}
        env |= {"DATABASE_URL": url, "KEEPPOSTED_CONFIG": str(tmp / "config.yaml")}
        env |= {"SECRET_KEY": secret_key, "API_TOKEN": secrets.token_hex(16)}
        env.pop("WEB_CONCURRENCY", None)
        runs, logged = measure(args, env, tmp, polls)

        worker_class = "gthread" if args.threads > 1 else "sync"
        print(
            f"keepposted GET /c/<token>/messages (web chat poll) on SQLite file (WAL); gunicorn "
            f"{worker_class}, {args.workers} workers x {args.threads} threads, {os.cpu_count()} "
            f"CPUs; {args.concurrency} client threads in this process"
        )
        print(
            f"seed ({args.cases} cases x {len(TIMELINE)} messages, not measured): "
            f"{seed_seconds:.2f} s; warm-up {args.warmup} polls per server\n"
        )
        sms.print_runs(runs[2:], count="polls", per="poll")
        bare_mean = (runs[2].throughput + runs[5].throughput) / 2
        print(f"\nbare mean {bare_mean:.0f} polls/s")
        for run in runs[3:5]:
            pages = 2 * run.throughput
            per_core = 2 * run.count / run.server_cpu if run.server_cpu else 0.0
            print(
                f"{run.label}: app / bare {sms.ratio(run.throughput, bare_mean):.2f}; open pages "
                f"at one poll every 2 s: {pages:.0f} for this web process "
                f"({pages / args.workers:.0f} per worker); {per_core:.0f} per CPU core of "
                "gunicorn worker time"
            )
        print()
        checks = sms.Checks(problems=logged)
        for run in runs:
            checks.expect(f"{run.label}: answers that failed the check", len(run.errors), 0)
            if run.errors:
                checks.problems.append(f"{run.label}, first error: {run.errors[0]}")
        print("\n".join(checks.lines))
        if checks.problems:
            print("FAILED:\n" + "\n".join(f"  - {problem}" for problem in checks.problems))
        if args.profile:
            k = args.profile
            some = {"steady": steady[:k], "first": first[:k]}
            print("\n" + profile_in_process(core, some, args.profile_top))
        core.engine.dispose()
        return 1 if checks.problems else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
