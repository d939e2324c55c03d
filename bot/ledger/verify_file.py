"""`keepposted log verify FILE`: an export (bot/ledger/export.py) checked offline, with no database.

Each entry's hash is recomputed from its content (a redacted entry's by linkage only), each entry's
`prev_hash` is checked against the entry before it in its chain, each chain's last entry against
the head the export states, and, for an unfiltered export, the header's digest of all the heads.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.errors import InvalidInput
from bot.ledger.chain import GENESIS, entry_hash, heads_digest
from bot.ledger.export import CSV_FIELDS, ENTRY_FIELDS, EXPORT_VERSION, HEADER_KEY, ExportFilter


@dataclass(frozen=True)
class ExportProblem:
    """What is wrong in an export, and where."""

    line: int | None  # None: the export as a whole (e.g. the end of a chain, the entry count)
    seq: int | None
    chain: str | None
    position: int | None  # the entry's place in its chain (chain_seq)
    what: str

    def describe(self) -> str:
        if self.line is None:
            where = f"end of {self.chain}" if self.chain else "the export"
        else:
            where = f"line {self.line}"
            if self.seq is not None and self.chain:
                where += f" (seq {self.seq}, entry {self.position} of {self.chain})"
        return f"{where}: {self.what}"


def _problem(what: str, *, line: int | None = None, chain: str | None = None) -> ExportProblem:
    """A problem named by its line, its chain's end or the whole export, not by an entry."""
    return ExportProblem(line, None, chain, None, what)


