"""Engines and sessions. Nothing connects at import time."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, PendingRollbackError
from sqlalchemy.orm import Session, sessionmaker

from bot.process_logging import mask_sensitive

logger = logging.getLogger(__name__)
T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 10_000
READ_ONLY = "keepposted_read_only"  # an execution option: this engine's sessions only read


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def shown_url(url: str) -> str:
    """The database URL with its password and any secret-looking query parameter masked
    (`?password=`, `&sslpassword=`), for output and logs: the logs' own mask after
    SQLAlchemy's, which finds the password however it is written."""
    with contextlib.suppress(ArgumentError):  # not a URL SQLAlchemy reads: the mask still applies
        url = make_url(url).render_as_string(hide_password=True)
    return mask_sensitive(url)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine: SQLite in WAL mode with foreign keys and a busy timeout, or PostgreSQL."""
    if url.startswith("postgresql://"):  # psycopg 3 is the driver we ship
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # A failed statement's exception names its SQL, not its values: the values are customers'
    # words and numbers, and the exception ends up in a logged traceback.
    kwargs.setdefault("hide_parameters", True)
    if not is_sqlite(url):
        # Pre-ping: a connection the server dropped (a restart, a failover) is replaced at
        # checkout instead of failing the request or job that drew it.
        kwargs.setdefault("pool_pre_ping", True)
        connect_args = {"connect_timeout": 10, "application_name": "keepposted"}
        return create_engine(url, connect_args=connect_args, **kwargs)
    # SQLite has no server to share connections with: its pools ignore the sizes.
    kwargs.pop("pool_size", None)
    kwargs.pop("max_overflow", None)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # BEGIN IMMEDIATE takes the write lock up front, so a transaction that reads and then
        # writes waits on the busy timeout instead of failing with "database is locked".
        # A reader (see make_readers) takes no lock: in WAL mode it reads a snapshot beside
        # the writer, so chat pages polling every 2 s never queue behind each other.
        read_only = connection.get_execution_options().get(READ_ONLY)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def read_only(engine: Engine) -> Engine:
    """The engine for connections that only read: on SQLite they take no write lock. They must
    not write."""
    return engine.execution_options(**{READ_ONLY: True})


def make_readers(engine: Engine) -> sessionmaker[Session]:
    """Sessions for requests that only read (the chat page and its polls), on `read_only`."""
    return sessionmaker(read_only(engine), expire_on_commit=False)


def unreachable(exc: BaseException) -> bool:
    """The database went away (restart, failover, network), as opposed to a bad statement.
    PendingRollbackError is what a transaction whose connection dropped mid-way says next."""
    return isinstance(exc, OperationalError | PendingRollbackError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def retry_unreachable(
    work: Callable[[], T],
    *,
    deadline: float,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `work` (one whole transaction), again and again while the database is unreachable,
    until `deadline` (time.monotonic()). Used for bookkeeping that must follow something that
    already happened, such as recording that a message reached the provider."""
    pause = 0.25
    while True:
        try:
            return work()
        except (DBAPIError, PendingRollbackError) as exc:
            if not unreachable(exc) or time.monotonic() + pause > deadline:
                raise
            logger.warning("database unreachable while %s; retrying in %.2fs: %s", what, pause, exc)
        sleep(pause)
        pause = min(pause * 2, 5.0)
