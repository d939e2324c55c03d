"""Log exports for compliance: filtered, optionally redacted, checkable offline.

An export carries what `keepposted log verify FILE` needs, with no database
(bot/ledger/verify_file.py):

- **JSONL**: line 1 is a header object, `{"keepposted_log_export": 1, "exported_at", "filters",
  "redacted", "entries", "digest", "chains": {key: {"length", "head_hash"}}}`, with each exported
  chain's head as it stood at export time (every head, for an unfiltered export) and the digest
  `log verify` prints for the whole log. Each following line is one entry (`entry_record`) plus,
  in a redacted export, `"redacted": [detail paths masked]` on the entries that were changed.
- **CSV**: one row per entry, nothing else, so a spreadsheet can sort and filter it. The entry
  columns are followed by `redacted` (the masked paths as JSON, or empty), `chain_length` and
  `chain_head_hash` (the entry's chain head at export time, repeated on each row) and `export`
  (the header above without `chains`, as JSON, on the first row only).

Redaction (bot/ledger/redact.py) masks only the `detail` of an entry, so the hashes, times, events
and case numbers stay; a redacted entry's hash can no longer be recomputed, so it is checked by
linkage only: the next entry's `prev_hash` (or the chain head) binds it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from bot.domain import LogEvent
from bot.engine.actions import audit, get_case
from bot.errors import InvalidInput
from bot.ledger.chain import entry_record, format_at, heads_digest
from bot.ledger.redact import Redactor
from bot.store.models import LogChain, LogEntry

EXPORT_VERSION = 1
HEADER_KEY = "keepposted_log_export"
FORMATS = ("jsonl", "csv")
ENTRY_FIELDS = (
    "seq",
    "case_id",
    "at",
    "event",
    "actor",
    "channel",
    "message_id",
    "detail",
    "chain",
    "chain_seq",
    "prev_hash",
    "hash",
)
CSV_FIELDS = (*ENTRY_FIELDS, "redacted", "chain_length", "chain_head_hash", "export")

Progress = Callable[[int], None]
Writer = Callable[[dict[str, Any]], None]


# -- what to export ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportFilter:
    """Which entries an export holds: one case, a time window (`since` inclusive, `until`
    exclusive, both UTC) and some events. An empty filter exports the whole log."""

    case_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    events: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "events", _valid_events(self.events))
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None:
                utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
                object.__setattr__(self, name, utc)
        if self.since and self.until and self.since >= self.until:
            raise InvalidInput(
                f"since ({format_at(self.since)}) must be before until ({format_at(self.until)})",
                field="until",
            )

    @property
    def gaps_allowed(self) -> bool:
        """A time or event filter may skip entries inside a chain; a case filter never does."""
        return self.since is not None or self.until is not None or bool(self.events)

    @property
    def whole_log(self) -> bool:
        """No filter: the export holds every entry of every chain."""
        return self.case_id is None and not self.gaps_allowed

    def as_record(self) -> dict[str, Any]:
        """The filter as the export header and the audit trail record it."""
        return {
            "case_id": self.case_id,
            "since": format_at(self.since) if self.since else None,
            "until": format_at(self.until) if self.until else None,
            "events": list(self.events),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ExportFilter:
        """The filter an export header records (`as_record`), as `log verify FILE` reads it."""

        def when(name: str) -> datetime | None:
            value = record.get(name)
            return datetime.fromisoformat(value) if isinstance(value, str) else None

        case_id = record.get("case_id")
        return cls(
            case_id=case_id if isinstance(case_id, int) else None,
            since=when("since"),
            until=when("until"),
            events=tuple(record.get("events") or ()),
        )

    def describe(self) -> str:
        """The filter in words, e.g. `case #12; events confirmed`."""
        parts = [f"case #{self.case_id}"] if self.case_id is not None else []
        if self.since:
            parts.append(f"since {format_at(self.since)}")
        if self.until:
            parts.append(f"until {format_at(self.until)}")
        if self.events:
            parts.append("events " + ", ".join(self.events))
        return "; ".join(parts) or "none (the whole log)"


def _valid_events(events: Iterable[str]) -> tuple[str, ...]:
    valid = [str(e) for e in LogEvent]
    chosen: list[str] = []
    for item in events:
        for name in str(item).split(","):
            event = name.strip().casefold()
            if not event:
                continue
            if event not in valid:
                raise InvalidInput(
                    f"{name.strip()!r} is not a log event; choose from: {', '.join(valid)}",
                    field="event",
                )
            if event not in chosen:
                chosen.append(event)
    return tuple(chosen)


def parse_time_bound(text: str, *, end: bool = False) -> datetime:
    """A `since`/`until` value: an ISO date or date-time, UTC unless it gives an offset.

    As an end bound (`until`, exclusive) a date alone means the end of that day.
    """
    value = text.strip()
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{text!r} is not a date; use 2026-11-24 or 2026-11-24T15:00 (UTC)", field="date"
        ) from None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if end and len(value) == len("2026-11-24"):
        when += timedelta(days=1)
    return when


# -- writing an export ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """The heads (at export time) of the chains the export holds, how many entries it holds,
    and the digest of every chain's head."""

    chains: dict[str, tuple[int, str]]
    entries: int
    digest: str


