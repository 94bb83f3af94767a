"""The PostgreSQL server the tests use, and databases of their own on it.

The server is TRADEDB_TEST_POSTGRESQL_URL (default postgresql://root@127.0.0.1:5432/test).
When it cannot be reached, every test that needs it FAILS saying so: none skips.

Databases are cheap to hand out and slow to drop: on PostgreSQL 15 a DROP DATABASE
forces a checkpoint (seconds on a busy server). So each run migrates ONE template
database (tdtest_template_<pid>, by connecting tradedb to it), copies it per test
(CREATE DATABASE tdtest_<pid>_<n> TEMPLATE ...), and after a test gives the copy to the
next test emptied (TRUNCATE ... RESTART IDENTITY), when its schema, migration records
and settings still match the template's to the letter; a test that changed any of
them (dropped a trigger, recorded a migration) leaves a copy that is dropped instead.
Every copy and the template are dropped at the end of the run; databases named
tdtest_* of runs whose process is gone are dropped at the start.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

try:
    import psycopg
    from psycopg import sql
except ModuleNotFoundError:  # pragma: no cover - the test extra installs it
    psycopg = None  # type: ignore[assignment]

SERVER_URL = os.environ.get("TRADEDB_TEST_POSTGRESQL_URL", "postgresql://root@127.0.0.1:5432/test")
PG_BIN = "/usr/lib/postgresql/15/bin"
PREFIX = "tdtest_"
_OURS = re.compile(r"^tdtest_(?:template_(?P<template_pid>\d+)|(?P<pid>\d+)_\d+)$")

# What a database is besides its rows: if this differs from the template's after a
# test, the copy is dropped rather than emptied and handed on.
FINGERPRINT = """
SELECT concat_ws(E'\\n',
  (SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace),
  (SELECT string_agg(relname || ':' || relkind::text, ',' ORDER BY relname) FROM pg_class
     WHERE relnamespace = 'public'::regnamespace),
  (SELECT string_agg(attrelid::regclass::text || '.' || attname || ':' || format_type(atttypid, atttypmod)
                     || ':' || attnotnull::text || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), ''),
                     ',' ORDER BY attrelid::regclass::text, attnum)
     FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE attrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'v'))
       AND attnum > 0 AND NOT attisdropped),
  (SELECT string_agg(conname || ':' || convalidated::text || ':' || pg_get_constraintdef(oid), ',' ORDER BY conname)
     FROM pg_constraint WHERE connamespace = 'public'::regnamespace),
  (SELECT string_agg(tgname || ':' || tgenabled::text || ':' || pg_get_triggerdef(oid), ',' ORDER BY tgname)
     FROM pg_trigger WHERE NOT tgisinternal),
  (SELECT string_agg(proname || ':' || md5(prosrc), ',' ORDER BY proname) FROM pg_proc
     WHERE pronamespace = 'public'::regnamespace),
  (SELECT string_agg(indexname || ':' || indexdef, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public'),
  (SELECT string_agg(viewname || ':' || md5(definition), ',' ORDER BY viewname) FROM pg_views WHERE schemaname = 'public'),
  (SELECT string_agg(array_to_string(setconfig, ','), ';') FROM pg_db_role_setting
     WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())),
  (SELECT string_agg(migration_id || ':' || migration_hash, ',' ORDER BY migration_id) FROM _yoyo_migration),
  (SELECT count(*)::text FROM _yoyo_log)
)
"""
YOYO_TABLES = ("_yoyo_migration", "_yoyo_log", "_yoyo_version", "yoyo_lock")


def url_of(name: str, base: str = SERVER_URL) -> str:
    """The URL of database `name` on the test server (the server URL's user, password and parameters)."""
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


def shown(url: str) -> str:
    """`url` without its password, for failure messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


def unreachable_message(url: str, error: BaseException) -> str:
    reason = " ".join(str(error).split()) or type(error).__name__
    return (
        f"PostgreSQL is unreachable at {shown(url)} ({reason}). The PostgreSQL runs of the tests need a server: "
        "set TRADEDB_TEST_POSTGRESQL_URL to one, or start the local one with "
        "pg_ctlcluster --skip-systemctl-redirect 15 main start"
    )


def require_psycopg() -> None:
    if psycopg is None:
        pytest.fail("psycopg 3 is missing: .venv/bin/pip install -e '.[test,postgresql]'", pytrace=False)


def connect(url: str = SERVER_URL, **options: Any) -> "psycopg.Connection[Any]":
    """An autocommit connection, or a failed test saying the server is unreachable (never a skip)."""
    require_psycopg()
    options.setdefault("autocommit", True)
    try:
        return psycopg.connect(url, connect_timeout=5, **options)
    except psycopg.OperationalError as error:
        pytest.fail(unreachable_message(url, error), pytrace=False)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def server_is_local(url: str = SERVER_URL) -> bool:
    """Whether the server runs on this host (so a pid in a database's name is a process here)."""
    hosts = psycopg.conninfo.conninfo_to_dict(url).get("host") or ""
    return all(h in ("", "localhost", "127.0.0.1", "::1") or h.startswith("/") for h in str(hosts).split(","))


def migrate_with_tradedb(url: str) -> None:
    """Connect tradedb to `url` once (which migrates it) and disconnect, from a thread of its own."""
    import tradedb

    failure: list[BaseException] = []

    def run() -> None:
        async def go() -> None:
            async with tradedb.connect(url, pool_size=1):
                pass

        try:
            asyncio.run(go())
        except BaseException as error:  # handed to the caller
            failure.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


class Databases:
    """This run's template and its copies on the test server (see the module's docstring)."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.template = f"{PREFIX}template_{self.pid}"
        self._numbers = itertools.count(1)
        self._idle: list[str] = []
        self._made: set[str] = set()
        self._lock = threading.Lock()
        self._drops: list[threading.Thread] = []
        self._failure: str | None = None
        self._started = False
        self.fingerprint = ""
        self.tables: list[str] = []

    # The run

    def start(self) -> None:
        if self._failure:
            pytest.fail(self._failure, pytrace=False)
        if self._started:
            return
        require_psycopg()
        try:
            admin = psycopg.connect(SERVER_URL, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as error:
            self._failure = unreachable_message(SERVER_URL, error)
            pytest.fail(self._failure, pytrace=False)
        with admin:
            self._remove_leftovers(admin)
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(self.template)))
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.template)))
        self._started = True
        migrate_with_tradedb(url_of(self.template))
        with connect(url_of(self.template)) as connection:
            self.fingerprint = connection.execute(FINGERPRINT).fetchone()[0]
            self.tables = [
                name for (name,) in connection.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
                ) if name not in YOYO_TABLES
            ]

    def _remove_leftovers(self, admin: "psycopg.Connection[Any]") -> None:
        """Drop tdtest_* databases of runs whose process is gone (only when the server is on this host)."""
        if not server_is_local():
            return
        for (name,) in admin.execute("SELECT datname FROM pg_database WHERE datname LIKE 'tdtest\\_%'").fetchall():
            match = _OURS.match(name)
            if not match:
                continue
            pid = int(match["template_pid"] or match["pid"])
            if pid == self.pid or pid_alive(pid):
                continue
            try:  # never FORCE: a database someone is connected to is not a leftover
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            except psycopg.Error:
                pass

    def finish(self) -> None:
        for thread in self._drops:
            thread.join()
        if not self._started:
            return
        names = [*self._made, self.template]
        threads = [threading.Thread(target=self._drop, args=(name,)) for name in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # One test's database

    def acquire(self) -> str:
        """The name of a database with the template's schema and no rows, for one test."""
        self.start()
        with self._lock:
            if self._idle:
                return self._idle.pop()
            name = f"{PREFIX}{self.pid}_{next(self._numbers)}"
            self._made.add(name)
        with connect() as admin:
            admin.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(self.template))
            )
        return name

    def empty(self) -> str:
        """The name of a new database without any schema (tradedb has not migrated it); dropped on release."""
        self.start()
        with self._lock:
            name = f"{PREFIX}{self.pid}_{next(self._numbers)}"
            self._made.add(name)
        with connect() as admin:
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        return name

    def release(self, name: str) -> None:
        """Hand `name` on emptied when its schema is still the template's, else drop it (in the background)."""
        if self._reset(name):
            with self._lock:
                self._idle.append(name)
            return
        with self._lock:
            self._made.discard(name)
        thread = threading.Thread(target=self._drop, args=(name,))
        thread.start()
        self._drops.append(thread)

    def _reset(self, name: str) -> bool:
        try:
            with psycopg.connect(url_of(name), autocommit=True, connect_timeout=5) as connection:
                # The test's own connections (a repository, a subprocess) may take a moment to go.
                deadline = time.monotonic() + 3
                while connection.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).fetchone()[0]:
                    if time.monotonic() > deadline:
                        return False
                    time.sleep(0.02)
                if connection.execute(FINGERPRINT).fetchone()[0] != self.fingerprint:
                    return False
                connection.execute("SET lock_timeout = '2s'")
                # DELETE of a test's few rows is 25 times quicker than TRUNCATE (new files, fsync);
                # the children first, then the bots, all in one transaction.
                try:
                    with connection.transaction():
                        for table in ("performance_metrics", "trades", *self.tables):
                            connection.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table)))
                except psycopg.Error:
                    connection.execute(
                        sql.SQL("TRUNCATE {} RESTART IDENTITY").format(sql.SQL(", ").join(map(sql.Identifier, self.tables)))
                    )
                return True
        except psycopg.Error:
            return False

    def _drop(self, name: str) -> None:
        try:
            with psycopg.connect(SERVER_URL, autocommit=True, connect_timeout=5) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        except psycopg.Error:
            pass  # the next run's start removes it

    def new_database(self) -> Iterator[str]:
        """A database for a caller that needs one outside the fixtures (module-scoped worlds)."""
        name = self.acquire()
        try:
            yield name
        finally:
            self.release(name)
