"""Full-text search over notes (bot/ops/notes_search.py): an FTS5 index on SQLite, a GIN index on
PostgreSQL. Both cover the note's text and its tags (as stored: a JSON list in text form).

Language: contact centres write notes in any language, often several in one team, so neither
backend stems words or drops stop words, which would need the language of each note. PostgreSQL
uses the 'simple' configuration (lower-case each word, nothing else) and SQLite the unicode61
tokenizer (case folded; a word is a run of letters, digits and combining marks in any script,
marks included so that Devanagari or Arabic words stay whole). The search matches each word as a
prefix ("refund" finds "refunded", "rembours" finds "remboursement"), which stands in for
stemming without knowing the language. Accents are kept on both (SQLite: remove_diacritics 0) so
both backends match alike: folding them on PostgreSQL needs the unaccent extension, which is not
IMMUTABLE and not always installable. Limits: scripts written without spaces (Chinese, Japanese,
Thai) are indexed by whole runs of characters, so only a run's beginning is found; PostgreSQL
folds the case of non-ASCII letters only when the database's LC_CTYPE is a UTF-8 locale.

SQLite: `notes_fts` is an external-content FTS5 table (it stores only the index; the text stays
in `notes`) kept in step by three triggers. A later migration that rebuilds `notes` through
batch_alter_table drops those triggers with the old table: it must create them again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SQLITE_UPGRADE = (
    """CREATE VIRTUAL TABLE notes_fts USING fts5(
        text, tags, content='notes', content_rowid='id',
        tokenize="unicode61 remove_diacritics 0 categories 'L* N* Co M*'"
    )""",
    """CREATE TRIGGER notes_fts_insert AFTER INSERT ON notes BEGIN
        INSERT INTO notes_fts(rowid, text, tags) VALUES (new.id, new.text, new.tags);
    END""",
    # The 'delete' command must be given the values that were indexed, hence old.*.
    """CREATE TRIGGER notes_fts_delete AFTER DELETE ON notes BEGIN
        INSERT INTO notes_fts(notes_fts, rowid, text, tags)
        VALUES ('delete', old.id, old.text, old.tags);
    END""",
    """CREATE TRIGGER notes_fts_update AFTER UPDATE OF id, text, tags ON notes BEGIN
        INSERT INTO notes_fts(notes_fts, rowid, text, tags)
        VALUES ('delete', old.id, old.text, old.tags);
        INSERT INTO notes_fts(rowid, text, tags) VALUES (new.id, new.text, new.tags);
    END""",
    # Index the notes written before this migration.
    "INSERT INTO notes_fts(notes_fts) VALUES ('rebuild')",
)
SQLITE_DOWNGRADE = (
    "DROP TRIGGER IF EXISTS notes_fts_update",
    "DROP TRIGGER IF EXISTS notes_fts_delete",
    "DROP TRIGGER IF EXISTS notes_fts_insert",
    "DROP TABLE IF EXISTS notes_fts",
)
# bot/ops/notes_search.py repeats this expression word for word: PostgreSQL uses the index only
# for a query on the very same expression.
POSTGRES_UPGRADE = (
    "CREATE INDEX ix_notes_fts ON notes"
    " USING gin (to_tsvector('simple'::regconfig, text || ' ' || tags::text))",
)
POSTGRES_DOWNGRADE = ("DROP INDEX IF EXISTS ix_notes_fts",)


def _run(sqlite: tuple[str, ...], postgres: tuple[str, ...]) -> None:
    dialect = op.get_context().dialect.name
    statements = {"sqlite": sqlite, "postgresql": postgres}.get(dialect)
    if statements is None:
        raise NotImplementedError(f"notes search supports SQLite and PostgreSQL, not {dialect}")
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    _run(SQLITE_UPGRADE, POSTGRES_UPGRADE)


def downgrade() -> None:
    _run(SQLITE_DOWNGRADE, POSTGRES_DOWNGRADE)
