"""A backlog drains at the carrier's limit: segments sent per second against the pool's total
`mps`, for a pool of one number and one of ten.

What is measured ---------------- Enough interim updates are queued that the pool never runs
dry during the run (more than `mps` x numbers x seconds), as when quiet hours end on a busy
morning. The worker's jobs run as `keepposted worker` runs them (bot.worker.schedule_jobs on an
APScheduler 3 scheduler), the app and the fake Twilio (`tests/support/fake_twilio.py`) talk over
real HTTP through the real twilio client, the database is an SQLite file, pacing and wall time
are real. From the first text the fake receives, for the run's length, the segments it
received are counted (`channels/segments.py`, as the pacer counts them).

The physical limit, same run: each number's `mps` times the seconds of the run, summed over the
pool. The ratio printed is segments sent / that limit (aim: at least 0.98). A slot is wasted
when a number was idle while updates were due: the idle time past each of its slots, summed,
is printed per number as a share of the run.

Default: a 10-minute run per pool at a US long code's 1 segment a second per number (600 and
6,000 segments). `--quick` (12-second runs at 5 per second per number, pools of 1 and 4) is
what `make bench-smoke` runs, to show the benchmark works.

Run from the repository root: `python -m bench.drain_rate [--quick] [--minutes M] [--mps X]
[--pools 1,10]`.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from bench.answers_under_backlog import START, backlog_phone, open_cases, served
from bench.checks import Checks
from bot.clock import FrozenClock
from bot.store.migrate import upgrade
from bot.worker import advance_due_updates, schedule_jobs
from channels.segments import count_segments

AIM = 0.98
HEADROOM = 1.15  # queued beyond what the run can send, so the pool never runs dry


@dataclass
class Drain:
    numbers: int
    mps: float
    seconds: float
    segments: int  # sent inside the run's window
    idle: dict[str, float]  # per number: seconds idle past its slots while updates were due

    @property
    def limit(self) -> float:
        return self.numbers * self.mps * self.seconds

    @property
    def ratio(self) -> float:
        return self.segments / self.limit


def pool(numbers: int) -> list[str]:
    return [f"+1212555{9000 + n:04d}" for n in range(numbers)]


def run_once(folder: Path, numbers: int, mps: float, seconds: float) -> Drain:
    from tests.support.fake_twilio import FakeTwilio  # the provider's side only

    url = f"sqlite:///{folder / f'pool-{numbers}.db'}"
    upgrade(url)
    clock = FrozenClock(START)
    senders = pool(numbers)
    updates = int(numbers * mps * seconds * HEADROOM) + 20
    with FakeTwilio() as fake, served(url, fake, clock, mps, senders) as core:
        open_cases(core, [backlog_phone(i) for i in range(updates)])
        clock.advance(timedelta(hours=1, minutes=5))  # their first updates are due now
        queued = 0
        while (done := advance_due_updates(core)) > 0:
            queued += done
        if queued != updates:  # no backlog, nothing measured
            raise SystemExit(f"{queued} of {updates} interim updates were queued")
        print(f"  {numbers} number(s) at {mps:g}/s: {updates} interim updates queued")
        scheduler = BackgroundScheduler()
        schedule_jobs(scheduler, core, "bench")
        scheduler.start()
        try:
            first = _first_send(fake)
            time.sleep(max(0.0, first + seconds - time.time()) + 0.5)
            sent = [(m.at.timestamp(), m.from_ or "", m.body) for m in fake.messages]
        finally:
            # What is still claimed goes out or back as the send run ends: not measured.
            logging.disable(logging.WARNING)
            scheduler.shutdown(wait=True)
            logging.disable(logging.NOTSET)
    window = [(at, sender, body) for at, sender, body in sent if first <= at < first + seconds]
    segments = sum(count_segments(body).segments for _, _, body in window)
    return Drain(numbers, mps, seconds, segments, _idle(window, mps, first, seconds))


def _first_send(fake: Any, timeout: float = 60.0) -> float:
    deadline = time.time() + timeout
    while time.time() < deadline:
        messages = fake.messages
        if messages:
            return float(min(m.at.timestamp() for m in messages))
        time.sleep(0.01)
    raise SystemExit("no text reached the fake Twilio within a minute")


def _idle(
    sent: list[tuple[float, str, str]], mps: float, start: float, seconds: float
) -> dict[str, float]:
    """Per number, the time in the window it could have sent but did not: after each text,
    what is left of the gap to the next once the text's own slots (segments / mps) are
    taken out, and the tail after its last text."""
    by_number: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for at, sender, body in sent:
        by_number[sender].append((at, count_segments(body).segments))
    idle: dict[str, float] = {}
    for sender, texts in by_number.items():
        texts.sort()
        gaps = 0.0
        for (at, cost), (following, _) in pairwise(texts):
            gaps += max(0.0, following - at - cost / mps)
        last_at, last_cost = texts[-1]
        gaps += max(0.0, start + seconds - last_at - last_cost / mps)
        idle[sender] = gaps
    return idle


def report(drain: Drain, checks: Checks) -> None:
    worst = max(drain.idle.values(), default=drain.seconds)
    print(
        f"  {drain.numbers} number(s): {drain.segments:,} segments in {drain.seconds:.0f} s "
        f"against a limit of {drain.limit:,.0f} ({drain.numbers} x {drain.mps:g}/s): "
        f"ratio {drain.ratio:.3f} (aim at least {AIM}); idle while due: worst number "
        f"{worst:.2f} s ({worst / drain.seconds:.1%} of the run), numbers used "
        f"{len(drain.idle)}/{drain.numbers}"
    )
    checks.expect(f"numbers used ({drain.numbers}-number pool)", len(drain.idle), drain.numbers)
    if drain.ratio < AIM:
        checks.missed_aim(f"{drain.numbers}-number pool drained at {drain.ratio:.3f} of its limit")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="12 s per pool at 5/s per number")
    parser.add_argument("--minutes", type=float, default=None, help="length of each run")
    parser.add_argument("--mps", type=float, default=None, help="segments a second per number")
    parser.add_argument("--pools", default=None, help="pool sizes, comma-separated (1,10)")
    args = parser.parse_args(argv)
    for noisy in ("werkzeug", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    seconds = 60 * args.minutes if args.minutes else (12.0 if args.quick else 600.0)
    mps = args.mps or (5.0 if args.quick else 1.0)
    pools = args.pools or ("1,4" if args.quick else "1,10")
    sizes = [int(size) for size in pools.split(",")]
    print(
        f"drain rate: pools of {pools} number(s) at {mps:g} segments/s each, {seconds:.0f} s each"
    )
    checks = Checks(aims_are_findings=args.quick)
    with tempfile.TemporaryDirectory(prefix="kp-drain-") as folder:
        drains = [run_once(Path(folder), size, mps, seconds) for size in sizes]
    print("results:")
    for drain in drains:
        report(drain, checks)
    return checks.exit_status()


if __name__ == "__main__":
    raise SystemExit(main())
