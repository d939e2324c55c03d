"""Interim updates: cadence, quiet hours, delay triggers. Pure functions of (case, config, now)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.config import Cadence, Config, QuietHours
from bot.domain import CaseStatus
from channels.catalog import traits

if TYPE_CHECKING:
    from bot.store.models import Case, Contact

UPDATING_STATES = (CaseStatus.OPEN, CaseStatus.WAITING)


def cadence_of(case: Case, config: Config) -> Cadence:
    """The case's own cadence (set with /case cadence), else category, priority, default."""
    if case.cadence_every_s:
        return Cadence(every=timedelta(seconds=case.cadence_every_s))
    return config.cadences.for_case(case.priority, case.category)


def gets_updates(case: Case) -> bool:
    return case.status in UPDATING_STATES and not case.paused


def jitter_share(case_id: int) -> float:
    """The case's fixed place in [0, 1), from a hash of its id: the same in every call, worker
    and process (Python's own hash() of a str changes per process)."""
    digest = hashlib.blake2b(f"jitter|{case_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest) / 2**64


def with_offset(interval: timedelta, case: Case, config: Config) -> timedelta:
    """`interval` stretched by the case's offset: between 0 and `cadences.jitter` of it, never
    shorter. Cases opened (or caught up) together then fall due apart instead of at once."""
    share = config.cadences.jitter * jitter_share(case.id)
    return interval + timedelta(seconds=round(interval.total_seconds() * share))


def first_update_at(case: Case, config: Config, now: datetime) -> datetime:
    """`first` from now plus the case's offset (a share of `first`, so a P1's first update after
    30m comes within 30m x (1 + jitter), never sooner)."""
    return now + with_offset(cadence_of(case, config).first, case, config)


def following_update_at(
    case: Case, config: Config, now: datetime, *, due_at: datetime | None = None
) -> datetime:
    """The next update, one `every` from now, never sooner.

    Following an update sent on time (`due_at`, when it was due, within one worker poll of
    `now`) it is exactly `every`: the case keeps the offset it got when its cadence started,
    and paying it again on every update would make the cadence slower. Every other start adds
    the case's offset (a share of `every`): an agent's update, waiting, resume, a new cadence,
    and an update sent late. So a worker that was down sends one catch-up update per case,
    and the next updates of the cases it caught up together spread out again."""
    every = cadence_of(case, config).every
    if due_at is not None and now - due_at <= config.worker.poll_every:
        return now + every
    return now + with_offset(every, case, config)


def contact_zone(contact: Contact, config: Config) -> ZoneInfo:
    return ZoneInfo(contact.timezone or config.timezone)


def _inside(local: time, quiet: QuietHours) -> bool:
    if quiet.start == quiet.end:
        return False
    if quiet.start < quiet.end:
        return quiet.start <= local < quiet.end
    return local >= quiet.start or local < quiet.end  # the window spans midnight


def quiet_window(
    at: datetime, zone: ZoneInfo, quiet: QuietHours
) -> tuple[datetime, datetime] | None:
    """The quiet hours `at` falls inside, as (start, end) in UTC, so that subtracting them gives
    the real length of the night (11 hours, or 10 or 12 on the night the clocks change)."""
    if not quiet.enabled:
        return None
    local = at.astimezone(zone)
    if not _inside(local.time(), quiet):
        return None
    start_day = end_day = local.date()
    if quiet.start > quiet.end:  # the window spans midnight
        if local.time() >= quiet.start:
            end_day += timedelta(days=1)
        else:
            start_day -= timedelta(days=1)
    start = datetime.combine(start_day, quiet.start, tzinfo=zone).astimezone(UTC)
    return start, datetime.combine(end_day, quiet.end, tzinfo=zone).astimezone(UTC)


def quiet_hours_end(now: datetime, zone: ZoneInfo, quiet: QuietHours) -> datetime | None:
    """When the contact's quiet hours end, if `now` falls inside them; else None."""
    window = quiet_window(now, zone, quiet)
    return window[1].astimezone(now.tzinfo) if window else None


def earliest_send(now: datetime, contact: Contact, channel: str, config: Config) -> datetime:
    """`now`, or the end of the contact's local quiet hours for channels that respect them."""
    if not traits(channel).quiet_hours:  # a text wakes people up; a Slack DM does not
        return now
    return quiet_hours_end(now, contact_zone(contact, config), config.quiet_hours) or now


def update_goes_at(
    due_at: datetime,
    contact: Contact,
    channel: str,
    config: Config,
    *,
    now: datetime | None = None,
) -> datetime:
    """When an interim update due at `due_at` goes out, asked at `now` (by default when it falls
    due, as a punctual worker asks): the worker holds it until then, and the update before it
    tells the customer this time.

    On channels that respect quiet hours, an update due inside them goes out after their end,
    later by the share of `quiet_hours.spread` that it was due into the night (in real time,
    so the night the clocks change counts its 10 or 12 hours): the updates that waited leave
    in the order they were due, spread out, instead of all at the end. One due before the
    night began (a worker that was down) counts as due at its start."""
    asked = max(now or due_at, due_at)
    if not traits(channel).quiet_hours:
        return asked
    zone, quiet = contact_zone(contact, config), config.quiet_hours
    window = quiet_window(asked, zone, quiet) or quiet_window(due_at, zone, quiet)
    if window is None:
        return asked
    start, end = window
    into_night = min(max((due_at - start) / (end - start), 0.0), 1.0)
    released = end + timedelta(seconds=round(quiet.spread.total_seconds() * into_night))
    return max(asked, released.astimezone(due_at.tzinfo))


def eta_missed(case: Case, now: datetime) -> bool:
    return (
        case.eta is not None
        and case.eta <= now
        and case.eta_missed_at is None
        and case.status in UPDATING_STATES
    )
