"""Durations as ops write them in config.yaml and agents type them: 30s, 30m, 2h, 3d (also 1w)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)\s*([smhdw])")
_WHOLE = re.compile(r"^\s*(?:\d+\s*[smhdw]\s*)+$")

DURATION_HINT = "expected a duration like 30s, 30m, 2h or 3d"


def parse_duration(text: str) -> timedelta:
    """Parse `30s`, `90m`, `2h`, `3d` or a sum like `1h30m`; raise ValueError otherwise."""
    cleaned = text.strip().lower()
    if not _WHOLE.match(cleaned):
        raise ValueError(f"{DURATION_HINT} (got {text!r})")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(cleaned))
    if seconds <= 0:
        raise ValueError(f"a duration must be longer than zero (got {text!r})")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest exact spelling of a duration: 2h, 90m, 1d12h."""
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            count, seconds = divmod(seconds, size)
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def parse_when(text: str, now: datetime, zone: str = "UTC") -> datetime:
    """A moment as agents and CRMs give it: ISO 8601 (`2026-11-24T15:00`, zone optional, read
    in `zone` when absent) or a duration from now (`2h`, `in 3d`)."""
    cleaned = text.strip()
    relative = cleaned.lower().removeprefix("in ").strip()
    if _WHOLE.match(relative):
        try:
            return now + parse_duration(relative)
        except OverflowError:
            raise ValueError(f"{text!r} is too far in the future") from None
    try:
        value = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"expected a date and time like 2026-11-24T15:00 or a duration like 2h (got {text!r})"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    return value.astimezone(UTC)
