"""The resolution-confirmation log is tamper-evident: edits, deletions and reorderings are found."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select, text

from bot.cli import main
from bot.core import Core
from bot.ledger import chain as log
from bot.store.models import LogChain, LogEntry
from tests.conftest import Customer, open_case
from tests.support.fakes import FakeChannel


@pytest.fixture
def history(
    client: FlaskClient, auth: dict[str, str], core: Core, channels: dict[str, FakeChannel]
) -> list[int]:
    """Three cases with a few events each; returns their ids."""
    ids = []
    for n, phone in enumerate(["+12125550101", "+12125550102", "+12125550103"]):
        case = open_case(
            client, auth, ref=f"R-{n}", contact={"name": f"Customer {n}", "phone": phone}
        )
        client.post(
            f"/api/v1/cases/{case['id']}/resolve", json={"resolution": "Fixed it."}, headers=auth
        )
        customer = Customer(core, channels, phone)
        assert "Reply YES" in customer.inbox()[-1]
        customer.says("YES")
        ids.append(case["id"])
    return ids


def run_verify(core: Core) -> log.VerifyResult:
    with core.sessions() as session:
        return log.verify(session)


def execute(core: Core, sql: str, **params: object) -> None:
    with core.engine.begin() as connection:
        connection.execute(text(sql), params)


def entry_seqs(core: Core, case_id: int) -> list[int]:
    with core.sessions() as session:
        return list(
            session.scalars(
                select(LogEntry.seq).where(LogEntry.case_id == case_id).order_by(LogEntry.seq)
            )
        )


def test_an_untouched_log_verifies(core: Core, history: list[int]) -> None:
    result = run_verify(core)
    assert result.ok, [p.describe() for p in result.problems]
    assert result.chains == 3 and result.entries == 3 * 5


def test_each_hash_is_sha256_over_the_previous_hash_and_canonical_json(
    core: Core, history: list[int]
) -> None:
    with core.sessions() as session:
        entries = list(
            session.scalars(
                select(LogEntry).where(LogEntry.case_id == history[0]).order_by(LogEntry.seq)
            )
        )
    assert entries[0].prev_hash == "0" * 64
    for before, entry in itertools.pairwise(entries):
        assert entry.prev_hash == before.hash
    first = entries[0]
    body = json.loads(log.canonical_json(first))
    assert body["event"] == "case_opened" and body["seq"] == first.seq
    expected = hashlib.sha256(first.prev_hash.encode() + log.canonical_json(first)).hexdigest()
    assert first.hash == expected


def test_an_edited_entry_is_named(core: Core, history: list[int]) -> None:
    victim = entry_seqs(core, history[1])[3]
    execute(
        core,
        "UPDATE log_entries SET detail = :d WHERE seq = :s",
        d='{"words": "it works"}',
        s=victim,
    )
    result = run_verify(core)
    assert not result.ok
    first = result.first_problem
    assert first is not None and first.seq == victim and "edited" in first.what


def test_an_edited_event_name_is_found(core: Core, history: list[int]) -> None:
    victim = entry_seqs(core, history[0])[-1]
    execute(core, "UPDATE log_entries SET event = 'reopen_requested' WHERE seq = :s", s=victim)
    first = run_verify(core).first_problem
    assert first is not None and first.seq == victim


def test_a_deleted_entry_in_the_middle_is_found(core: Core, history: list[int]) -> None:
    seqs = entry_seqs(core, history[2])
    execute(core, "DELETE FROM log_entries WHERE seq = :s", s=seqs[2])
    first = run_verify(core).first_problem
    assert first is not None and first.seq == seqs[3]
    assert "deleted" in first.what


def test_a_deleted_last_entry_is_found_through_the_chain_head(
    core: Core, history: list[int]
) -> None:
    seqs = entry_seqs(core, history[0])
    execute(core, "DELETE FROM log_entries WHERE seq = :s", s=seqs[-1])
    result = run_verify(core)
    assert not result.ok
    assert any(p.chain == f"case:{history[0]}" and "deleted" in p.what for p in result.problems)


def test_a_deleted_whole_chain_is_found(core: Core, history: list[int]) -> None:
    execute(core, "DELETE FROM log_entries WHERE case_id = :c", c=history[1])
    execute(core, "DELETE FROM log_chains WHERE key = :k", k=f"case:{history[1]}")
    result = run_verify(core)
    assert any("has no log" in p.what for p in result.problems)


def test_swapped_positions_are_found(core: Core, history: list[int]) -> None:
    a, b = entry_seqs(core, history[1])[1:3]
    execute(core, "UPDATE log_entries SET chain_seq = -1 WHERE seq = :a", a=a)
    execute(core, "UPDATE log_entries SET chain_seq = 2 WHERE seq = :b", b=b)
    execute(core, "UPDATE log_entries SET chain_seq = 3 WHERE seq = :a", a=a)
    first = run_verify(core).first_problem
    assert first is not None and first.seq in (a, b)


def test_swapped_global_order_is_found(core: Core, history: list[int]) -> None:
    """Swapping the seq of two entries of different cases moves them in the log's order."""
    a, b = entry_seqs(core, history[0])[1], entry_seqs(core, history[1])[1]
    execute(core, "UPDATE log_entries SET seq = -1 WHERE seq = :a", a=a)
    execute(core, "UPDATE log_entries SET seq = :a WHERE seq = :b", a=a, b=b)
    execute(core, "UPDATE log_entries SET seq = :b WHERE seq = -1", b=b)
    result = run_verify(core)
    assert not result.ok
    assert {p.seq for p in result.problems} >= {a, b}


