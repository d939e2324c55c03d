"""Alembic migrations build the schema the models describe, from an empty database."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from sqlalchemy import inspect, text

from bot.store.db import make_engine
from bot.store.migrate import alembic_config, migration_context, upgrade
from bot.store.models import Base


def test_upgrade_from_empty_matches_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(migration_context(connection), Base.metadata)
            assert diff == []
            tables = set(inspect(connection).get_table_names())
            assert {
                "cases",
                "contacts",
                "messages",
                "notes",
                "note_revisions",
                "log_entries",
                "log_chains",
                "audit_events",
                "outbox",
                "alembic_version",
            } <= tables
    finally:
        engine.dispose()


def test_upgrade_twice_is_a_no_op_and_downgrade_works(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'again.db'}"
    upgrade(url)
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pragmas.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
    finally:
        engine.dispose()


@pytest.mark.slow
def test_importing_the_app_touches_no_database(tmp_path: Path) -> None:
    """Nothing starts at import time: no schema, no scheduler, no connection."""
    import subprocess
    import sys

    code = (
        "import bot.app, bot.worker, bot.cli, channels.registry, flows.confirmation; "
        "import threading; assert threading.active_count() == 1"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        check=True,
        env={
            "DATABASE_URL": f"sqlite:///{tmp_path / 'untouched.db'}",
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        },
    )
    assert not (tmp_path / "untouched.db").exists()
