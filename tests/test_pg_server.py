"""The throwaway PostgreSQL server starts, serves, creates databases and survives a restart."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

from tests.pg_server import find_pg_bin, throwaway_postgres


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _scalar(engine: sa.Engine, query: str) -> object:
    with engine.connect() as conn:
        return conn.execute(sa.text(query)).scalar_one()


@pytest.mark.postgres
def test_throwaway_postgres_lifecycle() -> None:
    if find_pg_bin() is None:
        # On CI the server is installed on purpose, so a missing one is a broken setup.
        message = "PostgreSQL server binaries not found (apt-get install postgresql)"
        if _ci():
            pytest.fail(message)
        pytest.skip(message)

    with throwaway_postgres() as server:
        assert server.url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
        assert f":{server.port}/" in server.url
        assert server.data_dir.is_dir()

        # pool_pre_ping lets a pooled engine recover from the restart below.
        engine = sa.create_engine(server.url, pool_pre_ping=True)
        other = sa.create_engine(server.create_database("keepposted_test"))
        try:
            assert str(_scalar(engine, "select version()")).startswith("PostgreSQL")
            assert _scalar(other, "select current_database()") == "keepposted_test"

            server.restart()
            assert _scalar(engine, "select 1") == 1
            other.dispose()  # its pooled connection died with the old server process
            assert _scalar(other, "select current_database()") == "keepposted_test"
        finally:
            engine.dispose()
            other.dispose()

    assert not server.data_dir.exists()
