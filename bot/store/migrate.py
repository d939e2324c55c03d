"""Schema migrations through Alembic: run by `keepposted db upgrade` and the release process,
never at import time or by a web worker (two gunicorn workers would race)."""

from __future__ import annotations

import re

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.runtime.environment import NameFilterParentNames, NameFilterType
from sqlalchemy.engine import Connection

from bot.resources import migrations_root

# Made by raw SQL in migration 0007, which the models cannot describe: the notes search index
# (SQLite's FTS5 table and the shadow tables FTS5 keeps, PostgreSQL's expression index).
SEARCH_INDEX = re.compile(r"notes_fts(_data|_idx|_docsize|_config|_content)?|ix_notes_fts")


def alembic_config(database_url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(migrations_root()))
    # ConfigParser interpolation would choke on '%' in URL-encoded passwords.
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database schema up to `revision`."""
    command.upgrade(alembic_config(database_url), revision)


def include_name(
    name: str | None, type_: NameFilterType, parent_names: NameFilterParentNames
) -> bool:
    """Alembic's name filter (env.py): autogenerate leaves the notes search index alone."""
    return not (type_ in ("table", "index") and name and SEARCH_INDEX.fullmatch(name))


def migration_context(connection: Connection) -> MigrationContext:
    """A context for comparing a database with the models (the migration tests), with the
    same name filter as env.py."""
    return MigrationContext.configure(connection, opts={"include_name": include_name})
