"""The resolution-confirmation log: append-only and tamper-evident.

Entries form one SHA-256 hash chain per case (per contact for events with no case). A writer
locks only its chain's head row, in the same transaction as the change it records, so writers on
different cases never wait on each other. `verify` walks every chain and finds the first entry
that was edited, deleted or moved; the chain heads table anchors each chain's length and last hash,
so even the newest entry cannot be dropped unseen.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from bot.domain import LogEvent
from bot.store.models import Case, LogChain, LogEntry

GENESIS = "0" * 64


def chain_for_case(case_id: int) -> str:
    return f"case:{case_id}"


def chain_for_contact(contact_id: int) -> str:
    return f"contact:{contact_id}"


# The fields an entry's hash covers: every one but `prev_hash` (hashed beside them) and `hash`.
HASHED_FIELDS = (
    "seq",
    "chain",
    "chain_seq",
    "case_id",
    "at",
    "event",
    "actor",
    "channel",
    "message_id",
    "detail",
)


def canonical_json(entry: LogEntry | Mapping[str, Any]) -> bytes:
    """The bytes an entry's hash covers: every field but the hash itself, keys sorted.

    Takes a stored entry or its exported record (`entry_record`): both give the same bytes, so
    an export can be checked with no database.
    """
    record = _hashed_fields(entry) if isinstance(entry, LogEntry) else entry
    body = {name: record[name] for name in HASHED_FIELDS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _hashed_fields(entry: LogEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "chain": entry.chain,
        "chain_seq": entry.chain_seq,
        "case_id": entry.case_id,
        "at": format_at(entry.at),
        "event": entry.event,
        "actor": entry.actor,
        "channel": entry.channel,
        "message_id": entry.message_id,
        "detail": entry.detail,
    }


def format_at(at: datetime) -> str:
    """An entry's time as its hash and its exports spell it."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(prev_hash: str, entry: LogEntry | Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(entry)).hexdigest()


