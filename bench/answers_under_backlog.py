"""A customer's answer is never stuck behind a backlog: STATUS texts answered while 1,000 interim
updates wait on one paced SMS sender.

What is measured ---------------- N interim updates (1,000) are queued on one SMS sender, as when
N cases' first updates come due together (quiet hours ending at 08:00). C customers (50) each
with an open case of their own text `STATUS` at random moments while the backlog drains. For each
the time runs from the moment their signed webhook is posted to `/sms/inbound` to the moment
their answer reaches the fake Twilio (`tests/support/fake_twilio.py`, over HTTP, through the real
twilio client): the webhook stores the text, the worker's `answer_received` job answers it and
queues the reply, the worker's `send_outbox` job sends it. Both jobs run as `keepposted worker`
runs them (bot.worker.schedule_jobs on an APScheduler 3 scheduler, `worker.send_every` 1 s), the
app is served over real HTTP, the database is an SQLite file, the clock is a FrozenClock on a
Monday morning (so no quiet hours interfere), pacing and wall time are real.

Pacing is sped up: a US long code sends 1 segment a second; here the sender's `mps` is SPEEDUP
(50) times that, so a send slot is 20 ms and 1,000 updates drain in 20 s instead of 17 minutes.
Results are printed in seconds and in send slots (1 / mps). The answer's own path (the worker's
polls, the webhook, the database) is not sped up, so the aim is stated in both: p99 within
2 seconds (two polls of `send_every`) plus one send slot.

Baseline, same run: the same backlog and customers with priorities off (every kind in one class,
so the outbox sends in the order rows were queued: `not_before`, then `id`, the order before
priorities), on a fresh database.

Checks (exit 1 when one fails): every customer got an answer, and with priorities the answer's
p99 is within the aim. `--quick` (100 updates, 5 customers) runs in a few seconds for
`make bench-smoke`.

Run from the repository root: `python -m bench.answers_under_backlog [--quick] [--updates N]
[--customers C] [--speedup X] [--seed S]`.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from werkzeug.serving import make_server

from bench.checks import Checks
from bot.app import create_app
from bot.clock import Clock, FrozenClock
from bot.config import Settings, parse_config
from bot.core import Core, create_core
from bot.demo.simulate import inbound_form
from bot.engine import actions
from bot.outbox import priority
from bot.store.migrate import upgrade
from bot.worker import advance_due_updates, schedule_jobs

SPEEDUP = 50.0  # the sender's mps: a US long code's 1 segment a second, times this
SMS_FROM = "+15005550006"
START = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # a Monday, 08:00 in New York
SEED_BATCH = 500
POLLS_IN_AIM = 2.0  # seconds of the aim: two `send_every` polls (answer, then send)


@dataclass
class Run:
    label: str
    latencies: list[float]  # seconds from text to answer, per customer answered
    unanswered: int
    slot: float  # seconds per send slot

    def share(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def config_for(
    public_url: str,
    mps: float,
    senders: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The benches' config; `overrides` replaces whole top-level sections (e.g. `worker`)."""
    return {
        "public_url": public_url,
        "timezone": "America/New_York",
        "quiet_hours": {"start": "21:00", "end": "08:00"},
        # No per-case offset: the backlog is every case's first update due at once, the burst
        # these benchmarks are about (quiet hours ending with spread 0s, or a worker outage).
        "cadences": {"default": {"first_after": "1h", "every": "24h"}, "jitter": 0},
        "channels": {"sms": {"from": senders or [SMS_FROM], "mps": mps}},
        **(overrides or {}),
    }


# New York numbers: a contact's time zone is read from their number, and the run's morning is
# New York's (a San Francisco number would still be in its quiet hours, and nothing queued).
def backlog_phone(i: int) -> str:
    return f"+1212{5_550_000 + i:07d}"


def customer_phone(i: int) -> str:
    return f"+1646{5_550_000 + i:07d}"


def open_cases(core: Core, phones: list[str]) -> None:
    for start in range(0, len(phones), SEED_BATCH):
        with core.sessions.begin() as session:
            for phone in phones[start : start + SEED_BATCH]:
                actions.open_case(
                    session,
                    core,
                    subject="Internet down",
                    contact={"name": "Customer", "phone": phone},
                    actor="bench",
                    now=core.clock.now(),
                )


@contextmanager
def priorities_off() -> Iterator[None]:
    """Every kind in one class: the outbox's order is then `not_before, id`, as before."""
    saved = dict(priority.URGENCY)
    priority.URGENCY.clear()  # urgency_of falls back to the updates' class for every kind
    try:
        yield
    finally:
        priority.URGENCY.update(saved)


