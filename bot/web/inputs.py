"""What routes read from the URL, checked one way for every route: a record id in the path, a
whole number in the query (a page, a page size, an offset), a range of days, and a moment.

Each helper refuses what it cannot use with a 4xx that names the value and what is expected,
before the value reaches the database or date arithmetic, where it would be a 500: SQLite
raises OverflowError on an integer beyond 64 bits, `int()` refuses thousands of digits, and a
date near year 1 or 9999 overflows when it moves between time zones.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from flask import request
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from bot.errors import InvalidInput, shortened
from bot.store.models import MAX_ID

MAX_DIGITS = 32  # longer is refused before int() is asked: its cost grows with the length
# The days and moments keepposted reads: nothing it stores predates the Unix epoch, and both
# bounds stay a day away from datetime's own limits, so no time zone can overflow them.
EARLIEST_DAY = date(1970, 1, 1)
LATEST_DAY = date(2999, 12, 31)
EARLIEST = datetime.combine(EARLIEST_DAY, time(), UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


class RecordIdConverter(IntegerConverter):
    """`<int:...>` in every route of the app (bot/app.py installs it under that name): ASCII
    digits that can name a stored row. A larger number is a 404 saying so before any view runs;
    `\\d` would also take other scripts' digits, which no id is written in."""

    regex = r"[0-9]+"

    def to_python(self, value: str) -> int:
        if len(value) > MAX_DIGITS or int(value) > MAX_ID:
            raise NotFound(f"nothing has the id {shortened(value, 24)}: ids run from 1 to {MAX_ID}")
        return int(value)


def whole_number(name: str, default: int, low: int, high: int) -> int:
    """The query argument `name` as a whole number from `low` to `high`, `default` when absent;
    anything else (`-1`, `1e9`, `1.5`, `²`, too large) is a 422 naming the argument."""
    raw = request.args.get(name)
    if raw is None:
        return default
    # isdigit() alone takes '²', which int() refuses.
    usable = raw.isascii() and raw.isdigit() and len(raw) <= MAX_DIGITS
    if not usable or not low <= int(raw) <= high:
        raise InvalidInput(f"{name} must be a whole number from {low} to {high}", field=name)
    return int(raw)


def day(name: str, default: date) -> date:
    """The query argument `name` as an ISO date (`2026-11-01`) from EARLIEST_DAY to LATEST_DAY."""
    text = request.args.get(name, "")
    if not text:
        return default
    try:
        found = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name} must be a date such as 2026-11-01", field=name) from None
    if not EARLIEST_DAY <= found <= LATEST_DAY:
        raise InvalidInput(
            f"{name} must be a date from {EARLIEST_DAY} to {LATEST_DAY} (got {text})", field=name
        )
    return found


def day_range(default_since: date, default_until: date) -> tuple[date, date]:
    """`?since=&until=`, both days included, each checked as `day`; until may not come first."""
    since = day("since", default_since)
    until = day("until", default_until)
    if until < since:
        raise InvalidInput("until comes before since", field="until")
    return since, until


def out_of_range(field: str, given: str) -> InvalidInput:
    """The error for a moment outside the dates keepposted reads, `given` as it was written."""
    return InvalidInput(
        f"{field} must fall between {EARLIEST_DAY} and {LATEST_DAY} (got {shortened(given, 24)})",
        field=field,
    )


def moment(value: datetime, field: str) -> datetime:
    """A moment someone gave (an ETA), refused when it falls outside the dates keepposted reads."""
    if not EARLIEST <= value < LATEST:
        raise out_of_range(field, value.isoformat())
    return value