def test_a_rewritten_head_does_not_hide_an_edit(core: Core, history: list[int]) -> None:
    """Recomputing one entry's hash breaks the link to the next one."""
    with core.sessions.begin() as session:
        entry = session.scalars(
            select(LogEntry)
            .where(LogEntry.case_id == history[0])
            .order_by(LogEntry.seq)
            .offset(1)
            .limit(1)
        ).one()
        entry.detail = {"forged": True}
        entry.hash = log.entry_hash(entry.prev_hash, entry)
    first = run_verify(core).first_problem
    assert first is not None and "prev_hash" in first.what


def test_log_verify_command_exits_1_naming_the_first_bad_entry(
    core: Core, history: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", core.settings.database_url)
    runner = CliRunner()
    ok = runner.invoke(main, ["log", "verify"])
    assert ok.exit_code == 0 and "15 entries in 3 chains are intact" in ok.output
    victim = entry_seqs(core, history[1])[0]
    execute(core, "UPDATE log_entries SET actor = 'agent:someone-else' WHERE seq = :s", s=victim)
    bad = runner.invoke(main, ["log", "verify"])
    assert bad.exit_code == 1
    assert f"First bad entry: seq {victim}, entry 1 of case:{history[1]}" in bad.output


def test_export_jsonl_and_csv_carry_what_verify_needs(
    core: Core, history: list[int], monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("DATABASE_URL", core.settings.database_url)
    runner = CliRunner()
    jsonl = runner.invoke(main, ["log", "export", "--format", "jsonl"])
    assert jsonl.exit_code == 0, jsonl.output
    lines = [line for line in jsonl.stdout.splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines[1:]]  # line 1 is the export's header
    assert len(records) == 15
    assert set(records[0]) >= {
        "seq",
        "at",
        "event",
        "actor",
        "channel",
        "message_id",
        "detail",
        "prev_hash",
        "hash",
        "chain",
        "chain_seq",
    }
    csv_run = runner.invoke(main, ["log", "export", "--format", "csv", "--case", str(history[0])])
    rows = list(csv.DictReader(io.StringIO(csv_run.stdout.split("exporting")[0])))
    assert [r["event"] for r in rows] == [
        "case_opened",
        "resolution_proposed",
        "confirmation_requested",
        "customer_message",
        "confirmed",
    ]
    assert json.loads(rows[0]["detail"])["ref"] == "R-0"


def test_heads_track_each_chain(core: Core, history: list[int]) -> None:
    with core.sessions() as session:
        heads = {h.key: h for h in session.scalars(select(LogChain))}
        last = session.scalars(
            select(LogEntry).where(LogEntry.case_id == history[2]).order_by(LogEntry.seq.desc())
        ).first()
    assert last is not None
    assert heads[f"case:{history[2]}"].length == 5
    assert heads[f"case:{history[2]}"].head_hash == last.hash