@contextmanager
def served(
    database_url: str,
    fake: Any,
    clock: Clock,
    mps: float,
    senders: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Iterator[Core]:
    """The app on an ephemeral port, its core pointed at the fake Twilio; `senders`: the SMS
    pool (one number by default), each at `mps`; `overrides`: config sections of the bench's
    own (config_for)."""
    target: dict[str, Any] = {}
    server = make_server(
        "127.0.0.1", 0, lambda environ, start: target["app"](environ, start), threaded=True
    )
    settings = Settings(
        database_url=database_url,
        api_token="bench-token",
        secret_key="bench-secret",
        twilio_account_sid=fake.account_sid,
        twilio_auth_token=fake.auth_token,
        twilio_api_base_url=fake.url,
    )
    core = create_core(
        parse_config(config_for(f"http://127.0.0.1:{server.port}", mps, senders, overrides)),
        settings,
        clock=clock,
    )
    target["app"] = create_app(core=core)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield core
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        sms = core.channels["sms"]
        close = getattr(sms, "close", None)
        if close is not None:
            close()
        core.engine.dispose()


def run_once(label: str, folder: Path, updates: int, customers: int, mps: float, seed: int) -> Run:
    from tests.support.fake_twilio import FakeTwilio, signed_post  # the provider's side only

    database = folder / f"{label.split()[0]}.db"
    url = f"sqlite:///{database}"
    upgrade(url)
    clock = FrozenClock(START)
    slot = 1.0 / mps
    rng = random.Random(seed)
    with FakeTwilio() as fake, served(url, fake, clock, mps) as core:
        open_cases(core, [backlog_phone(i) for i in range(updates)])
        clock.advance(timedelta(hours=1, minutes=5))  # their first updates are due now
        queued = 0
        while (done := advance_due_updates(core)) > 0:
            queued += done
        phones = [customer_phone(i) for i in range(customers)]
        open_cases(core, phones)  # their own first updates are an hour away
        drain = updates * slot
        moments = sorted(rng.uniform(0.05 * drain, 0.8 * drain) for _ in phones)
        print(f"  {label}: {queued} interim updates queued; {customers} customers text STATUS")
        if queued != updates:  # no backlog, nothing measured
            raise SystemExit(f"{label}: {queued} of {updates} interim updates were queued")

        scheduler = BackgroundScheduler()
        schedule_jobs(scheduler, core, "bench")
        texted: dict[str, float] = {}
        started = time.time()
        scheduler.start()
        try:
            for phone, moment in zip(phones, moments, strict=True):
                time.sleep(max(0.0, started + moment - time.time()))
                form = inbound_form(core.config, phone, "STATUS")
                texted[phone] = time.time()
                response = signed_post(
                    f"{core.config.public_url}/sms/inbound", form, auth_token=fake.auth_token
                )
                response.raise_for_status()
            answered = _answers(fake, texted, deadline=time.time() + drain + 30)
        finally:
            scheduler.shutdown(wait=True)
    latencies = [answered[phone] - texted[phone] for phone in answered]
    return Run(label, latencies, customers - len(answered), slot)


def _answers(fake: Any, texted: dict[str, float], deadline: float) -> dict[str, float]:
    """When each customer's first message after their text reached the fake Twilio."""
    answered: dict[str, float] = {}
    while time.time() < deadline:
        for message in fake.messages:
            at = message.at.timestamp()
            if message.to in texted and message.to not in answered and at >= texted[message.to]:
                answered[message.to] = at
        if len(answered) == len(texted):
            break
        time.sleep(0.05)
    return answered


def report(run: Run) -> None:
    if not run.latencies:
        print(f"  {run.label}: no answers")
        return
    p50, p99 = run.share(0.5), run.share(0.99)
    print(
        f"  {run.label}: text to answer p50 {p50:.2f} s ({p50 / run.slot:,.0f} slots), "
        f"p99 {p99:.2f} s ({p99 / run.slot:,.0f} slots), max {max(run.latencies):.2f} s, "
        f"mean {statistics.fmean(run.latencies):.2f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 updates, 5 customers")
    parser.add_argument("--updates", type=int, default=None)
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--speedup", type=float, default=SPEEDUP, help="the sender's mps")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args(argv)
    for noisy in ("werkzeug", "apscheduler"):  # a line per request and per job run
        logging.getLogger(noisy).setLevel(logging.WARNING)
    updates = args.updates or (100 if args.quick else 1000)
    customers = args.customers or (5 if args.quick else 50)
    mps = args.speedup
    slot = 1.0 / mps
    aim = POLLS_IN_AIM + slot
    print(
        f"answers under a backlog: {updates} interim updates on one SMS sender at {mps:g} "
        f"segments/s (a long code's 1/s x{mps:g}: one send slot = {slot * 1000:.0f} ms, "
        f"the backlog drains in {updates * slot:.1f} s), {customers} customers texting STATUS"
    )
    checks = Checks(aims_are_findings=args.quick)
    with tempfile.TemporaryDirectory(prefix="kp-answers-") as folder:
        ours = run_once("priorities", Path(folder), updates, customers, mps, args.seed)
        baseline = None
        if not args.no_baseline:
            with priorities_off():
                baseline = run_once(
                    "baseline (priorities off)", Path(folder), updates, customers, mps, args.seed
                )
    print("results:")
    report(ours)
    if baseline is not None:
        report(baseline)
    checks.expect("customers answered (priorities)", customers - ours.unanswered, customers)
    if baseline is not None:
        checks.expect("customers answered (baseline)", customers - baseline.unanswered, customers)
    if ours.latencies:
        p99 = ours.share(0.99)
        print(
            f"  ratio p99 / aim ({POLLS_IN_AIM:g} s + one slot = {aim:.2f} s): "
            f"{p99 / aim:.2f} (at most 1)"
        )
        if baseline is not None and baseline.latencies:
            print(f"  ratio baseline p99 / ours: {baseline.share(0.99) / p99:.1f}x")
        if p99 > aim:
            checks.missed_aim(f"p99 {p99:.2f} s is over the aim of {aim:.2f} s")
        else:
            print(f"  ok: p99 {p99:.2f} s within {aim:.2f} s")
    return checks.exit_status()


if __name__ == "__main__":
    sys.exit(main())
