"""Searching case notes by words, tag, kind and case (bot/ops/notes_search.py, GET /api/v1/notes),
and the case summary over the API. Every search test runs on SQLite (FTS5) and on a throwaway
PostgreSQL (full text search) with the same assertions."""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from flask.testing import FlaskClient
from sqlalchemy import (
    Connection,
    Insert,
    MetaData,
    delete,
    func,
    insert,
    inspect,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from bot.app import create_app
from bot.clock import FrozenClock
from bot.config import Config, Settings
from bot.core import Core, create_core
from bot.engine import actions
from bot.errors import InvalidInput
from bot.ops.notes_search import PG_DOCUMENT, SNIPPET_CHARS, search_notes, snippet, words
from bot.store.db import make_engine
from bot.store.migrate import alembic_config, migration_context, upgrade
from bot.store.models import (
    AuditEvent,
    Base,
    Case,
    LogEntry,
    Message,
    Note,
    NoteRevision,
    Outbox,
)
from channels.registry import ChannelRegistry
from tests.conftest import API_TOKEN, SECRET_KEY, resolved_case

API = "/api/v1"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
NOTE_FIELDS = {
    "id",
    "case_id",
    "kind",
    "tags",
    "author",
    "text",
    "snippet",
    "created_at",
    "updated_at",
}
HOSTILE = [
    "",
    "   ",
    '"',
    '""',
    '"""',
    "'",
    "''",
    "*",
    "**",
    "-",
    "--",
    "+",
    "OR",
    "AND",
    "NOT",
    "NEAR",
    "NEAR(router refund)",
    "router OR refund",
    "router AND",
    "NOT router",
    "(",
    ")",
    "()",
    "((router",
    "{text}: router",
    "text:router",
    "tags:vip",
    "rowid:1",
    "^router",
    ":*",
    "router:*",
    "& | ! <-> <2>",
    "!router",
    "router & !refund",
    "\\",
    "\\'",
    "%",
    "_",
    "%_%",
    "\x00",
    "router\x00refund",
    "\ud800",
    "🙂 🔥",
    "a" * 10_000,
    "router " * 1_500,
    "x" * 10_000 + " router",
    string.punctuation,
    string.punctuation * 300,
    "SELECT * FROM notes; --",
    "'; DROP TABLE notes; --",
    "<b>router</b>",
    "\u0301",  # a combining mark alone
    "\ue000",  # private use
    "\u200d\u200b",  # zero-width joiner and space
    "İSTANBUL ǅ ß",
    "http://example.com/a?b=c&d='e'",
]


@dataclass
class Seeded:
    """Two cases and five notes, oldest first: n1..n3 on case A, n4 and n5 on case B."""

    case_a: int
    case_b: int
    n1: int
    n2: int
    n3: int
    n4: int
    n5: int


# --- backends ----------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def search_core(request: pytest.FixtureRequest) -> Core:
    """conftest's SQLite core, or the same on a throwaway PostgreSQL."""
    found: Core = request.getfixturevalue("core" if request.param == "sqlite" else "pg_core")
    assert found.engine.dialect.name == request.param
    return found


@pytest.fixture
def search_client(search_core: Core) -> FlaskClient:
    return create_app(core=search_core).test_client()


@pytest.fixture
def seeded(search_core: Core, clock: FrozenClock) -> Seeded:
    case_a = _open(search_core, "Internet down", "Maria Gomez", "+12125550101")
    case_b = _open(search_core, "Billing question", "John Smith", "+12125550102")
    notes = [
        (case_a, "interaction", "Router rebooted remotely; the line is stable now.", ["network"]),
        (
            case_a,
            "escalation",
            "Escalated to tier two: refund of the March invoice requested by the customer.",
            ["billing", "vip"],
        ),
        (
            case_a,
            "technical",
            "Réinitialisation du routeur demandée, le client attend le technicien.",
            ["network", "fr"],
        ),
        (case_b, "follow_up", "Call back about the refund on Friday.", ["billing"]),
        (case_b, "supervisor", "ग्राहक ने रिफंड माँगा है", ["hi"]),
    ]
    ids = [_add(search_core, clock, *note) for note in notes]
    return Seeded(case_a, case_b, *ids)


def _open(core: Core, subject: str, name: str, phone: str) -> int:
    with core.sessions.begin() as session:
        case = actions.open_case(
            session,
            core,
            subject=subject,
            contact={"name": name, "phone": phone},
            actor="agent:U0AGENT",
            now=core.clock.now(),
        )
        return case.id


def _add(
    core: Core, clock: FrozenClock, case_id: int, kind: str, body: str, tags: list[str]
) -> int:
    clock.advance(timedelta(minutes=1))  # distinct times: "newest first" is well defined
    with core.sessions.begin() as session:
        case = actions.get_case(session, case_id)
        note = actions.add_note(
            session, case, kind=kind, text=body, tags=tags, author="agent:U0AGENT", now=clock.now()
        )
        return note.id


def found(core: Core, **filters: Any) -> list[int]:
    """Ids of the notes search_notes returns, in its order."""
    with core.sessions() as session:
        return [hit.note.id for hit in search_notes(session, **filters)]


def erase_case(session: Session, case_id: int) -> None:
    """Delete a case and every row that points at it (keepposted has no such action yet)."""
    note_ids = select(Note.id).where(Note.case_id == case_id).scalar_subquery()
    session.execute(delete(NoteRevision).where(NoteRevision.note_id.in_(note_ids)))
    message_ids = select(Message.id).where(Message.case_id == case_id).scalar_subquery()
    session.execute(
        delete(Outbox).where(or_(Outbox.case_id == case_id, Outbox.message_id.in_(message_ids)))
    )
    for model in (Note, Message, LogEntry, AuditEvent):
        session.execute(delete(model).where(model.case_id == case_id))
    session.execute(delete(Case).where(Case.id == case_id))


def index_is_consistent(session: Session) -> None:
    """On SQLite, FTS5 checks its index against the notes table (raises if they differ)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            text("INSERT INTO notes_fts(notes_fts, rank) VALUES ('integrity-check', 1)")
        )


# --- search_notes on both backends -------------------------------------------------------------


def test_finds_by_word_and_by_prefix(search_core: Core, seeded: Seeded) -> None:
    s = seeded
    assert found(search_core, text="router") == [s.n1]
    assert found(search_core, text="ROUTER") == [s.n1]
    assert set(found(search_core, text="rout")) == {s.n1, s.n3}  # router, routeur
    assert set(found(search_core, text="refund")) == {s.n2, s.n4}
    assert found(search_core, text="refund march") == [s.n2]  # every word must match
    assert found(search_core, text="march refund") == [s.n2]
    assert found(search_core, text="refund stable") == []
    assert found(search_core, text="réinitialisation") == [s.n3]
    assert found(search_core, text="réinit") == [s.n3]
    assert found(search_core, text="ग्राहक") == [s.n5]  # Devanagari, combining marks and all
    assert found(search_core, text="ग्रा") == [s.n5]
    assert found(search_core, text="vip") == [s.n2]  # tags are searched as words too
    assert found(search_core, text="modem") == []


def test_finds_identifiers_as_written(
    search_core: Core, clock: FrozenClock, seeded: Seeded
) -> None:
    body = "Customer john@example.com paid 12.50 for ORD-12345; sent the e-mail link."
    note_id = _add(search_core, clock, seeded.case_b, "interaction", body, [])
    for query in ("john@example.com", "john", "12.50", "ORD-12345", "ord", "e-mail", "mail"):
        assert found(search_core, text=query) == [note_id], query


def test_filters_by_exact_tag(search_core: Core, seeded: Seeded) -> None:
    s = seeded
    assert found(search_core, tag="billing") == [s.n4, s.n2]  # newest first
    assert found(search_core, tag="network") == [s.n3, s.n1]
    assert found(search_core, tag="fr") == [s.n3]
    assert found(search_core, tag="bill") == []  # a tag is matched whole
    assert found(search_core, tag="BILLING") == []
    assert found(search_core, tag='["billing"]') == []
    assert found(search_core, tag="") == []


def test_filters_by_kind(search_core: Core, seeded: Seeded) -> None:
    assert found(search_core, kind="escalation") == [seeded.n2]
    assert found(search_core, kind="sentiment") == []
    with search_core.sessions() as session, pytest.raises(InvalidInput, match="note kind"):
        search_notes(session, kind="escalations")


def test_combined_filters(search_core: Core, seeded: Seeded) -> None:
    s = seeded
    assert found(search_core, text="refund", tag="billing", kind="follow_up") == [s.n4]
    assert found(search_core, text="refund", case_id=s.case_a) == [s.n2]
    assert found(search_core, text="refund", kind="escalation", tag="network") == []
    assert set(found(search_core, text="rout", tag="network", case_id=s.case_a)) == {s.n1, s.n3}
    assert found(search_core, tag="billing", case_id=s.case_b) == [s.n4]
    assert found(search_core, case_id=s.case_b) == [s.n5, s.n4]
    assert found(search_core, case_id=10**6) == []


def test_newest_first_without_text_and_best_first_with_it(
    search_core: Core, clock: FrozenClock, seeded: Seeded
) -> None:
    s = seeded
    assert found(search_core) == [s.n5, s.n4, s.n3, s.n2, s.n1]
    assert found(search_core, limit=2) == [s.n5, s.n4]
    best = _add(
        search_core, clock, s.case_a, "interaction", "Outage: outage confirmed, outage.", []
    )
    weaker = _add(
        search_core,
        clock,
        s.case_a,
        "interaction",
        "Customer called about the weather, the bill, the engineer visit and, "
        "in passing, an outage in the next street.",
        [],
    )
    assert found(search_core, text="outage") == [best, weaker]
    for bad in (0, -1, 501):
        with search_core.sessions() as session, pytest.raises(InvalidInput, match="limit"):
            search_notes(session, limit=bad)


def test_snippet_is_plain_text_around_the_match(
    search_core: Core, clock: FrozenClock, seeded: Seeded
) -> None:
    filler = "The customer described the whole history of the account once more. " * 6
    body = f"{filler}\n\nThen the <b>modem</b> was swapped & tested.\n{filler}"
    note_id = _add(search_core, clock, seeded.case_a, "technical", body, [])
    with search_core.sessions() as session:
        [hit] = search_notes(session, text="modem")
        assert hit.note.id == note_id
        assert "the <b>modem</b> was swapped & tested." in hit.snippet  # as written, unescaped
        assert hit.snippet.startswith("…") and hit.snippet.endswith("…")
        assert "\n" not in hit.snippet and len(hit.snippet) <= SNIPPET_CHARS + 2
        [short] = search_notes(session, text="router")
        assert short.snippet == "Router rebooted remotely; the line is stable now."
        newest = search_notes(session, limit=1)[0]  # no text: the start of the note
        assert newest.snippet.startswith("The customer described") and newest.snippet[-1] == "…"


def test_an_edited_note_is_found_by_its_new_text_only(search_core: Core, seeded: Seeded) -> None:
    with search_core.sessions.begin() as session:
        note = session.get(Note, seeded.n1)
        assert note is not None
        actions.edit_note(
            session,
            note,
            text="Modem swapped; signal good.",
            tags=["hardware"],
            editor="agent:U0SUP",
            now=search_core.clock.now(),
        )
    assert found(search_core, text="router") == []
    assert found(search_core, text="modem") == [seeded.n1]
    assert found(search_core, text="hardware") == [seeded.n1]
    assert found(search_core, tag="hardware") == [seeded.n1]
    assert found(search_core, tag="network") == [seeded.n3]
    with search_core.sessions() as session:
        index_is_consistent(session)


def test_a_deleted_note_or_case_is_not_found(
    search_core: Core, clock: FrozenClock, seeded: Seeded
) -> None:
    s = seeded
    with search_core.sessions.begin() as session:
        session.execute(delete(Note).where(Note.id == s.n5))
    assert found(search_core, text="ग्राहक") == []
    # SQLite hands the deleted note's id to the next row: the old words must not follow it.
    fresh = _add(search_core, clock, s.case_b, "interaction", "Fresh start.", ["new"])
    assert found(search_core, text="ग्राहक") == []
    assert found(search_core, text="fresh") == [fresh]
    with search_core.sessions.begin() as session:
        erase_case(session, s.case_b)
    assert found(search_core, text="refund") == [s.n2]
    assert found(search_core, tag="billing") == [s.n2]
    assert found(search_core, text="fresh") == []
    assert found(search_core) == [s.n3, s.n2, s.n1]
    with search_core.sessions() as session:
        index_is_consistent(session)


def test_hostile_query_text_never_raises(search_core: Core, seeded: Seeded) -> None:
    for query in HOSTILE:  # one database for all of them: a fresh one each is slow on PostgreSQL
        assert found(search_core, text=query, tag=query) == [], query[:40]  # no such tag
        assert isinstance(found(search_core, text=query), list)
        assert isinstance(found(search_core, text=query, kind="escalation", limit=1), list)


def test_search_syntax_is_read_as_plain_words(search_core: Core, seeded: Seeded) -> None:
    s = seeded
    for query in ('"router', 'router"', "(router)", "router*", "-router", "+router", "router:*"):
        assert found(search_core, text=query) == [s.n1], query
    assert found(search_core, text="router " * 1_500) == [s.n1]
    assert found(search_core, text="   ") == found(search_core)  # blank text is no filter
    assert found(search_core, text=string.punctuation) == []


# --- the API on both backends ------------------------------------------------------------------


def test_notes_api_needs_the_token(search_client: FlaskClient, seeded: Seeded) -> None:
    for path in (f"{API}/notes?q=router", f"{API}/cases/{seeded.case_a}/summary"):
        response = search_client.get(path)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthorized"
        wrong = search_client.get(path, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401


def test_notes_api_searches_and_audits(
    search_client: FlaskClient, search_core: Core, seeded: Seeded
) -> None:
    s = seeded
    response = search_client.get(f"{API}/notes?q=refund&tag=billing&actor=U0SUP", headers=AUTH)
    assert response.status_code == 200
    notes = response.get_json()["notes"]
    assert {n["id"] for n in notes} == {s.n4, s.n2}
    assert all(set(n) == NOTE_FIELDS for n in notes)
    n4 = next(n for n in notes if n["id"] == s.n4)
    assert n4 | {"created_at": None, "updated_at": None} == {
        "id": s.n4,
        "case_id": s.case_b,
        "kind": "follow_up",
        "tags": ["billing"],
        "author": "agent:U0AGENT",
        "text": "Call back about the refund on Friday.",
        "snippet": "Call back about the refund on Friday.",
        "created_at": None,
        "updated_at": None,
    }
    assert n4["created_at"].endswith("Z")

    by_case = search_client.get(f"{API}/notes?case={s.case_a}&kind=technical", headers=AUTH)
    assert [n["id"] for n in by_case.get_json()["notes"]] == [s.n3]
    newest = search_client.get(f"{API}/notes?limit=2", headers=AUTH).get_json()["notes"]
    assert [n["id"] for n in newest] == [s.n5, s.n4]

    with search_core.sessions() as session:
        audited = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "notes_searched").order_by(AuditEvent.id)
        ).all()
    assert [(a.actor, a.case_id) for a in audited] == [
        ("agent:U0SUP", None),
        ("agent:api", s.case_a),
        ("agent:api", None),
    ]
    assert audited[0].detail | {"note_ids": None} == {
        "q": "refund",
        "tag": "billing",
        "kind": None,
        "note_ids": None,
    }
    assert sorted(audited[0].detail["note_ids"]) == sorted([s.n2, s.n4])
    assert audited[1].detail["kind"] == "technical"


@pytest.mark.parametrize(
    ("query", "status", "field"),
    [
        ("limit=0", 422, "limit"),
        ("limit=201", 422, "limit"),
        ("limit=ten", 422, "limit"),
        ("limit=-1", 422, "limit"),
        ("limit=", 422, "limit"),
        ("kind=escalations", 422, "kind"),
        ("kind=ESCALATION", 422, "kind"),
        ("case=abc", 422, "case"),
        ("case=0", 422, "case"),
        ("case=99999999999999999999", 422, "case"),
        ("case=4242", 404, "id"),
        ("actor=" + "U" * 33, 422, "actor"),
    ],
)
def test_notes_api_rejects_bad_parameters(
    search_client: FlaskClient,
    search_core: Core,
    seeded: Seeded,
    query: str,
    status: int,
    field: str,
) -> None:
    response = search_client.get(f"{API}/notes?q=refund&{query}", headers=AUTH)
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["field"] == field and error["message"]
    with search_core.sessions() as session:  # a refused search is not audited as done
        assert (
            session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "notes_searched")
            )
            == 0
        )


def test_notes_api_takes_any_query_text(search_client: FlaskClient, seeded: Seeded) -> None:
    for query in HOSTILE:
        if "\ud800" in query:
            continue  # a lone surrogate has no UTF-8 form to put in a URL
        response = search_client.get(f"{API}/notes", query_string={"q": query}, headers=AUTH)
        assert response.status_code == 200, (query[:40], response.get_json())
        assert isinstance(response.get_json()["notes"], list)


def test_summary_api_tells_the_story(search_client: FlaskClient) -> None:
    case_id = resolved_case(search_client, AUTH)
    response = search_client.get(f"{API}/cases/{case_id}/summary", headers=AUTH)
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"summary", "sentences", "key_times"}
    assert 2 <= len(body["sentences"]) <= 5
    assert body["summary"] == " ".join(body["sentences"])
    assert body["sentences"][0] == (
        'Maria Gomez got in touch on Mon 23 Nov, 10:00 EST about "Internet down" (P2).'
    )
    assert "The proposed fix was: We replaced the line card." in body["sentences"]
    labels = [t["label"] for t in body["key_times"]]
    assert labels[:2] == ["opened", "resolution proposed"]
    assert all(t["at"] == "2026-11-23T15:00:00Z" for t in body["key_times"])
    missing = search_client.get(f"{API}/cases/4242/summary", headers=AUTH)
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"


# --- SQLite-only (conftest's fixtures) ---------------------------------------------------------


def test_summary_endpoint_of_a_fresh_case(client: FlaskClient, auth: dict[str, str]) -> None:
    made = client.post(
        f"{API}/cases",
        json={"subject": "Router down", "contact": {"name": "Ann Lee", "phone": "+12125550109"}},
        headers=auth,
    )
    case_id = made.get_json()["id"]
    body = client.get(f"{API}/cases/{case_id}/summary", headers=auth).get_json()
    assert body["sentences"] == [
        'Ann Lee got in touch on Mon 23 Nov, 10:00 EST about "Router down" (P3).',
        "It is open; next update Mon 23 Nov, 14:00 EST.",
    ]
    assert body["key_times"] == [{"label": "opened", "at": "2026-11-23T15:00:00Z"}]


def test_the_migration_indexes_notes_written_before_it(
    tmp_path: Any, config: Config, clock: FrozenClock
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0006")
    note_id = _note_at_0006(url, clock.now(), "Splitter replaced at the cabinet.")
    upgrade(url)
    settings = Settings(database_url=url, api_token=API_TOKEN, secret_key=SECRET_KEY)
    core = create_core(config, settings, clock=clock, channels=ChannelRegistry({}))
    try:
        assert found(core, text="splitter") == [note_id]
    finally:
        core.engine.dispose()


def _note_at_0006(url: str, now: datetime, body: str) -> int:
    """A case's note written as the schema stood at 0006: plain SQL on the reflected tables,
    since today's models name columns that later migrations added."""
    engine = make_engine(url)
    tables = MetaData()
    tables.reflect(engine)
    try:
        with engine.begin() as connection:
            contact_id = _row(
                connection,
                insert(tables.tables["contacts"]).values(
                    phone="+12125550101", channel="sms", opted_out=[], created_at=now
                ),
            )
            case_id = _row(
                connection,
                insert(tables.tables["cases"]).values(
                    subject="Internet down",
                    priority="P3",
                    status="open",
                    paused=False,
                    contact_id=contact_id,
                    reopen_count=0,
                    created_at=now,
                    updated_at=now,
                ),
            )
            note_id = _row(
                connection,
                insert(tables.tables["notes"]).values(
                    case_id=case_id,
                    kind="technical",
                    text=body,
                    tags=[],
                    author="agent:U0AGENT",
                    created_at=now,
                    updated_at=now,
                ),
            )
        return note_id
    finally:
        engine.dispose()


def _row(connection: Connection, statement: Insert) -> int:
    """Run an insert; the new row's id."""
    key = connection.execute(statement).inserted_primary_key
    assert key is not None
    return int(key[0])


# --- migration 0007 on both backends -----------------------------------------------------------


def test_migration_0007_goes_down_and_up_and_matches_the_models(search_core: Core) -> None:
    url = search_core.settings.database_url
    search_core.engine.dispose()

    def search_objects(at_head: bool = True) -> set[str]:
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                inspector = inspect(connection)
                names = set(inspector.get_table_names())
                names |= {i["name"] or "" for i in inspector.get_indexes("notes")}
                if connection.dialect.name == "sqlite":
                    names |= set(
                        connection.scalars(
                            text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
                        )
                    )
                if at_head:  # later migrations' changes are missing below head
                    assert compare_metadata(migration_context(connection), Base.metadata) == []
                return {n for n in names if "fts" in n}
        finally:
            engine.dispose()

    made = search_objects()
    assert made == (
        {
            "notes_fts",
            "notes_fts_config",
            "notes_fts_data",
            "notes_fts_docsize",
            "notes_fts_idx",
            "notes_fts_insert",
            "notes_fts_update",
            "notes_fts_delete",
        }
        if url.startswith("sqlite")
        else {"ix_notes_fts"}
    )
    command.downgrade(alembic_config(url), "0006")
    assert search_objects(at_head=False) == set()
    upgrade(url)
    assert search_objects() == made


@pytest.mark.postgres
def test_postgres_answers_from_the_index(pg_core: Core) -> None:
    """notes_search's expression is the migration's, word for word, so the index is used."""
    query = select(Note.id).where(
        PG_DOCUMENT.op("@@")(func.to_tsquery(literal_column("'simple'::regconfig"), "'rout':*"))
    )
    sql = str(query.compile(pg_core.engine, compile_kwargs={"literal_binds": True}))
    with pg_core.engine.connect() as connection:
        connection.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(connection.scalars(text(f"EXPLAIN {sql}")))
    assert "ix_notes_fts" in plan, plan


def test_words_are_cut_as_sqlite_cuts_them() -> None:
    assert words("Router's re-boot (x2) OK?") == ["Router", "s", "re", "boot", "x2", "OK"]
    assert words("नमस्ते दुनिया") == ["नमस्ते", "दुनिया"]
    assert words("e\u0301te\u0301 café") == ["e\u0301te\u0301", "café"]
    assert words('"*-()') == []
    assert snippet("short\n\ntext", ["x"]) == "short text"
