"""Interim updates: cadence, quiet hours, delay triggers. Pure functions of (case, config, now)."""

from __future__ import annotations

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


def first_update_at(case: Case, config: Config, now: datetime) -> datetime:
    return now + cadence_of(case, config).first


def following_update_at(case: Case, config: Config, now: datetime) -> datetime:
    """After an update goes out (or catching up after downtime): one `every` from now, so a
    worker that was down sends one catch-up update per case, never a burst."""
    return now + cadence_of(case, config).every


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
