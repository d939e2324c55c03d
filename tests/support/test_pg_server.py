"""The throwaway PostgreSQL server starts, serves, creates databases and survives a restart."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.support.pg_server import require_pg_bin, throwaway_postgres


def _scalar(engine: sa.Engine, query: str) -> object:
    with engine.connect() as conn:
        return conn.execute(sa.text(query)).scalar_one()


@pytest.mark.postgres
def test_throwaway_postgres_lifecycle() -> None:
    with throwaway_postgres(require_pg_bin()) as server:
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
