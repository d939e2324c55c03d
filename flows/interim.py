"""Interim updates: cadence, quiet hours, delay triggers. Pure functions of (case, config, now)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
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


def quiet_hours_end(now: datetime, zone: ZoneInfo, quiet: QuietHours) -> datetime | None:
    """When the contact's quiet hours end, if `now` falls inside them; else None."""
    if not quiet.enabled:
        return None
    local = now.astimezone(zone)
    if not _inside(local.time(), quiet):
        return None
    end_day = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        end_day += timedelta(days=1)
    return datetime.combine(end_day, quiet.end, tzinfo=zone).astimezone(now.tzinfo)


def earliest_send(now: datetime, contact: Contact, channel: str, config: Config) -> datetime:
    """`now`, or the end of the contact's local quiet hours for channels that respect them."""
    if not traits(channel).quiet_hours:  # a text wakes people up; a Slack DM does not
        return now
    return quiet_hours_end(now, contact_zone(contact, config), config.quiet_hours) or now


def eta_missed(case: Case, now: datetime) -> bool:
    return (
        case.eta is not None
        and case.eta <= now
        and case.eta_missed_at is None
        and case.status in UPDATING_STATES
    )
