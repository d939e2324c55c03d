"""Is this install ready to serve? The database is reachable and migrated to the newest schema,
and every template the config uses renders. `/healthz` answers with it, and `serve`, `worker`
and `dev` refuse to start without it, in one line that says what to run."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import make_url
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot.config import Config
from bot.errors import KeeppostedError
from bot.ops.config_check import render_problems
from bot.render import Templates
from bot.resources import migrations_root
from bot.store.db import shown_url

logger = logging.getLogger(__name__)


class NotReady(KeeppostedError):
    """The database or the templates are not ready; the message says what to do."""

    http_status = 503
    code = "not_ready"


@dataclass(frozen=True)
class Readiness:
    database: str  # "ok", or what is wrong with it
    templates: list[str]  # templates that fail to render with sample data

    @property
    def ok(self) -> bool:
        return self.database == "ok" and not self.templates


def missing_sqlite_file(database_url: str) -> Path | None:
    """The SQLite file the URL names, when it does not exist (connecting would create it)."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    path = Path(url.database)
    return None if path.exists() else path


@functools.cache
def head_revision() -> str | None:
    """The newest migration shipped in the package; read once per process, it cannot change."""
    return ScriptDirectory(str(migrations_root())).get_current_head()


def schema_problem(engine: Engine, head: str | None) -> str | None:
    """None when the database is reachable and at the newest migration; else what to run."""
    url = engine.url.render_as_string(hide_password=False)
    where = shown_url(url)
    if missing_sqlite_file(url):
        return (
            f"the database {where} does not exist: run `keepposted db upgrade`"
            " (or set DATABASE_URL to yours)"
        )
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        return f"cannot reach the database {where} ({exc.__class__.__name__})"
    if current != head:
        found = f"at migration {current}" if current else "not set up"
        return f"the database {where} is {found}, not {head}: run `keepposted db upgrade`"
    return None


def require_schema(engine: Engine) -> None:
    """Raise NotReady unless the database is migrated to head (without creating an SQLite file)."""
    problem = schema_problem(engine, head_revision())
    if problem:
        raise NotReady(problem)


def require_templates(config: Config, templates: Templates) -> None:
    problems = render_problems(config, templates)
    if not problems:
        return
    shown = "; ".join(problems[:3])
    if len(problems) > 3:
        shown += f" (and {len(problems) - 3} more)"
    raise NotReady(f"templates do not render: {shown}; see `keepposted config check`")
