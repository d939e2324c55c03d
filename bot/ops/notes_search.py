"""Full-text search over case notes: one function for SQLite
(FTS5) and PostgreSQL (full text search), over the indexes migration 0007 makes.

The query is free text typed by a supervisor, never search syntax: it is cut into words, and
every word must match the start of a word in the note's text or tags. Quotes, `*`, `-`, `OR`
and brackets are plain characters here, so no input can make the database raise.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Select, exists, func, literal_column, select, text
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.sql import column, table

from bot.domain import NoteKind
from bot.errors import InvalidInput
from bot.store.models import Note

MAX_LIMIT = 500
MAX_QUERY_CHARS = 1000  # a pasted page is cut here, then to its first MAX_TERMS words
MAX_TERMS = 16
SNIPPET_CHARS = 200
# What SQLite's tokenizer counts as word characters (migration 0007: categories 'L* N* Co M*').
WORD_CATEGORIES = frozenset("LNM")
ELLIPSIS = "…"

# The expression migration 0007 indexes on PostgreSQL, word for word: the planner uses the
# index only for a query on the very same expression.
PG_DOCUMENT: ColumnElement[Any] = literal_column(
    "to_tsvector('simple'::regconfig, notes.text || ' ' || notes.tags::text)"
)
# The query's words as PostgreSQL cuts documents into words (it keeps e-mail addresses, URLs,
# decimals and hyphenated words whole), in the order they come.
PG_WORDS = text(
    "SELECT lexeme FROM unnest(to_tsvector('simple'::regconfig, :text))"
    " ORDER BY positions[1] LIMIT :limit"
)
FTS = table("notes_fts", column("rowid"))
FTS_TABLE: ColumnElement[Any] = literal_column("notes_fts")


@dataclass(frozen=True)
class NoteHit:
    """A note found, with a plain-text excerpt around the match (not escaped: the caller does)."""

    note: Note
    snippet: str


def search_notes(
    session: Session,
    *,
    text: str | None = None,
    tag: str | None = None,
    kind: str | None = None,
    case_id: int | None = None,
    limit: int = 50,
) -> list[NoteHit]:
    """Notes matching every filter given: best match first when `text` is given, else newest
    first. `tag` and `kind` match exactly; a blank `text` is no filter."""
    if kind is not None and kind not in {k.value for k in NoteKind}:
        raise InvalidInput(f"note kind must be one of: {', '.join(NoteKind)}", field="kind")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be from 1 to {MAX_LIMIT}", field="limit")
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"notes search supports SQLite and PostgreSQL, not {dialect}")
    query = select(Note)
    if tag is not None:
        query = query.where(_has_tag(dialect, _clean(tag)))
    if kind is not None:
        query = query.where(Note.kind == kind)
    if case_id is not None:
        query = query.where(Note.case_id == case_id)
    newest = (Note.created_at.desc(), Note.id.desc())
    terms: list[str] = []
    if text is not None and text.strip():
        terms = _search_words(session, dialect, _clean(text)[:MAX_QUERY_CHARS])
        if not terms:  # only punctuation, or words too long to index: nothing can match
            return []
        query = (_sqlite_match if dialect == "sqlite" else _postgres_match)(query, terms)
    notes = session.scalars(query.order_by(*newest).limit(limit))
    return [NoteHit(note, snippet(note.text, terms)) for note in notes]


def words(text: str) -> list[str]:
    """The words of `text` as SQLite's index cuts them: runs of letters, digits and marks in
    any script (and private-use characters); everything else separates words."""
    found: list[str] = []
    current: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if category[0] in WORD_CATEGORIES or category == "Co":
            current.append(char)
        elif current:
            found.append("".join(current))
            current = []
    if current:
        found.append("".join(current))
    return found


def snippet(text: str, terms: list[str]) -> str:
    """About SNIPPET_CHARS of the note's text on one line, around the first word that matches
    one of `terms` (the start of the text when none does), cut at spaces, marked with `…`."""
    flat = " ".join(text.split())
    if len(flat) <= SNIPPET_CHARS:
        return flat
    start = 0
    found = _first_match(flat, terms)
    if found is not None:
        start = max(0, min(found - SNIPPET_CHARS // 4, len(flat) - SNIPPET_CHARS))
    end = start + SNIPPET_CHARS
    if start > 0:
        space = flat.find(" ", start, found if found is not None else end)
        start = space + 1 if space != -1 else start
    if end < len(flat):
        space = flat.rfind(" ", start, end)
        end = space if space > start and (found is None or space > found) else end
    excerpt = flat[start:end].strip()
    return f"{ELLIPSIS if start > 0 else ''}{excerpt}{ELLIPSIS if end < len(flat) else ''}"


def _clean(value: str) -> str:
    # PostgreSQL refuses NUL characters and neither database takes lone surrogates.
    return value.replace("\x00", " ").encode("utf-8", "replace").decode("utf-8")


def _search_words(session: Session, dialect: str, text: str) -> list[str]:
    """The query's distinct words, cut as the backend cut the notes, at most MAX_TERMS."""
    if dialect == "postgresql":
        return list(session.scalars(PG_WORDS, {"text": text, "limit": MAX_TERMS}))
    distinct = {word.casefold(): word for word in reversed(words(text))}
    return list(reversed(distinct.values()))[:MAX_TERMS]


def _has_tag(dialect: str, tag: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return sql_cast(Note.tags, JSONB).contains([tag])
    members = func.json_each(Note.tags).table_valued("value")
    return exists(select(members.c.value).where(members.c.value == tag))


def _sqlite_match(query: Select[Note], terms: list[str]) -> Select[Note]:
    # Each word a quoted string (FTS5 syntax is inert inside quotes) with `*`: a prefix match.
    # Words side by side must all match.
    match = " ".join('"' + term.replace('"', '""') + '"*' for term in terms)
    return (
        query.join(FTS, FTS.c.rowid == Note.id)
        .where(FTS_TABLE.op("MATCH", return_type=Boolean)(match))
        .order_by(func.bm25(FTS_TABLE))  # lower is better
    )


def _postgres_match(query: Select[Note], terms: list[str]) -> Select[Note]:
    # Each word quoted (a quote inside doubled, a backslash escaped) and marked `:*`, a prefix
    # match; `&` between them: all must match.
    quoted = ["'" + term.replace("\\", "\\\\").replace("'", "''") + "':*" for term in terms]
    wanted = func.to_tsquery(literal_column("'simple'::regconfig"), " & ".join(quoted))
    return query.where(PG_DOCUMENT.op("@@", return_type=Boolean)(wanted)).order_by(
        func.ts_rank(PG_DOCUMENT, wanted).desc()
    )


def _first_match(flat: str, terms: list[str]) -> int | None:
    """Where the first word starting with one of `terms` begins, ignoring case."""
    if not terms:
        return None
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    found = re.search(rf"(?<!\w)(?:{alternatives})", flat, re.IGNORECASE)
    return found.start() if found else None
