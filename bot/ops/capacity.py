"""Capacity you can see: the SMS segments a day the open cases' cadences need, against what the
sender pool can send in the hours outside quiet hours. `keepposted config check` and
`keepposted status` print it, so ops learn before the morning whether their cadences fit.

Only SMS is counted: it is the channel whose limit is the carrier's (a long code sends one
segment a second). Slack is paced per conversation and the chat page not at all.
"""

from __future__ import annotations

import functools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from jinja2 import TemplateError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.config import Config
from bot.domain import PRIORITIES
from bot.durations import format_duration
from bot.engine.contacts import reach
from bot.ops.config_check import plural, sample_context, variants
from bot.render import Templates
from bot.store.models import Case, Contact
from channels.catalog import ChannelName
from channels.segments import count_segments, transliterate
from channels.sms import sender_for
from flows.interim import UPDATING_STATES

DAY = 86_400
# Cadences a remedy may suggest: whole minutes up to an hour, then whole hours up to a month
# (longer is no longer an update cadence).
SUGGESTIONS: tuple[int, ...] = (*range(60, 3600, 60), *range(3600, 30 * DAY + 1, 3600))
MAX_SENDERS_MAPPED = 100  # above this, hashing every contact to every number costs seconds
NOT_COUNTED = (
    "not counted: a new case's first update, confirmation requests and reminders, delay and "
    "closing notices, replies (STATUS, HELP, YES); they go before interim updates at the limit, "
    "so leave them headroom"
)


@dataclass(frozen=True)
class Rhythm:
    """What one case's cadence sends once quiet hours have shaped it (bot/worker.py: an update
    due inside them moves to their end, and the next is `every` after that)."""

    updates_per_day: float
    held_per_day: float  # of those, the ones that waited for quiet hours to end