def _conditions(filters: ExportFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.case_id is not None:
        conditions.append(LogEntry.case_id == filters.case_id)
    if filters.since is not None:
        conditions.append(LogEntry.at >= filters.since)
    if filters.until is not None:
        conditions.append(LogEntry.at < filters.until)
    if filters.events:
        conditions.append(LogEntry.event.in_(filters.events))
    return conditions


def count_export(session: Session, filters: ExportFilter) -> int:
    """About how many entries an export will hold (for a progress bar)."""
    query = select(func.count()).select_from(LogEntry).where(*_conditions(filters))
    return int(session.scalar(query) or 0)


def _plan(session: Session, filters: ExportFilter) -> _Plan:
    # The heads are read first and bound the export: an entry appended while it runs (a chain
    # position past its head here) is left out, so the header and the entries agree.
    heads = {h.key: (h.length, h.head_hash) for h in session.scalars(select(LogChain))}
    conditions = _conditions(filters)
    per_chain = session.execute(
        select(LogEntry.chain, func.count(), func.max(LogEntry.chain_seq))
        .where(*conditions)
        .group_by(LogEntry.chain)
    )
    counts: dict[str, int] = {}
    for key, count, last in per_chain:
        if key not in heads:
            continue
        length = heads[key][0]
        if last > length:
            count = (
                session.scalar(
                    select(func.count())
                    .select_from(LogEntry)
                    .where(*conditions, LogEntry.chain == key, LogEntry.chain_seq <= length)
                )
                or 0
            )
        if count:
            counts[key] = int(count)
    shown = heads if filters.whole_log else {k: heads[k] for k in counts}
    return _Plan(
        chains={k: shown[k] for k in sorted(shown)},
        entries=sum(counts.values()),
        digest=heads_digest((k, length, h) for k, (length, h) in heads.items()),
    )


def export_log(
    session: Session,
    out: TextIO,
    *,
    fmt: str,
    filters: ExportFilter,
    redact: bool,
    actor: str,
    now: datetime,
    progress: Progress | None = None,
) -> int:
    """Write the entries `filters` selects to `out` as `fmt` ("jsonl" or "csv") and record who
    exported them in the audit trail (the caller commits). Returns the number of entries."""
    if fmt not in FORMATS:
        raise InvalidInput(f"{fmt!r} is not an export format; choose jsonl or csv", field="format")
    if filters.case_id is not None:
        get_case(session, filters.case_id)
    plan = _plan(session, filters)
    redactor = Redactor.from_contacts(session) if redact else None
    header = {
        HEADER_KEY: EXPORT_VERSION,
        "exported_at": format_at(now),
        "filters": filters.as_record(),
        "redacted": redact,
        "entries": plan.entries,
        "digest": plan.digest,
    }
    write = _jsonl_writer(out, header, plan) if fmt == "jsonl" else _csv_writer(out, header, plan)
    rows = session.scalars(
        select(LogEntry)
        .where(*_conditions(filters))
        .order_by(LogEntry.seq)
        .execution_options(yield_per=2000)
    )
    written = 0
    for entry in rows:
        head = plan.chains.get(entry.chain)
        if head is None or entry.chain_seq > head[0]:
            continue  # appended after the export began
        record = entry_record(entry)
        if redactor is not None:
            record["detail"], masked = redactor.detail(entry.detail)
            if masked:
                record["redacted"] = masked
        write(record)
        written += 1
        if progress and written % 500 == 0:
            progress(500)
    if progress:
        progress(written % 500)
    audit(
        session,
        actor=actor,
        action="log_exported",
        case_id=filters.case_id,
        at=now,
        filters=filters.as_record(),
        format=fmt,
        redact=redact,
        entries=written,
    )
    return written


def _jsonl_writer(out: TextIO, header: dict[str, Any], plan: _Plan) -> Writer:
    chains = {k: {"length": n, "head_hash": h} for k, (n, h) in plan.chains.items()}
    out.write(json.dumps(header | {"chains": chains}, ensure_ascii=False) + "\n")

    def write(record: dict[str, Any]) -> None:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")

    return write


def _csv_writer(out: TextIO, header: dict[str, Any], plan: _Plan) -> Writer:
    table = csv.DictWriter(out, fieldnames=CSV_FIELDS)
    table.writeheader()
    pending_header = [json.dumps(header, ensure_ascii=False)]

    def write(record: dict[str, Any]) -> None:
        length, head_hash = plan.chains[record["chain"]]
        masked = record.get("redacted")
        table.writerow(
            record
            | {
                "detail": json.dumps(record["detail"], ensure_ascii=False, sort_keys=True),
                "redacted": json.dumps(masked) if masked else "",
                "chain_length": length,
                "chain_head_hash": head_hash,
                "export": pending_header.pop() if pending_header else "",
            }
        )

    return write