@dataclass
class ExportVerifyResult:
    """What `verify_export` found: counts, and the problems (none when the export is intact)."""

    format: str = ""
    exported_at: str | None = None
    filters: ExportFilter = field(default_factory=ExportFilter)
    redacted_export: bool = False
    digest: str | None = None
    entries: int = 0
    chains: int = 0
    redacted: int = 0  # entries checked by linkage only
    redacted_unbound: int = 0  # ...of which no later entry or chain head binds the hash
    heads_checked: int = 0  # chains whose last exported entry is their head
    heads_matched: int = 0
    contiguous: bool = True  # no chain skips an entry
    digest_matches: bool | None = None  # None: a filtered export cannot recompute it
    header_entries: int | None = None  # how many entries the header says the export holds
    problems: list[ExportProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> ExportProblem | None:
        """The problem on the earliest line; problems of the whole export come last."""
        return min(self.problems, key=lambda p: (p.line is None, p.line or 0), default=None)


@dataclass
class _Exported:
    """One entry as read back from an export."""

    line: int
    record: dict[str, Any]
    head: tuple[int, str] | None  # its chain head, as the export states it

    @property
    def redacted(self) -> bool:
        return bool(self.record.get("redacted"))

    @property
    def seq(self) -> int:
        return int(self.record["seq"])

    @property
    def chain(self) -> str:
        return str(self.record["chain"])

    @property
    def position(self) -> int:
        return int(self.record["chain_seq"])


class NotAnExport(InvalidInput):
    """The file is not a keepposted log export at all (as opposed to an altered one)."""

    code = "not_an_export"


def verify_export(lines: Iterable[str]) -> ExportVerifyResult:
    """Check an export (its lines, as read from the file) with no database.

    Raises NotAnExport for a file that is not an export; an altered export gives a result
    whose problems name the first bad line.
    """
    stream = iter(lines)
    first = next(stream, "")
    if first.startswith("{"):
        header = _jsonl_header(first)
        result = ExportVerifyResult(format="jsonl")
        _read_header(result, header)
        chains = _header_chains(header)
        entries = _jsonl_entries(stream, chains)
    elif first.startswith("seq,"):
        result = ExportVerifyResult(format="csv")
        chains = None
        entries = _csv_entries(first, stream, result)
    else:
        raise NotAnExport(
            "this file is not a keepposted log export: it should start with the export header "
            "line (JSONL) or a row of column names beginning `seq,` (CSV)"
        )
    _Checker(result, chains).run(entries)
    return result


def _jsonl_header(line: str) -> dict[str, Any]:
    try:
        header = json.loads(line)
    except ValueError:
        header = None
    if not isinstance(header, dict) or HEADER_KEY not in header:
        if isinstance(header, dict) and "hash" in header:
            raise NotAnExport(
                "this file has no export header: it was written by an older keepposted. "
                "Export it again to check it offline."
            )
        raise NotAnExport(f"the first line is not a keepposted export header ({HEADER_KEY})")
    if header[HEADER_KEY] != EXPORT_VERSION:
        raise NotAnExport(
            f"this export is version {header[HEADER_KEY]!r}; this keepposted reads version "
            f"{EXPORT_VERSION}"
        )
    return header


def _read_header(result: ExportVerifyResult, header: Mapping[str, Any]) -> None:
    try:
        result.filters = ExportFilter.from_record(header.get("filters") or {})
    except (InvalidInput, ValueError, TypeError) as exc:
        raise NotAnExport(f"the export header's filters cannot be read: {exc}") from None
    result.exported_at = header.get("exported_at")
    result.redacted_export = header.get("redacted") is True
    digest, entries = header.get("digest"), header.get("entries")
    result.digest = digest if isinstance(digest, str) else None
    result.header_entries = entries if isinstance(entries, int) else None


def _header_chains(header: Mapping[str, Any]) -> dict[str, tuple[int, str]]:
    chains = header.get("chains")
    if not isinstance(chains, dict):
        raise NotAnExport("the export header has no chain heads (`chains`)")
    heads: dict[str, tuple[int, str]] = {}
    for key, head in chains.items():
        if not isinstance(head, dict):
            raise NotAnExport(f"the export header's head of {key} cannot be read")
        length, head_hash = head.get("length"), head.get("head_hash")
        if not isinstance(length, int) or not isinstance(head_hash, str):
            raise NotAnExport(f"the export header's head of {key} cannot be read")
        heads[key] = (length, head_hash)
    return heads


_INT_FIELDS = ("seq", "chain_seq")
_OPTIONAL_INT_FIELDS = ("case_id", "message_id")
_STR_FIELDS = ("at", "event", "actor", "chain", "prev_hash", "hash")


def _entry_shape_problem(record: Any) -> str | None:
    """Why a record is not a log entry, or None when it is one."""
    if not isinstance(record, dict):
        return "it is not a log entry (not a JSON object)"
    missing = [name for name in ENTRY_FIELDS if name not in record]
    if missing:
        return f"it is not a log entry (no {', '.join(missing)})"
    for name in _INT_FIELDS:
        if not isinstance(record[name], int) or isinstance(record[name], bool):
            return f"its {name} is not a number"
    for name in _OPTIONAL_INT_FIELDS:
        if record[name] is not None and not isinstance(record[name], int):
            return f"its {name} is not a number"
    for name in _STR_FIELDS:
        if not isinstance(record[name], str):
            return f"its {name} is not text"
    if record["channel"] is not None and not isinstance(record["channel"], str):
        return "its channel is not text"
    if not isinstance(record["detail"], dict):
        return "its detail is not a JSON object"
    masked = record.get("redacted")
    if masked is not None and not (
        isinstance(masked, list) and all(isinstance(p, str) for p in masked)
    ):
        return "its redacted paths are not a list of text"
    return None


def _jsonl_entries(
    stream: Iterator[str], chains: dict[str, tuple[int, str]]
) -> Iterator[_Exported | ExportProblem]:
    for number, line in enumerate(stream, start=2):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            yield _problem("it is not valid JSON", line=number)
            continue
        shape = _entry_shape_problem(record)
        if shape is not None:
            yield _problem(shape, line=number)
            continue
        yield _Exported(number, record, chains.get(record["chain"]))


def _csv_entries(
    first: str, stream: Iterator[str], result: ExportVerifyResult
) -> Iterator[_Exported | ExportProblem]:
    columns = next(csv.reader([first]))
    missing = [name for name in CSV_FIELDS if name not in columns]
    if [name for name in ENTRY_FIELDS if name not in columns]:
        raise NotAnExport(
            "this CSV is not a keepposted log export: it lacks the columns " + ", ".join(missing)
        )
    if missing:
        raise NotAnExport(
            "this CSV export carries no chain heads: it was written by an older keepposted. "
            "Export it again to check it offline."
        )
    reader = csv.DictReader(stream, fieldnames=columns)
    line, first_row = 2, True
    for row in reader:
        number, line = line, reader.line_num + 2  # the reader counts lines after the header
        if not any(row.values()):
            continue
        meta = row.get("export") or ""
        if first_row:
            first_row = False
            header = _csv_header(meta)
            if header is None:
                yield _problem(
                    "the export's header (the `export` column of the first row) is missing: "
                    "the first entry was deleted or moved",
                    line=number,
                )
            else:
                _read_header(result, header)
        elif meta:
            yield _problem(
                "the export's header is on a later row than the first: rows were moved",
                line=number,
            )
        try:
            record, head = _csv_record(row)
        except ValueError as exc:
            yield _problem(f"it is not a log entry ({exc})", line=number)
            continue
        shape = _entry_shape_problem(record)
        if shape is not None:
            yield _problem(shape, line=number)
            continue
        yield _Exported(number, record, head)


def _csv_header(cell: str) -> dict[str, Any] | None:
    try:
        header = json.loads(cell) if cell else None
    except ValueError:
        return None
    if not isinstance(header, dict) or header.get(HEADER_KEY) != EXPORT_VERSION:
        return None
    return header


def _csv_record(row: Mapping[str, str | None]) -> tuple[dict[str, Any], tuple[int, str]]:
    """The entry a CSV row holds, with the types its hash was computed over, and its head."""

    def cell(name: str) -> str:
        return row.get(name) or ""

    def optional_int(name: str) -> int | None:
        return int(cell(name)) if cell(name) else None

    try:
        detail = json.loads(cell("detail"))
    except ValueError:
        raise ValueError("its detail is not JSON") from None
    try:
        masked = json.loads(cell("redacted")) if cell("redacted") else None
    except ValueError:
        raise ValueError("its redacted paths are not JSON") from None
    record: dict[str, Any] = {
        "seq": int(cell("seq")),
        "case_id": optional_int("case_id"),
        "at": cell("at"),
        "event": cell("event"),
        "actor": cell("actor"),
        "channel": cell("channel") or None,  # CSV writes no channel as an empty cell
        "message_id": optional_int("message_id"),
        "detail": detail,
        "chain": cell("chain"),
        "chain_seq": int(cell("chain_seq")),
        "prev_hash": cell("prev_hash"),
        "hash": cell("hash"),
    }
    if masked is not None:
        record["redacted"] = masked
    return record, (int(cell("chain_length")), cell("chain_head_hash"))


@dataclass
class _ChainState:
    head: tuple[int, str] | None
    head_line: int  # where the head was first read (the chain's first entry)
    last: _Exported | None = None


class _Checker:
    """Walks the entries of an export in file order, chain by chain, as `log.verify` does."""

    def __init__(
        self, result: ExportVerifyResult, header_chains: dict[str, tuple[int, str]] | None
    ) -> None:
        self.result = result
        self.header_chains = header_chains  # None for CSV: the heads are on the rows
        self.chains: dict[str, _ChainState] = {}
        self.prev_seq = 0

    def bad(self, entry: _Exported, what: str) -> None:
        self.result.problems.append(
            ExportProblem(entry.line, entry.seq, entry.chain, entry.position, what)
        )

    def run(self, entries: Iterable[_Exported | ExportProblem]) -> None:
        for item in entries:
            if isinstance(item, ExportProblem):
                self.result.problems.append(item)
            else:
                self.check(item)
        self.finish()
        stated = self.result.header_entries
        if stated is not None and stated != self.result.entries:
            self.result.problems.append(
                _problem(
                    f"the header says the export holds {stated} entries but it holds "
                    f"{self.result.entries} (entries were deleted or added)"
                )
            )

    def check(self, entry: _Exported) -> None:
        result = self.result
        result.entries += 1
        state = self.chains.get(entry.chain)
        if state is None:
            state = self.chains[entry.chain] = _ChainState(entry.head, entry.line)
        last = state.last
        if entry.redacted:
            result.redacted += 1
        if last is not None and last.redacted and entry.position != last.position + 1:
            result.redacted_unbound += 1  # nothing in the export binds the last one's hash
        problem = (
            self._head_problem(entry, state)
            or self._order_problem(entry, last)
            or self._link_problem(entry, last)
            or self._content_problem(entry)
        )
        if problem:
            self.bad(entry, problem)
        state.last = entry
        self.prev_seq = max(self.prev_seq, entry.seq)

    def _head_problem(self, entry: _Exported, state: _ChainState) -> str | None:
        if entry.head is None:
            return f"the export header has no head for {entry.chain}"
        if entry.head != state.head:
            return (
                f"its chain head columns differ from those on line {state.head_line} "
                "(the row was edited)"
            )
        if entry.position > entry.head[0]:
            return f"the chain's head says the chain holds only {entry.head[0]} entries"
        return None

    def _order_problem(self, entry: _Exported, last: _Exported | None) -> str | None:
        if last is not None and entry.position <= last.position:
            return (
                f"it comes after entry {last.position} of its chain (line {last.line}): "
                "lines were swapped or moved"
            )
        if entry.seq <= self.prev_seq:
            return f"seq {entry.seq} comes after seq {self.prev_seq}: lines were swapped or moved"
        return None

    def _link_problem(self, entry: _Exported, last: _Exported | None) -> str | None:
        previous = last.position if last is not None else 0
        if entry.position == previous + 1:
            before = str(last.record["hash"]) if last is not None else GENESIS
            if entry.record["prev_hash"] != before:
                where = f"line {last.line}" if last is not None else "the chain's start"
                return (
                    f"prev_hash does not match the entry before it ({where}): an entry was "
                    "edited, deleted or moved"
                )
            return None
        # A gap: linkage can be checked only where entries are consecutive.
        self.result.contiguous = False
        if self.result.filters.gaps_allowed:
            return None
        first, upto = previous + 1, entry.position - 1
        missing = f"entry {first} is" if first == upto else f"entries {first} to {upto} are"
        jump = f"jumps from entry {previous} to" if last is not None else "starts at"
        return f"the chain {jump} entry {entry.position}: {missing} missing (deleted or moved)"

    def _content_problem(self, entry: _Exported) -> str | None:
        if entry.redacted:
            if not self.result.redacted_export:
                return "it is marked redacted in an export that was not redacted"
            return None  # checked by linkage only
        if entry_hash(entry.record["prev_hash"], entry.record) != entry.record["hash"]:
            return "its hash does not match its content (the entry was edited)"
        return None

    def finish(self) -> None:
        result = self.result
        result.chains = len(self.chains)
        for key, state in self.chains.items():
            last = state.last
            if last is None or state.head is None:
                continue
            length, head_hash = state.head
            if last.position == length:
                result.heads_checked += 1
                if str(last.record["hash"]) == head_hash:
                    result.heads_matched += 1
                else:
                    self.bad(
                        last,
                        f"the chain's head records hash {head_hash[:12]}… for its last entry "
                        f"but this entry's hash is {str(last.record['hash'])[:12]}… (the entry "
                        "was replaced or the head altered)",
                    )
                    if last.redacted:
                        result.redacted_unbound += 1
            else:
                if last.redacted:
                    result.redacted_unbound += 1
                if not result.filters.gaps_allowed and last.position < length:
                    result.problems.append(
                        _problem(
                            f"the chain's head says it holds {length} entries ending in "
                            f"{head_hash[:12]}… but the export ends at entry {last.position} "
                            f"(line {last.line}): the last entries were dropped",
                            chain=key,
                        )
                    )
        self._check_header_chains()

    def _check_header_chains(self) -> None:
        result = self.result
        if self.header_chains is None:  # CSV: the heads of the chains present, from the rows
            heads = {k: s.head for k, s in self.chains.items() if s.head is not None}
        else:
            heads = dict(self.header_chains)
            if not result.filters.gaps_allowed:
                for key, (length, _) in heads.items():
                    if length and key not in self.chains:
                        result.problems.append(
                            _problem(
                                f"the header lists {key} with {length} entries but none are in "
                                "the export (they were deleted)",
                                chain=key,
                            )
                        )
        if result.filters.whole_log and result.digest is not None:
            recomputed = heads_digest((k, n, h) for k, (n, h) in heads.items())
            result.digest_matches = recomputed == result.digest
            if not result.digest_matches:
                result.problems.append(
                    _problem(
                        "the header's digest does not match the chain heads in the export "
                        "(the header was altered)"
                    )
                )
