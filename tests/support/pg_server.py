"""Throwaway PostgreSQL servers for tests: initdb into a temp dir, run, tear down."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from tests.support.ci import missing

_BINARIES = ("initdb", "pg_ctl", "postgres")
_AS_ROOT = os.geteuid() == 0


def _has_binaries(path: Path) -> bool:
    return all((path / name).is_file() for name in _BINARIES)


def _version_key(path: Path) -> tuple[int, ...]:
    # Directory names are versions like "15" or "9.6"; sort numerically, not lexically.
    try:
        return tuple(int(part) for part in path.parent.name.split("."))
    except ValueError:
        return (-1,)


def find_pg_bin() -> Path | None:
    """Directory holding initdb/pg_ctl/postgres; KEEPPOSTED_PG_BIN overrides the search."""
    override = os.environ.get("KEEPPOSTED_PG_BIN")
    if override:
        # A wrong override is a configuration mistake; silently skipping would hide it.
        if not _has_binaries(Path(override)):
            raise RuntimeError(f"KEEPPOSTED_PG_BIN={override} lacks one of {_BINARIES}")
        return Path(override)
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    return next((path for path in candidates if _has_binaries(path)), None)


def require_pg_bin() -> Path:
    """The server binaries, or the test stops (fails in CI, skips elsewhere)."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        missing("PostgreSQL server binaries not found (apt-get install postgresql)")
    return bin_dir


def free_port() -> int:
    # Racy by nature (another process may grab it), but fine for a test machine.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One initialised PostgreSQL cluster in a temp dir, listening on 127.0.0.1:port."""

    def __init__(self, bin_dir: Path, base_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.base_dir = base_dir
        self.data_dir = base_dir / "data"
        self.socket_dir = base_dir / "sock"
        self.log_file = base_dir / "server.log"
        self.port = free_port()
        self.url = self.url_for("postgres")

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL (psycopg 3 driver) for a database on this server."""
        url = URL.create("postgresql+psycopg", "postgres", None, "127.0.0.1", self.port, database)
        return url.render_as_string(hide_password=False)

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        # PostgreSQL refuses to run as root, so drop to the postgres user when we are root.
        prefix = ["runuser", "-u", "postgres", "--"] if _AS_ROOT else []
        cmd = [*prefix, str(self.bin_dir / args[0]), *args[1:]]
        # cwd: the postgres user may not be able to read the caller's cwd (e.g. /root).
        return subprocess.run(
            cmd, cwd=self.base_dir, capture_output=True, text=True, timeout=timeout, check=False
        )

    def init(self) -> None:
        """Run initdb: trust auth for the postgres superuser, C locale, no fsync."""
        self.socket_dir.mkdir()
        if _AS_ROOT:
            shutil.chown(self.socket_dir, user="postgres")
        args = ("-D", str(self.data_dir), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        proc = self._run("initdb", *args, "--no-locale", "--no-sync")
        if proc.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{proc.stdout}\n{proc.stderr}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=200"
        )
        args = ("-D", str(self.data_dir), "-w", "-t", "60", "-l", str(self.log_file))
        proc = self._run("pg_ctl", *args, "-o", options, "start", timeout=90)
        if proc.returncode != 0:
            raise RuntimeError(
                f"PostgreSQL failed to start on port {self.port}:\n{proc.stdout}{proc.stderr}"
                f"\n--- server log tail ---\n{self.log_tail()}"
            )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server if it runs; fall back to immediate shutdown if fast one fails."""
        if not (self.data_dir / "postmaster.pid").exists():
            return
        proc = self._run("pg_ctl", "-D", str(self.data_dir), "-w", "-m", mode, "stop", timeout=90)
        if proc.returncode == 0:
            return
        if mode != "immediate":
            self.stop("immediate")
        else:
            # Last resort so no server outlives its (about to be deleted) data dir.
            with suppress(OSError, ValueError, IndexError):
                pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
                os.kill(pid, signal.SIGKILL)

    def restart(self) -> None:
        """Stop and start again on the same port; existing connections are dropped."""
        self.stop()
        self.start()

    def create_database(self, name: str) -> str:
        """Create a database and return its SQLAlchemy URL."""
        # CREATE DATABASE cannot run inside a transaction block, hence autocommit.
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)

    def log_tail(self, lines: int = 40) -> str:
        """Last lines of the server log, for error messages."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError as exc:
            return f"(no server log: {exc})"
        return "\n".join(text.splitlines()[-lines:])


@contextmanager
def throwaway_postgres(bin_dir: Path | None = None) -> Iterator[PostgresServer]:
    """Yield a running PostgresServer; always stop it and delete its files afterwards."""
    bin_dir = bin_dir or find_pg_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries not found (set KEEPPOSTED_PG_BIN)")
    base_dir = Path(tempfile.mkdtemp(prefix="keepposted-pg-"))
    try:
        if _AS_ROOT:
            # The whole tree must be reachable and writable by the postgres user.
            shutil.chown(base_dir, user="postgres")
        server = PostgresServer(bin_dir, base_dir)
        try:
            server.init()
            server.start()
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(base_dir, ignore_errors=True)
