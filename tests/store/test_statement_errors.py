"""A database error names its SQL but never its values: those are customers' words and numbers,
and the error ends up in a logged traceback."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from bot.store.db import make_engine


def test_a_failed_statement_does_not_show_its_values(database_url: str) -> None:
    engine = make_engine(database_url)
    words = "my number is +12125550101 and it is still broken"
    with pytest.raises(IntegrityError) as failed, engine.begin() as connection:
        connection.execute(text("CREATE TABLE said (body TEXT NOT NULL UNIQUE)"))
        connection.execute(text("INSERT INTO said (body) VALUES (:body)"), {"body": words})
        connection.execute(text("INSERT INTO said (body) VALUES (:body)"), {"body": words})
    assert "INSERT INTO said" in str(failed.value)
    assert words not in str(failed.value)
    assert "+12125550101" not in str(failed.value)
    engine.dispose()
