"""Log exports for compliance: filters, redaction, the audit trail, and `log verify FILE`."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.cli import main
from bot.clock import FrozenClock
from bot.core import Core
from bot.errors import InvalidInput
from bot.ledger import chain as log
from bot.ledger.export import ExportFilter, export_log, parse_time_bound
from bot.ledger.redact import Redactor
from bot.ledger.verify_file import verify_export
from bot.store.models import AuditEvent, LogChain, LogEntry
from tests.conftest import Customer, log_events, open_case
from tests.support.fakes import FakeChannel

MARIA = {"name": "Maria Gomez", "phone": "+12125550101"}
LEE = {"name": "Lee Okafor", "phone": "+12125550102"}
# Whatever a redacted export must not hold, in any case or spelling.
SECRETS = ["maria", "gomez", "okafor", "12125550101", "2125550101", "555-0101", "555.0102"]
SECRETS += ["12125550102", "7946 0958", "(212) 555"]


@dataclass
class History:
    maria: int  # a case opened on day 1, asked to confirm, confirmed
    lee: int  # a case opened on day 2, still open


@pytest.fixture
def history(
    client: FlaskClient,
    auth: dict[str, str],
    core: Core,
    channels: dict[str, FakeChannel],
    clock: FrozenClock,
) -> History:
    maria = open_case(client, auth, subject="No internet at Maria Gomez's flat", contact=MARIA)
    customer = Customer(core, channels, MARIA["phone"])
    customer.says(
        "Hello, this is Maria Gomez. Please call me back on (212) 555-0101 "
        "or my work line +44 20 7946 0958 before 2026-11-24 15:00"
    )
    clock.advance(timedelta(hours=1))
    client.post(
        f"/api/v1/cases/{maria['id']}/resolve", json={"resolution": "Line reset."}, headers=auth
    )
    assert "Reply YES" in customer.inbox()[-1]
    customer.says("YES")
    clock.advance(timedelta(days=1))
    lee = open_case(client, auth, subject="Router keeps rebooting", contact=LEE)
    Customer(core, channels, LEE["phone"]).says(
        "lee okafor here, it happened again tonight. Text me at 212.555.0102 (ref case #1)"
    )
    assert log_events(core, maria["id"]).count("customer_message") == 2
    assert "customer_message" in log_events(core, lee["id"])
    return History(maria["id"], lee["id"])


@pytest.fixture
def kp(core: Core, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", core.settings.database_url)
    return CliRunner()


def export(kp: CliRunner, target: Path, *args: str) -> Path:
    result = kp.invoke(main, ["log", "export", "--output", str(target), *args])
    assert result.exit_code == 0, result.output
    return target


def verify_file(kp: CliRunner, path: Path) -> Result:
    return kp.invoke(main, ["log", "verify", str(path)])


def jsonl_entries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()[1:]]


def csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(), newline="")))


def db_entries(core: Core, **where: object) -> list[LogEntry]:
    with core.sessions() as session:
        query = select(LogEntry).filter_by(**where).order_by(LogEntry.seq)
        return list(session.scalars(query))


# -- what an export holds ---------------------------------------------------------------------


def test_a_jsonl_export_starts_with_a_header_that_log_verify_checks(
    kp: CliRunner, core: Core, history: History, tmp_path: Path
) -> None:
    path = export(kp, tmp_path / "log.jsonl")
    header = json.loads(path.read_text().splitlines()[0])
    with core.sessions() as session:
        heads = {h.key: (h.length, h.head_hash) for h in session.scalars(select(LogChain))}
        digest = log.verify(session).digest
    assert header["keepposted_log_export"] == 1 and header["redacted"] is False
    assert header["filters"] == {"case_id": None, "since": None, "until": None, "events": []}
    assert header["digest"] == digest  # what `log verify` prints for the database
    assert {k: (c["length"], c["head_hash"]) for k, c in header["chains"].items()} == heads
    entries = jsonl_entries(path)
    assert header["entries"] == len(entries) == len(db_entries(core))
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    assert "Maria Gomez" in path.read_text()  # not redacted

    checked = verify_file(kp, path)
    assert checked.exit_code == 0, checked.output
    assert f"ok: {len(entries)} entries in {len(heads)} chains (jsonl export" in checked.stdout
    assert (
        f"chain heads: {len(heads)} of {len(heads)} chains end in the head hash" in checked.stdout
    )
    assert f"{digest} (matches the heads in the export" in checked.stdout


def test_a_csv_export_is_one_row_per_entry_with_its_chain_head(
    kp: CliRunner, core: Core, history: History, tmp_path: Path
) -> None:
    path = export(kp, tmp_path / "log.csv", "--format", "csv")
    rows = csv_rows(path)
    assert len(path.read_text().splitlines()) == len(rows) + 1 == len(db_entries(core)) + 1
    with core.sessions() as session:
        heads = {h.key: (h.length, h.head_hash) for h in session.scalars(select(LogChain))}
    for row in rows:
        assert (int(row["chain_length"]), row["chain_head_hash"]) == heads[row["chain"]]
        assert row["redacted"] == ""
    meta = json.loads(rows[0]["export"])
    assert meta["entries"] == len(rows) and meta["redacted"] is False
    assert all(row["export"] == "" for row in rows[1:])
    checked = verify_file(kp, path)
    assert checked.exit_code == 0, checked.output
    assert f"ok: {len(rows)} entries in {len(heads)} chains (csv export" in checked.stdout


def test_export_by_case(kp: CliRunner, core: Core, history: History, tmp_path: Path) -> None:
    path = export(kp, tmp_path / "maria.jsonl", "--case", str(history.maria))
    entries = jsonl_entries(path)
    assert [e["seq"] for e in entries] == [e.seq for e in db_entries(core, case_id=history.maria)]
    header = json.loads(path.read_text().splitlines()[0])
    assert list(header["chains"]) == [f"case:{history.maria}"]
    assert header["filters"]["case_id"] == history.maria
    checked = verify_file(kp, path)
    assert checked.exit_code == 0, checked.output
    assert "filters: case #" in checked.stdout and "not contiguous" not in checked.stdout


def test_export_by_date(kp: CliRunner, core: Core, history: History, tmp_path: Path) -> None:
    day_one = export(kp, tmp_path / "one.jsonl", "--until", "2026-11-23")  # that whole day
    day_two = export(kp, tmp_path / "two.csv", "--format", "csv", "--since", "2026-11-24")
    assert {e["case_id"] for e in jsonl_entries(day_one)} == {history.maria}
    assert {int(r["case_id"]) for r in csv_rows(day_two)} == {history.lee}
    assert len(jsonl_entries(day_one)) + len(csv_rows(day_two)) == len(db_entries(core))
    for path in (day_one, day_two):
        checked = verify_file(kp, path)
        assert checked.exit_code == 0, checked.output
    window = export(
        kp, tmp_path / "w.jsonl", "--since", "2026-11-23T15:00", "--until", "2026-11-23T15:30"
    )
    assert [e["event"] for e in jsonl_entries(window)] == ["case_opened", "customer_message"]
    checked = verify_file(kp, window)
    assert checked.exit_code == 0, checked.output
    assert "1 end before their head (filtered by time or event)" in checked.stdout


def test_export_by_event_leaves_gaps_that_verify_reports(
    kp: CliRunner, core: Core, history: History, tmp_path: Path
) -> None:
    path = export(
        kp, tmp_path / "said.jsonl", "--event", "customer_message", "--event", "confirmed"
    )
    events = [e["event"] for e in jsonl_entries(path)]
    assert events.count("customer_message") == 3 and events.count("confirmed") == 1
    assert set(events) == {"customer_message", "confirmed"}
    checked = verify_file(kp, path)
    assert checked.exit_code == 0, checked.output
    assert "not contiguous (filtered by time or event): linkage checked only where consecutive" in (
        checked.stdout
    )


def test_a_bad_event_names_the_valid_ones_and_writes_nothing(
    kp: CliRunner, history: History, tmp_path: Path
) -> None:
    target = tmp_path / "x.jsonl"
    result = kp.invoke(main, ["log", "export", "--event", "confirmd", "--output", str(target)])
    assert result.exit_code == 2
    assert "'confirmd' is not a log event; choose from: case_opened," in result.output
    assert "confirmed" in result.output and "customer_message" in result.output
    assert not target.exists()
    with pytest.raises(InvalidInput, match="not a log event"):
        ExportFilter(events=("nope",))
    bad_date = kp.invoke(main, ["log", "export", "--since", "yesterday-ish"])
    assert bad_date.exit_code == 2 and "is not a date" in bad_date.output
    backwards = kp.invoke(main, ["log", "export", "--since", "2026-11-24", "--until", "2026-11-23"])
    assert backwards.exit_code == 2 and "must be before" in backwards.output
    missing = kp.invoke(main, ["log", "export", "--case", "999", "--output", str(target)])
    assert missing.exit_code == 2 and "case #999 does not exist" in missing.output
    assert not target.exists()


def test_until_a_date_includes_that_whole_day() -> None:
    assert parse_time_bound("2026-11-23", end=True).isoformat() == "2026-11-24T00:00:00+00:00"
    assert parse_time_bound("2026-11-23T09:30").isoformat() == "2026-11-23T09:30:00+00:00"
    assert parse_time_bound("2026-11-23T09:30+01:00").isoformat() == "2026-11-23T08:30:00+00:00"


# -- redaction --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_redact_leaves_no_phone_or_name_and_keeps_the_hashes(
    kp: CliRunner, core: Core, history: History, tmp_path: Path, fmt: str
) -> None:
    plain = export(kp, tmp_path / f"plain.{fmt}", "--format", fmt)
    redacted = export(kp, tmp_path / f"redacted.{fmt}", "--format", fmt, "--redact")
    assert all(s.casefold() in plain.read_text().casefold() for s in ["maria gomez", "555-0101"])
    raw = redacted.read_text()
    for secret in SECRETS:
        assert secret.casefold() not in raw.casefold(), secret
    assert not re.search(r"\blee\b", raw, re.IGNORECASE)
    assert "[name]" in raw and "[phone ••01]" in raw and "[phone ••58]" in raw
    assert "2026-11-24 15:00" in raw and "case #1" in raw  # times and case numbers stay

    before: list[dict[str, Any]]
    after: list[dict[str, Any]]
    if fmt == "jsonl":
        before, after = jsonl_entries(plain), jsonl_entries(redacted)
        masked = {e["seq"]: e["redacted"] for e in after if "redacted" in e}
    else:
        before, after = csv_rows(plain), csv_rows(redacted)
        masked = {int(r["seq"]): json.loads(r["redacted"]) for r in after if r["redacted"]}
    assert [(e["seq"], e["prev_hash"], e["hash"]) for e in before] == [
        (e["seq"], e["prev_hash"], e["hash"]) for e in after
    ]
    said = [e.seq for e in db_entries(core, event="customer_message")]
    assert all(masked[seq] == ["words"] for seq in said if seq in masked)
    assert len([s for s in said if s in masked]) == 2  # "YES" names nobody
    sent = db_entries(core, event="interim_sent") + db_entries(core, event="confirmation_requested")
    assert sent and all(masked[e.seq] == ["to"] for e in sent)

    checked = verify_file(kp, redacted)
    assert checked.exit_code == 0, checked.output
    assert f"{len(masked)} redacted entries checked by linkage only" in checked.stdout
    assert f"{len(after) - len(masked)} entries' hashes recomputed" in checked.stdout


def test_the_redactor_leaves_hashes_times_and_case_numbers_alone() -> None:
    redactor = Redactor(["Maria Gomez", "Lee", "Will Hope"], ["+447700900123"])
    keep = [
        "3f2a9b1c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8",
        "2026-11-23T15:00:00.000000+00:00",
        "2026-11-23",
        "1700000000.123456",
        "case #10421042, ticket ZD-12345678, on 23.11.2026 at 15:00",
        "it will work, I hope",  # a single word of a name only counts when capitalised
        "Order 1234567 costs 12.50",
    ]
    for text in keep:
        assert redactor.text(text) == text
    assert redactor.text("call +44 7700 900123 or 07700900123") == (
        "call [phone ••23] or [phone ••23]"
    )
    assert redactor.text("ring 020 7946 0958, ask for maria GOMEZ or Maria") == (
        "ring [phone ••58], ask for [name] or [name]"
    )
    assert redactor.text("LEE's line, lee too; sent from+447700900123") == (
        "[name]'s line, [name] too; sent from[phone ••23]"
    )
    detail, paths = redactor.detail(
        {"name": "M. G.", "notes": [{"text": "Will Hope called"}, 5], "score": 2, "to": "U1"}
    )
    assert detail == {
        "name": "[name]",
        "notes": [{"text": "[name] called"}, 5],
        "score": 2,
        "to": "U1",  # a Slack user id is not a phone
    }
    assert paths == ["name", "notes[0].text"]


# -- the audit trail and the API the admin page calls ------------------------------------------


def test_every_export_is_audited(
    kp: CliRunner, core: Core, history: History, tmp_path: Path
) -> None:
    export(kp, tmp_path / "a.jsonl", "--case", str(history.maria), "--redact")
    export(kp, tmp_path / "b.csv", "--format", "csv", "--event", "confirmed")
    with core.sessions() as session:
        rows = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "log_exported")
                .order_by(AuditEvent.id)
            )
        )
    assert [(r.case_id, r.actor) for r in rows] == [
        (history.maria, "agent:cli"),
        (None, "agent:cli"),
    ]
    assert rows[0].detail == {
        "filters": {"case_id": history.maria, "since": None, "until": None, "events": []},
        "format": "jsonl",
        "redact": True,
        "entries": len(db_entries(core, case_id=history.maria)),
    }
    assert rows[1].detail["filters"]["events"] == ["confirmed"]
    assert rows[1].detail["format"] == "csv" and rows[1].detail["entries"] == 1


def test_export_log_writes_to_any_text_stream(core: Core, history: History) -> None:
    out = io.StringIO()
    with core.sessions() as session:
        written = export_log(
            session,
            out,
            fmt="jsonl",
            filters=ExportFilter(case_id=history.lee),
            redact=True,
            actor="admin:web",
            now=core.clock.now(),
        )
        session.commit()
    assert written == len(db_entries(core, case_id=history.lee))
    result = verify_export(io.StringIO(out.getvalue()))
    assert result.ok, [p.describe() for p in result.problems]
    assert result.entries == written and result.chains == 1 and result.heads_matched == 1
    assert result.redacted >= 1 and result.redacted_unbound == 0
    with core.sessions() as session:
        audited = session.scalars(select(AuditEvent).where(AuditEvent.actor == "admin:web")).one()
    assert audited.case_id == history.lee and audited.detail["entries"] == written


# -- an altered export is caught, naming the line -------------------------------------------------


class ExportFile:
    """An export's lines, to alter as a forger would and write back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fmt = path.suffix.lstrip(".")
        text = path.read_text()
        self.head: Any
        self.rows: list[Any]
        if self.fmt == "csv":
            self.head, *self.rows = list(csv.reader(io.StringIO(text, newline="")))
        else:
            self.head, *self.rows = text.splitlines()
        self.seqs = [int(self.record(i)["seq"]) for i in range(len(self.rows))]

    def record(self, index: int) -> dict[str, Any]:
        if self.fmt == "csv":
            return dict(zip(self.head, self.rows[index], strict=True))
        record: dict[str, Any] = json.loads(self.rows[index])
        return record

    def index_of(self, seq: int) -> int:
        return self.seqs.index(seq)

    def line_of(self, seq: int) -> int:
        return self.index_of(seq) + 2  # line 1 is the header

    def edit_detail(self, seq: int, **changes: object) -> None:
        index = self.index_of(seq)
        record = self.record(index)
        if self.fmt == "csv":
            detail = json.loads(str(record["detail"])) | changes
            column = list(self.head).index("detail")
            self.rows[index][column] = json.dumps(detail, sort_keys=True)
        else:
            record["detail"] = dict(record["detail"]) | changes
            self.rows[index] = json.dumps(record)

    def save(self) -> Path:
        if self.fmt == "csv":
            with self.path.open("w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerows([self.head, *self.rows])
        else:
            self.path.write_text("\n".join([self.head, *self.rows]) + "\n")
        return self.path


def expect_bad_line(kp: CliRunner, path: Path, line: int | None, what: str) -> Result:
    result = verify_file(kp, path)
    assert result.exit_code == 1, result.output
    where = f"First bad line: line {line} " if line else "First problem: "
    assert f"FAILED: the export was altered. {where}" in result.stderr, result.stderr
    first = result.stderr.splitlines()[0]
    assert what in first, first
    return result


FORMATS = [("jsonl", ()), ("csv", ()), ("jsonl", ("--redact",)), ("csv", ("--redact",))]


@pytest.fixture(params=FORMATS, ids=["jsonl", "csv", "jsonl-redacted", "csv-redacted"])
def exported(
    request: pytest.FixtureRequest, kp: CliRunner, history: History, tmp_path: Path
) -> ExportFile:
    fmt, extra = request.param
    return ExportFile(export(kp, tmp_path / f"log.{fmt}", "--format", fmt, *extra))


def test_an_edited_entry_is_named(
    kp: CliRunner, core: Core, history: History, exported: ExportFile
) -> None:
    opened = db_entries(core, case_id=history.maria, event="resolution_proposed")[0]
    exported.edit_detail(opened.seq, resolution="We did nothing.")
    bad = expect_bad_line(
        kp, exported.save(), exported.line_of(opened.seq), "hash does not match its content"
    )
    assert f"(seq {opened.seq}, entry {opened.chain_seq} of case:{history.maria})" in bad.stderr


def test_a_deleted_line_in_the_middle_of_a_chain_is_named(
    kp: CliRunner, core: Core, history: History, exported: ExportFile
) -> None:
    chain = db_entries(core, case_id=history.maria)
    victim, after = chain[2], chain[3]
    del exported.rows[exported.index_of(victim.seq)]
    exported.seqs.remove(victim.seq)
    expect_bad_line(
        kp,
        exported.save(),
        exported.line_of(after.seq),
        f"the chain jumps from entry {victim.chain_seq - 1} to entry {after.chain_seq}",
    )


def test_swapped_lines_are_named(
    kp: CliRunner, core: Core, history: History, exported: ExportFile
) -> None:
    chain = db_entries(core, case_id=history.maria)
    a, b = exported.index_of(chain[1].seq), exported.index_of(chain[2].seq)
    exported.rows[a], exported.rows[b] = exported.rows[b], exported.rows[a]
    result = verify_file(kp, exported.save())
    assert result.exit_code == 1
    assert f"First bad line: line {a + 2} " in result.stderr


def test_a_dropped_last_entry_is_found_through_the_header_head(
    kp: CliRunner, core: Core, history: History, exported: ExportFile
) -> None:
    last = db_entries(core)[-1]
    assert exported.seqs[-1] == last.seq
    exported.rows.pop()
    expect_bad_line(kp, exported.save(), None, f"end of {last.chain}: the chain's head says")


def test_a_forged_entry_with_a_recomputed_hash_breaks_the_link(
    kp: CliRunner, core: Core, history: History, tmp_path: Path
) -> None:
    path = export(kp, tmp_path / "log.jsonl")
    lines = path.read_text().splitlines()
    chain = db_entries(core, case_id=history.lee)
    index = [json.loads(line).get("seq") for line in lines].index(chain[0].seq)
    forged = json.loads(lines[index])
    forged["detail"]["subject"] = "Nothing to see"
    forged["hash"] = log.entry_hash(forged["prev_hash"], forged)
    lines[index] = json.dumps(forged)
    path.write_text("\n".join(lines) + "\n")
    expect_bad_line(kp, path, index + 2, "prev_hash does not match the entry before it")


def test_a_filtered_export_with_a_line_deleted_fails_on_its_count(
    kp: CliRunner, history: History, tmp_path: Path
) -> None:
    path = export(kp, tmp_path / "said.jsonl", "--event", "customer_message")
    lines = path.read_text().splitlines()
    del lines[2]
    path.write_text("\n".join(lines) + "\n")
    expect_bad_line(kp, path, None, "the header says the export holds 3 entries but it holds 2")


def test_redacted_marks_in_an_unredacted_export_are_refused(
    kp: CliRunner, core: Core, history: History, tmp_path: Path
) -> None:
    """A forger cannot skip the content check by calling an edited entry redacted."""
    path = export(kp, tmp_path / "log.jsonl")
    lines = path.read_text().splitlines()
    record = json.loads(lines[3])
    record["detail"] = {"forged": True}
    record["redacted"] = ["forged"]
    lines[3] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    expect_bad_line(kp, path, 4, "marked redacted in an export that was not redacted")


# -- log verify FILE needs no database, and knows what is not an export ---------------------------


def test_verify_file_needs_no_database_or_config(
    kp: CliRunner, history: History, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = export(kp, tmp_path / "log.csv", "--format", "csv", "--redact")
    nowhere = tmp_path / "missing" / "keepposted.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{nowhere}")
    monkeypatch.setenv("KEEPPOSTED_CONFIG", str(tmp_path / "no-config.yaml"))
    result = kp.invoke(main, ["log", "verify", str(path)])
    assert result.exit_code == 0, result.output
    assert not nowhere.parent.exists()


def test_a_file_that_is_not_an_export_exits_2(
    kp: CliRunner, core: Core, history: History, tmp_path: Path
) -> None:
    cases = {
        "notes.txt": "just some notes\n",
        "empty.jsonl": "",
        "other.csv": "name,phone\nMaria,+12125550101\n",
        # Exports written before they carried chain heads: entries only.
        "old.jsonl": "".join(
            json.dumps(log.entry_record(e)) + "\n" for e in db_entries(core, case_id=history.lee)
        ),
        "old.csv": "seq,case_id,at,event,actor,channel,message_id,detail,chain,chain_seq,"
        "prev_hash,hash\n",
        "binary.jsonl": b"\xff\xfe\x00garbage".decode("latin-1"),
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="latin-1" if name.startswith("binary") else "utf-8")
        result = verify_file(kp, path)
        assert result.exit_code == 2, (name, result.output)
        assert result.output.startswith("error: "), (name, result.output)
        assert "Traceback" not in result.output
    old = verify_file(kp, tmp_path / "old.jsonl")
    assert "written by an older keepposted. Export it again" in old.output