def append(
    session: Session,
    *,
    event: LogEvent,
    at: datetime,
    actor: str,
    case_id: int | None = None,
    contact_id: int | None = None,
    channel: str | None = None,
    message_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> LogEntry:
    """Append one entry to its case's chain (its contact's without a case), inside the
    caller's transaction; inserted with the transaction's other writes, in one statement with
    its neighbours."""
    if case_id is None and contact_id is None:
        raise ValueError("a log entry belongs to a case or, failing that, a contact")
    key = chain_for_case(case_id) if case_id is not None else chain_for_contact(contact_id or 0)
    state = _TransactionState.of(session)
    head = state.locked_head(session, key)
    entry = LogEntry(
        **_chained_onto(
            head,
            state.next_seqs(session, 1)[0],
            event=event,
            at=at,
            actor=actor,
            case_id=case_id,
            channel=channel,
            message_id=message_id,
            detail=detail,
        )
    )
    session.add(entry)
    return entry


def append_many(connection: Connection, entries: Sequence[Mapping[str, Any]]) -> None:
    """Append several case entries at once, in the order given, in the connection's
    transaction, in a few statements whatever their number: the heads of their chains are
    locked in one query, in key order (so two transactions that lock some of the same heads
    never wait on each other in a circle), the entries inserted in one statement and the heads
    moved on in another. Each mapping holds `append`'s keyword arguments, `case_id` among them.

    The statements are the database's own, without the ORM's bookkeeping: a worker records its
    sent messages this way, hundreds a second. So a transaction that appends this way does not
    also `append` (whose entries wait in the session for its flush)."""
    if not entries:
        return
    keys = [chain_for_case(fields["case_id"]) for fields in entries]
    wanted = sorted(set(keys))
    locked = connection.execute(_LOCK_HEADS, {"keys": wanted})
    found = {key: _Head(key, length, head_hash) for key, length, head_hash in locked}
    heads = {key: found.get(key) or _Head(key, 0, GENESIS, new=True) for key in wanted}
    seqs = _next_seqs(connection, len(entries), drawn=None)
    records = [
        _chained_onto(heads[key], seq, **fields)
        for key, fields, seq in zip(keys, entries, seqs, strict=True)
    ]
    connection.execute(insert(_entries), records)
    if created := [head.row() for head in heads.values() if head.new]:
        connection.execute(insert(_chains), created)
    if existing := [head.row() for head in heads.values() if not head.new]:
        connection.execute(_MOVE_HEAD, existing)


def _next_seqs(connection: Connection, count: int, drawn: int | None) -> list[int]:
    """The next `count` global seqs: from the table's sequence on PostgreSQL, in one query; on
    SQLite (one writer at a time) counted on from `drawn`, the last this transaction took, or
    from the table's highest."""
    if connection.dialect.name == "postgresql":
        sequence = func.nextval(func.pg_get_serial_sequence(LogEntry.__tablename__, "seq"))
        draw = select(sequence).select_from(func.generate_series(1, count))
        return sorted(int(seq) for seq in connection.scalars(draw))
    if drawn is None:
        drawn = connection.scalar(select(func.max(_entries.c.seq))) or 0
    return list(range(drawn + 1, drawn + count + 1))


_entries = cast(Table, LogEntry.__table__)
_chains = cast(Table, LogChain.__table__)
_LOCK_HEADS = (
    select(_chains.c.key, _chains.c.length, _chains.c.head_hash)
    .where(_chains.c.key.in_(bindparam("keys", expanding=True)))
    .order_by(_chains.c.key)
    .with_for_update()
)
_MOVE_HEAD = (
    update(_chains)
    .where(_chains.c.key == bindparam("chain"))
    .values(length=bindparam("moved_length"), head_hash=bindparam("moved_hash"))
)


@dataclass
class _Head:
    """A chain's head as `append_many` read it, to be written back once moved."""

    key: str
    length: int
    head_hash: str
    new: bool = False  # the chain's first entry: its head row is inserted

    def row(self) -> dict[str, Any]:
        if self.new:
            return {"key": self.key, "length": self.length, "head_hash": self.head_hash}
        return {"chain": self.key, "moved_length": self.length, "moved_hash": self.head_hash}


def _chained_onto(
    head: LogChain | _Head,
    seq: int,
    *,
    event: LogEvent | str,
    at: datetime,
    actor: str,
    case_id: int | None,
    channel: str | None,
    message_id: int | None,
    detail: dict[str, Any] | None,
) -> dict[str, Any]:
    """The next entry of `head`'s chain, hashed, as the columns of its row; the head moves on
    to it. The entry has its global `seq` before it is written, so its hash is computed once
    and the row is inserted with the transaction's other writes."""
    record: dict[str, Any] = {
        "seq": seq,
        "chain": head.key,
        "chain_seq": head.length + 1,
        "case_id": case_id,
        "at": at,
        "event": str(event),
        "actor": actor,
        "channel": channel,
        "message_id": message_id,
        "detail": detail or {},
        "prev_hash": head.head_hash,
    }
    record["hash"] = entry_hash(head.head_hash, record | {"at": format_at(at)})
    head.length, head.head_hash = record["chain_seq"], record["hash"]
    return record


class _TransactionState:
    """What appending has learnt in this transaction: the chain heads it locked (the lock lasts
    until the end of the transaction, so a second entry needs no second SELECT) and, on SQLite,
    the next seq (one writer at a time there, so it can be counted on)."""

    def __init__(self, transaction: object) -> None:
        self.transaction = transaction
        self.heads: dict[str, LogChain] = {}
        self.seq: int | None = None

    @classmethod
    def of(cls, session: Session) -> _TransactionState:
        transaction = session.get_transaction()
        state = session.info.get("log_state")
        if not isinstance(state, cls) or state.transaction is not transaction:
            state = session.info["log_state"] = cls(transaction)
        return state

    def locked_head(self, session: Session, key: str) -> LogChain:
        head = self.heads.get(key)
        if head is None:
            head = session.execute(
                select(LogChain).where(LogChain.key == key).with_for_update()
            ).scalar_one_or_none()
            if head is None:
                head = LogChain(key=key, length=0, head_hash=GENESIS)
                session.add(head)
            self.heads[key] = head
        return head

    def next_seqs(self, session: Session, count: int) -> list[int]:
        """The next `count` global seqs (`_next_seqs`); on SQLite counted on from the last
        this transaction drew, since its entries wait in the session, unflushed."""
        seqs = _next_seqs(session.connection(), count, drawn=self.seq)
        self.seq = seqs[-1]
        return seqs


@dataclass(frozen=True)
class Problem:
    seq: int | None
    chain: str
    position: int | None
    what: str

    def describe(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "end of chain"
        entry = f", entry {self.position} of {self.chain}" if self.position else f" in {self.chain}"
        return f"{where}{entry}: {self.what}"


@dataclass
class VerifyResult:
    entries: int = 0
    chains: int = 0
    problems: list[Problem] = field(default_factory=list)
    digest: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        """The bad entry that comes first in the log's order."""
        return min(self.problems, key=lambda p: (p.seq is None, p.seq or 0), default=None)


def _check_chain(
    key: str, entries: list[LogEntry], head: LogChain | None, result: VerifyResult
) -> None:
    prev_hash, prev_seq, prev_at = GENESIS, 0, None
    for position, entry in enumerate(entries, start=1):

        def bad(what: str, e: LogEntry = entry, p: int = position) -> None:
            result.problems.append(Problem(e.seq, key, p, what))

        if entry.chain_seq != position:
            bad(
                f"expected entry {position} of the chain here but found entry {entry.chain_seq}"
                " (an entry before it was deleted or the order was changed)"
            )
        elif entry.prev_hash != prev_hash:
            bad("prev_hash does not match the entry before it (an entry was deleted or moved)")
        elif entry_hash(entry.prev_hash, entry) != entry.hash:
            bad("its hash does not match its content (the entry was edited)")
        elif entry.seq <= prev_seq or (prev_at is not None and entry.at < prev_at):
            bad("it is out of order with the entry before it (the entries were reordered)")
        prev_hash, prev_seq, prev_at = entry.hash, entry.seq, entry.at
    if head is None:
        result.problems.append(Problem(None, key, None, "the chain has no head record"))
    elif head.length != len(entries) or head.head_hash != prev_hash:
        result.problems.append(
            Problem(
                None,
                key,
                None,
                f"the chain should hold {head.length} entries ending in "
                f"{head.head_hash[:12]}… but holds {len(entries)} (entries were deleted)",
            )
        )


def verify(session: Session, progress: Callable[[int], None] | None = None) -> VerifyResult:
    """Check every chain of the log; the result names each problem and a digest of all heads."""
    result = VerifyResult()
    all_heads = list(session.scalars(select(LogChain).order_by(LogChain.key)))
    heads = {h.key: h for h in all_heads}  # popped as each chain is checked
    rows = session.scalars(
        select(LogEntry)
        .order_by(LogEntry.chain, LogEntry.chain_seq, LogEntry.seq)
        .execution_options(yield_per=2000)
    )
    current: str | None = None
    batch: list[LogEntry] = []
    for entry in rows:
        if entry.chain != current:
            if current is not None:
                _check_chain(current, batch, heads.pop(current, None), result)
                result.chains += 1
            current, batch = entry.chain, []
        batch.append(entry)
        result.entries += 1
        if progress and result.entries % 1000 == 0:
            progress(1000)
    if current is not None:
        _check_chain(current, batch, heads.pop(current, None), result)
        result.chains += 1
    for key, head in heads.items():  # head rows whose entries are all gone
        if head.length:
            _check_chain(key, [], head, result)
    logged = {int(h.key.removeprefix("case:")) for h in all_heads if h.key.startswith("case:")}
    for case_id in sorted(set(session.scalars(select(Case.id))) - logged):
        result.problems.append(Problem(None, chain_for_case(case_id), None, "the case has no log"))
    result.digest = heads_digest((h.key, h.length, h.head_hash) for h in all_heads)
    return result


def heads_digest(heads: Iterable[tuple[str, int, str]]) -> str:
    """One SHA-256 over every chain head (key, length, head hash), in key order.

    The order is Python's, not the database's collation, so an export's header gives the
    same digest offline.
    """
    digest = hashlib.sha256()
    for key, length, head_hash in sorted(heads):
        digest.update(f"{key}:{length}:{head_hash}\n".encode())
    return digest.hexdigest()


def entry_record(entry: LogEntry) -> dict[str, Any]:
    """An entry as the API and exports show it."""
    return {
        "seq": entry.seq,
        "case_id": entry.case_id,
        "at": format_at(entry.at),
        "event": entry.event,
        "actor": entry.actor,
        "channel": entry.channel,
        "message_id": entry.message_id,
        "detail": entry.detail,
        "chain": entry.chain,
        "chain_seq": entry.chain_seq,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def iter_entries(
    session: Session, *, case_id: int | None = None, since: datetime | None = None
) -> Iterator[LogEntry]:
    query = select(LogEntry).order_by(LogEntry.seq)
    if case_id is not None:
        query = query.where(LogEntry.case_id == case_id)
    if since is not None:
        query = query.where(LogEntry.at >= since)
    yield from session.scalars(query.execution_options(yield_per=2000))


def count_entries(session: Session, *, case_id: int | None = None) -> int:
    query = select(func.count()).select_from(LogEntry)
    if case_id is not None:
        query = query.where(LogEntry.case_id == case_id)
    return int(session.scalar(query) or 0)


def verify_case(session: Session, case_id: int) -> VerifyResult:
    """Check one case's chain (what the admin case page shows next to its log)."""
    key = chain_for_case(case_id)
    result = VerifyResult(chains=1)
    entries = list(
        session.scalars(
            select(LogEntry).where(LogEntry.chain == key).order_by(LogEntry.chain_seq, LogEntry.seq)
        )
    )
    result.entries = len(entries)
    _check_chain(key, entries, session.get(LogChain, key), result)
    return result
