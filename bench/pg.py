"""PostgreSQL scratch databases for the benchmark: created on a server, each dropped at the end.

The benchmark never writes to the database named in the server URL: it only
connects there to CREATE and DROP databases of its own, named tdbench_<pid>_...
The floor's databases get the PostgreSQL migrations (migrations/postgresql,
applied with yoyo, as tradedb's schema tests do); tradedb applies its own on
connect; SQLAlchemy creates its own tables.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations" / "postgresql"
DEFAULT_URL = "postgresql://root@127.0.0.1:5432/test"
PREFIX = "tdbench_"


def server_url() -> str:
    return os.environ.get("TRADEDB_BENCH_POSTGRESQL_URL") or DEFAULT_URL


def without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


def database_url(server: str, name: str) -> str:
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def is_url(location: object) -> bool:
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def _connect(url: str):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=10)


class Unreachable(RuntimeError):
    pass


class Scratch:
    """Databases of this run on the server: new() creates one, drop()/drop_all() remove them."""

    def __init__(self, server: str) -> None:
        self.server = server
        self.names: list[str] = []
        self.count = 0

    def check(self) -> str:
        """The server's version; Unreachable, saying what to do, when it cannot be reached."""
        try:
            import psycopg
        except ModuleNotFoundError as error:
            raise Unreachable("psycopg 3 is missing (yoyo needs it): pip install -e '.[bench,postgresql]'") from error
        try:
            with _connect(self.server) as conn:
                row = conn.execute("SHOW server_version").fetchone()
        except psycopg.OperationalError as error:
            reason = " ".join(str(error).split()) or type(error).__name__
            raise Unreachable(
                f"PostgreSQL is unreachable at {without_password(self.server)} ({reason}): start it, or give "
                "--postgresql-url / TRADEDB_BENCH_POSTGRESQL_URL (a server where this user may CREATE DATABASE)"
            ) from error
        return str(row[0]) if row else "unknown"

    def new(self, label: str) -> str:
        """A new, empty database; its URL."""
        self.count += 1
        name = f"{PREFIX}{os.getpid()}_{self.count}_{re.sub(r'[^a-z0-9]+', '_', label.lower())}"[:63]
        from psycopg import sql

        with _connect(self.server) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.names.append(name)
        return database_url(self.server, name)

    def drop(self, url: str) -> None:
        name = database_name(url)
        from psycopg import sql

        with _connect(self.server) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if name in self.names:
            self.names.remove(name)

    def drop_all(self, patience: float = 30.0) -> list[str]:
        """Drop every database this run made and still holds; the names that could not be dropped.

        A server restarting (what stopped the run, perhaps) is given `patience` seconds to come back.
        """
        deadline = time.monotonic() + patience
        while True:
            failed = []
            for name in list(self.names):
                try:
                    self.drop(database_url(self.server, name))
                except Exception:  # keep dropping the others; the caller reports these
                    failed.append(name)
            if not failed or time.monotonic() > deadline:
                return failed
            time.sleep(1.0)


def migrate(url: str) -> None:
    """Apply migrations/postgresql to the database at url, with yoyo (as `yoyo apply` would)."""
    from yoyo import get_backend, read_migrations

    backend = get_backend("postgresql+psycopg://" + url.split("://", 1)[1])
    with backend, backend.lock():
        backend.apply_migrations(backend.to_apply(read_migrations(str(MIGRATIONS))))


def vacuum_analyze(url: str) -> None:
    """Statistics and the visibility map for a freshly loaded database, as autovacuum would give it in minutes."""
    with _connect(url) as conn:
        conn.execute("VACUUM ANALYZE")