@functools.cache  # pure, and asked once per contact and cadence
def rhythm(every_s: int, window_s: int) -> Rhythm:
    """The long-run rhythm of a cadence, counted from the end of quiet hours; DST is ignored."""
    if window_s >= DAY:
        return Rhythm(DAY / every_s, 0.0)
    if every_s <= DAY - window_s:  # each day's first due time after the window is held
        return Rhythm(float(math.ceil(window_s / every_s)), 1.0)
    days = max(28, 40 * every_s // DAY)
    sent = held = at = 0
    while at < days * DAY:
        sent += 1
        at += every_s
        if at % DAY >= window_s:  # inside quiet hours: it waits for the next day's window
            at += DAY - at % DAY
            held += 1
    return Rhythm(sent / days, held / days)


def interim_segments(config: Config, templates: Templates, locale: str) -> int:
    """Segments of an interim update in `locale`, as sent: the longest of its variants with
    the sample case of `config check` (an agent's longer `latest_update` costs more)."""
    longest = 1
    for _label, data in variants("interim", sample_context(config, locale)):
        try:
            text = templates.render(ChannelName.SMS, "interim", data, locale=locale)
        except TemplateError:
            continue  # config check reports it; the count takes the variants that render
        if config.channels.sms.transliterate:  # as bot/engine/messages.py sends it
            text = transliterate(text)
        longest = max(longest, count_segments(text).segments)
    return longest


@dataclass(frozen=True)
class Pool:
    senders: int
    mps: float  # per sender
    service: bool  # a messaging service: one sender whose mps is the whole service's
    window_s: int
    quiet: str  # "21:00-08:00" or "off"

    @classmethod
    def of(cls, config: Config) -> Pool:
        sms, quiet = config.channels.sms, config.quiet_hours
        return cls(
            senders=len(sms.pool),
            mps=sms.mps,
            service=bool(sms.messaging_service_sid),
            window_s=int(quiet.awake.total_seconds()),
            quiet=quiet.shown,
        )

    @property
    def per_second(self) -> float:
        return self.mps * self.senders

    @property
    def per_day(self) -> float:
        return self.per_second * self.window_s

    @property
    def per_sender_per_day(self) -> float:
        """What one number carries a day: the most a pool's busiest number may be asked."""
        return self.mps * self.window_s

    def headline(self) -> str:
        return (
            f"capacity (SMS): {self.described()} = {per_second(self.per_second)}, for "
            f"{self.window()}: {whole(self.per_day)} segments a day"
        )

    def described(self) -> str:
        if self.service:
            return f"the messaging service at {rate(self.mps)}/s"
        return f"{plural(self.senders, 'number')} at {rate(self.mps)}/s"

    def window(self) -> str:
        if self.window_s >= DAY:
            return "the whole day (quiet hours off)"
        return f"the {hours(self.window_s)} outside quiet hours"

    def senders_for(self, per_second: float) -> int:
        return math.ceil(round(per_second / self.mps, 6))


@dataclass(frozen=True)
class Load:
    """The open SMS cases of one cadence: the rule that gave it, and what they send a day."""

    name: str  # "P2", "category outage", "default", "own cadence"
    every_s: int
    cases: int
    segments: float  # per update, averaged over the cases' languages
    rhythm: Rhythm

    @property
    def title(self) -> str:
        return f"{self.name} every {format_duration(timedelta(seconds=self.every_s))}"

    @property
    def per_day(self) -> float:
        return self.cases * self.segments * self.rhythm.updates_per_day


@dataclass(frozen=True)
class Busiest:
    sender: str
    contacts: int
    per_day: float


@dataclass(frozen=True)
class Capacity:
    """The open SMS cases' need against the pool, and the lines that say it."""

    pool: Pool
    loads: tuple[Load, ...]
    contacts: int  # reached by SMS
    zones: int
    elsewhere: int  # open cases whose contact is reached on another channel (or not at all)
    busiest: Busiest | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def per_day(self) -> float:
        return sum(load.per_day for load in self.loads)

    @property
    def per_second(self) -> float:
        return self.per_day / self.pool.window_s

    @property
    def fits(self) -> bool:
        return self.pool_has_room and (
            self.busiest is None or self.busiest.per_day <= self.pool.per_sender_per_day
        )

    @property
    def pool_has_room(self) -> bool:
        """The whole pool could carry the need (its busiest number aside)."""
        return self.per_day <= self.pool.per_day

    def lines(self) -> list[str]:
        pool = self.pool
        out = [
            pool.headline(),
            f"  {whole(sum(lo.cases for lo in self.loads))} open cases reach their contact by SMS"
            f" ({whole(self.contacts)} contacts in {plural(self.zones, 'time zone')}); "
            f"{whole(self.elsewhere)} more go by other channels",
        ]
        for load in sorted(self.loads, key=lambda lo: -lo.per_day):
            out.append(
                f"  {load.title}: {whole(load.cases)} open cases need "
                f"{per_second(load.per_day / pool.window_s)} in {pool.window()} "
                f"({counted(load.rhythm.updates_per_day, 'update', ' a day')} of "
                f"{counted(load.segments, 'segment')} each)"
            )
        out.append("  " + self.verdict())
        if self.busiest is not None:
            b, own = self.busiest, pool.per_sender_per_day
            out.append(
                f"  busiest number {b.sender}: {whole(b.contacts)} of {whole(self.contacts)} "
                f"contacts, {per_second(b.per_day / pool.window_s)} against its "
                f"{rate(pool.mps)}/s" + ("" if b.per_day <= own else ": it cannot keep up")
            )
        out.extend(f"  {note}" for note in self.notes)
        held = sum(lo.cases * lo.segments * lo.rhythm.held_per_day for lo in self.loads)
        if held and pool.per_second:
            out.append(
                f"  quiet hours hold about {whole(held)} segments each night (the updates that "
                f"fall due in them); the pool takes {hours(held / pool.per_second)} to send "
                "them when they end (as if every contact were in one time zone)"
            )
        out.append(f"  {NOT_COUNTED}")
        return out

    def verdict(self) -> str:
        pool, loads = self.pool, self.loads
        if not loads:
            return "no open SMS cases: nothing to carry"
        if not pool.senders:
            return (
                f"WARNING: the open cases need {per_second(self.per_second)} and no SMS "
                "sender is set (channels.sms.from or messaging_service_sid): SMS runs dry"
            )
        if self.pool_has_room and not self.fits:
            return (
                f"WARNING: the pool has room for {per_second(self.per_second)}, but its "
                "busiest number cannot keep up: each contact keeps one number, so add numbers "
                "to spread them"
            )
        if self.pool_has_room:
            spare = pool.per_day - self.per_day
            biggest = max(loads, key=lambda lo: lo.per_day)
            room = spare / (biggest.per_day / biggest.cases) if biggest.per_day else 0.0
            return (
                f"fits: {rate(self.per_second)} of the pool's {per_second(pool.per_second)}"
                f" ({self.per_day / pool.per_day:.0%}); room for about {whole(room)} more "
                f"{biggest.title} cases"
            )
        which = "this cadence" if len(loads) == 1 else "these cadences"
        need = (
            f"{loads[0].title}: {whole(loads[0].cases)} open cases need"
            if len(loads) == 1
            else "together they need"
        )
        return (
            f"WARNING: {need} {per_second(self.per_second)} in {pool.window()}; the pool "
            f"({pool.described()}) has {rate(pool.per_second)}. "
            f"{which.capitalize()} cannot be kept: {self.remedy()}"
        )

    def remedy(self) -> str:
        pool = self.pool
        if pool.service:
            more = f"raise the messaging service to {rate(self.per_second)}/s"
        else:
            extra = pool.senders_for(self.per_second) - pool.senders
            more = f"add {plural(extra, 'number')}"
        biggest = max(self.loads, key=lambda lo: lo.per_day)
        longer = lengthened(biggest, self.per_day - biggest.per_day, pool)
        if longer is None:
            return f"{more}."
        it = "it" if len(self.loads) == 1 else biggest.title
        return f"{more} or lengthen {it} to {format_duration(timedelta(seconds=longer))}."

    def as_dict(self) -> dict[str, Any]:
        """What `keepposted status --json` carries under `capacity`."""
        pool = self.pool
        return {
            "senders": pool.senders,
            "mps": pool.mps,
            "window_seconds": pool.window_s,
            "capacity_per_second": pool.per_second,
            "capacity_per_day": round(pool.per_day),
            "need_per_day": round(self.per_day),
            "need_per_second": round(self.per_second, 3),
            "fits": self.fits,
            "sms_cases": sum(lo.cases for lo in self.loads),
            "other_cases": self.elsewhere,
            "cadences": [
                {
                    "cadence": lo.name,
                    "every_seconds": lo.every_s,
                    "cases": lo.cases,
                    "segments_per_update": round(lo.segments, 2),
                    "updates_per_day": round(lo.rhythm.updates_per_day, 2),
                    "need_per_second": round(lo.per_day / pool.window_s, 3),
                }
                for lo in self.loads
            ],
            "busiest_sender": (
                None
                if self.busiest is None
                else {
                    "contacts": self.busiest.contacts,
                    "need_per_second": round(self.busiest.per_day / pool.window_s, 3),
                }
            ),
        }


def lengthened(load: Load, others_per_day: float, pool: Pool) -> int | None:
    """The shortest cadence (whole minutes under an hour, then whole hours) at which `load`
    fits beside the others; None when no cadence up to a month does."""
    room = pool.per_day - others_per_day
    if room <= 0 or not load.cases:
        return None
    most = room / (load.cases * load.segments)  # updates a day each case may have
    for every in SUGGESTIONS:
        if every > load.every_s and rhythm(every, pool.window_s).updates_per_day <= most:
            return every
    return None


def cadence_rule(config: Config, priority: str, category: str | None) -> str:
    """The name of the rule `Cadences.for_case` takes for a case without its own cadence."""
    if category and category in config.cadences.category:
        return f"category {category}"
    return priority if priority in config.cadences.priority else "default"


def measure(session: Session, config: Config, templates: Templates) -> Capacity:
    """The open cases (those getting updates) grouped by contact and cadence in one query; the
    contact's channel is `reach()`'s decision, made in Python as it reads JSON columns."""
    pool = Pool.of(config)
    senders = config.channels.sms.pool
    mapped = 1 < len(senders) <= MAX_SENDERS_MAPPED  # else no busiest number is worked out
    groups = session.execute(
        select(Contact, Case.priority, Case.category, Case.cadence_every_s, func.count(Case.id))
        .join(Case, Case.contact_id == Contact.id)
        .where(Case.status.in_(UPDATING_STATES), Case.paused.is_(False))
        .group_by(Contact.id, Case.priority, Case.category, Case.cadence_every_s)
    ).all()
    segments: dict[str, int] = {}
    cases: Counter[tuple[str, int]] = Counter()
    weighted: Counter[tuple[str, int]] = Counter()  # cases x segments per update
    by_sender: defaultdict[str, float] = defaultdict(float)
    contacts_of: defaultdict[str, set[int]] = defaultdict(set)
    zones: set[str] = set()
    elsewhere = 0
    for contact, priority, category, own_every, count in groups:
        address = reach(contact)
        if address is None or address.channel != ChannelName.SMS:
            elsewhere += count
            continue
        locale = contact.locale or config.program.locale
        if locale not in segments:
            segments[locale] = interim_segments(config, templates, locale)
        if own_every:
            key = ("own cadence", own_every)
        else:
            every = config.cadences.for_case(priority, category).every
            key = (cadence_rule(config, priority, category), int(every.total_seconds()))
        cases[key] += count
        weighted[key] += count * segments[locale]
        zones.add(contact.timezone or config.timezone)
        sender = (sender_for(address.to, senders) or "") if mapped else ""
        contacts_of[sender].add(contact.id)
        per_update = rhythm(key[1], pool.window_s).updates_per_day
        by_sender[sender] += count * segments[locale] * per_update
    loads = tuple(
        Load(name, every, n, weighted[(name, every)] / n, rhythm(every, pool.window_s))
        for (name, every), n in cases.items()
    )
    busiest, notes = None, []
    if mapped and by_sender:
        top = max(by_sender, key=lambda s: by_sender[s])
        busiest = Busiest(top, len(contacts_of[top]), by_sender[top])
    elif len(senders) > MAX_SENDERS_MAPPED:
        notes.append(f"the busiest number is not worked out for pools over {MAX_SENDERS_MAPPED}")
    return Capacity(
        pool=pool,
        loads=loads,
        contacts=len(set().union(*contacts_of.values())) if contacts_of else 0,
        zones=len(zones),
        elsewhere=elsewhere,
        busiest=busiest,
        notes=notes,
    )


def carrying_lines(config: Config, templates: Templates) -> list[str]:
    """Without open cases to count: the pool, and the most open SMS cases each configured
    cadence could carry on its own, in the program's language."""
    pool = Pool.of(config)
    locale = config.program.locale
    segments = interim_segments(config, templates, locale)
    out = [
        pool.headline(),
        f"  an interim update is {plural(segments, 'segment')} in {locale} (the sample case)",
        "  most open SMS cases each cadence can carry, if it were the only one:",
    ]
    rules = [(f"priority {p}", config.cadences.for_case(p, None)) for p in PRIORITIES]
    rules += [(f"category {name}", cadence) for name, cadence in config.cadences.category.items()]
    for name, cadence in rules:
        every = int(cadence.every.total_seconds())
        beat = rhythm(every, pool.window_s)
        most = pool.per_day / (segments * beat.updates_per_day)
        out.append(
            f"    {name} every {format_duration(cadence.every)}: {whole(most)} "
            f"({counted(beat.updates_per_day, 'update', ' a day')} each)"
        )
    if not pool.senders:
        out.append(
            "  WARNING: no SMS sender is set (channels.sms.from or messaging_service_sid): "
            "SMS runs dry and carries nothing"
        )
    return out


def rate(value: float) -> str:
    """2.1, 0.05, 0.013, 14: enough digits to compare a need with a capacity."""
    if value >= 10:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.1f}".removesuffix(".0")
    return f"{value:.2g}"


def counted(value: float, word: str, after: str = "") -> str:
    """ "1 segment", "2.1 segments", "7 updates a day": the value as `rate` shows it."""
    shown = rate(value)
    return f"{shown} {word}{'' if shown == '1' else 's'}{after}"


def per_second(value: float) -> str:
    """ "1 segment/s", "2.1 segments/s"."""
    return counted(value, "segment", "/s")


def whole(value: float) -> str:
    return f"{math.floor(value):,}"


def hours(seconds: float) -> str:
    return format_duration(timedelta(seconds=round(seconds / 60) * 60)) if seconds >= 60 else "1m"
