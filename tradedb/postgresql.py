"""Connection handling for PostgreSQL: everything here is specific to PostgreSQL and psycopg 3.

A `Database` holds a small pool of synchronous psycopg connections and as
many worker threads. The repository hands each unit of work (a plain
function of a `Session`) to a worker whole, with a connection of its own,
so a transaction costs one thread hop, and transactions of different
coroutines run at once. A coroutine's `transaction()` keeps one connection
until it ends.

Units of work see the same stored forms as on SQLite (tradedb/database.py):
the connections load NUMERIC, UUID and JSON as their text, and TIMESTAMPTZ
as tradedb's UTC time text; parameters go as text of unknown type, which
PostgreSQL reads as the column's type.

Write units run at READ COMMITTED and lock each row they will write back
before reading it (the `*_for_update` queries: a trade before its bot, bots
in id order), so a concurrent writer of the same trade or bot waits, then
reads what the first wrote: no lost update, and no failure to retry. A
deadlock or serialization failure (possible only when a caller's
transaction takes locks in another order) is retried here a bounded number
of times, each a new attempt of the whole unit; so is a unique violation
met once (two processes creating the same id: the next attempt sees the
row, and the unit answers as for a retry). Reads outside a transaction run
in one REPEATABLE READ READ ONLY snapshot, as SQLite's reader sees one commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import re
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import InvalidOperation
from itertools import islice
from pathlib import Path
from time import perf_counter
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg.adapt import Loader
from psycopg.pq import TransactionStatus
from psycopg.types.string import TextLoader

from .bulk import (
    DEFERRED_INDEX_ROWS, LOADED_TABLES, ROWS_PER_STATEMENT, ReadAhead, multi_row_sql, recorded, statement_sizes,
)
from .database import Check, Deferred, SchemaState
from .errors import (
    ConflictError,
    DatabaseBusy,
    DatabaseDamaged,
    DiskFull,
    InvalidTransition,
    MigrationError,
    ServerUnreachable,
    StoredMeanwhile,
    TradeDBError,
    ValidationError,
)
from .paths import publish
from .queries import DIALECTS, Query
from .resources import resource_dir
from .values import time_to_text, utc_now

SQL_LOG = logging.getLogger("tradedb.sql")
LOG = logging.getLogger("tradedb")
QUERIES = DIALECTS["postgresql"]
DEFERRABLE_INDEXES = QUERIES["deferrable_indexes"]
# How long a bulk load waits for its table's lock to build the indexes at its
# end (Session.defer): a reader holding it keeps them row by row instead,
# and readers queue behind the wait no longer than this.
INDEX_LOCK_WAIT_MS = 100

# PostgreSQL takes this many parameters in one statement (see tradedb/bulk.py).
MAX_PARAMETERS = 65535
OLDEST_SERVER = 130000  # trim_scale, gen_random_uuid without an extension
_TRIGGER_MESSAGE = re.compile(r"^\w+\.(?P<column>\w+): (?P<reason>.+)$", re.S)
_KEY = re.compile(r"^Key \((?P<columns>[^)]*)\)=")
Result = TypeVar("Result")

# A unit that keeps meeting serialization failures or deadlocks is tried
# this many times, napping between tries (doubling, jittered), then fails.
MAX_ATTEMPTS = 10
FIRST_NAP, LONGEST_NAP = 0.002, 0.1
_RETRIED = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected)
# Every tradedb that migrates a database takes this session-level advisory
# lock first: the server releases it when the session ends, however the
# process holding it died, on whatever host it ran.
MIGRATION_LOCK = int.from_bytes(b"tradedbM", "big")
BEGIN_WRITE = "BEGIN ISOLATION LEVEL READ COMMITTED"
BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"


# URLs ---------------------------------------------------------------------


def redacted(url: str) -> str:
    """`url` without its password (in the user part or a password= parameter), to show in logs, errors and status."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, hosts = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}@{hosts}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "password"], safe=",:/")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def password_of(url: str) -> str | None:
    """The password written in `url`, if any (decoded)."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        user = parts.netloc.rpartition("@")[0]
        if ":" in user:
            return unquote(user.partition(":")[2])
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "password":
            return value
    return None


def database_name(url: str) -> str:
    """The database's name in `url` (libpq's default, the user's name, when absent)."""
    params = psycopg.conninfo.conninfo_to_dict(url)
    return str(params.get("dbname") or params.get("user") or os.environ.get("PGDATABASE") or "postgres")


def check_url(url: str) -> str:
    """`url` if libpq can read it, else ValidationError (without the password)."""
    scheme, _, rest = url.partition("://")
    if rest.split("/", 1)[0].count("@") > 1:
        # libpq splits at the first @, a URL parser at the last: the password would show as part of a host name.
        raise ValidationError(
            "database", f"{scheme}://... has more than one @ before its host: percent-encode an @ in the user or password as %40"
        )
    try:
        urlsplit(url)
        psycopg.conninfo.conninfo_to_dict(url)
    except (ValueError, psycopg.Error):
        raise ValidationError(
            "database", f"{scheme}://... is not a PostgreSQL URL libpq can read; see postgresql://user@host:5432/dbname"
        ) from None
    return url


def _last_line(text: str, url: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return _scrub(lines[-1] if lines else text, url)


def _scrub(text: str, url: str) -> str:
    """`text` with the password of `url` removed, wherever a driver may have repeated it."""
    secret = password_of(url)
    if secret:
        text = text.replace(secret, "***")
    return text.replace(url, redacted(url))


# Values -------------------------------------------------------------------


class TimeTextLoader(Loader):
    """TIMESTAMPTZ as tradedb's stored time text: 'YYYY-MM-DD HH:MM:SS.ffffffZ' in UTC."""

    def load(self, data: Any) -> str:
        """The text PostgreSQL sent, in tradedb's form."""
        text = bytes(data).decode()
        if text.endswith("+00") and len(text) >= 22:  # the session's zone is UTC: the usual case
            body = text[:-3]
            return (body + ".000000" if len(body) == 19 else body.ljust(26, "0")) + "Z"
        try:
            return time_to_text(datetime.fromisoformat(text))
        except ValueError:  # 'infinity' or a year past 9999, typed into psql: the row reader reports it as damaged
            return text


def _configure(connection: psycopg.Connection[Any]) -> None:
    for name in ("numeric", "uuid", "json", "jsonb"):
        connection.adapters.register_loader(name, TextLoader)
    connection.adapters.register_loader("timestamptz", TimeTextLoader)


# Errors -------------------------------------------------------------------


def is_unreachable(error: BaseException) -> bool:
    """Whether `error` says the server or the connection to it is gone (not a refusal of what was sent)."""
    if not isinstance(error, psycopg.OperationalError):
        return False
    state = getattr(error, "sqlstate", None)
    return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")


def translate(error: psycopg.Error, url: str, busy_timeout: float) -> TradeDBError:
    """The tradedb error for an error psycopg raised on the database at `url` (never showing its password)."""
    diag = error.diag
    state = error.sqlstate or ""
    primary = _scrub(diag.message_primary or str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__, url)
    where = redacted(url)
    if state == "" and isinstance(error, psycopg.OperationalError):
        # Failures to connect carry no SQLSTATE: tell the server's refusals from its absence by their words.
        text = str(error)
        missing = re.search(r'database "([^"]*)" does not exist', text)
        if missing:
            return TradeDBError(
                f"database {missing[1]!r} does not exist on the server of {where}: create it (createdb) or correct the URL"
            )
        if "password authentication failed" in text or "no password supplied" in text or "no pg_hba.conf entry" in text:
            return TradeDBError(f"the server of {where} refused the login ({_last_line(text, url)}); check the user and password")
        if "for connection option" in text or "invalid connection option" in text or re.search(r"invalid \w+ value", text):
            return ValidationError("database", f"{where}: {_last_line(text, url)}")
    if state == "" and isinstance(error, psycopg.ProgrammingError):  # a connection parameter of the wrong form
        return ValidationError("database", f"{where}: {primary}")
    if is_unreachable(error):
        return ServerUnreachable(
            f"the PostgreSQL server of {where} is unreachable ({primary}); nothing more was written: "
            "retry once it is back (tradedb reconnects by itself)"
        )
    if state in ("28P01", "28000"):
        return TradeDBError(f"the server of {where} refused the login ({primary}); check the user and password")
    if state == "3D000":
        return TradeDBError(f"{primary} on the server of {where}: create it (createdb) or correct the URL")
    if state in ("40001", "40P01"):
        return DatabaseBusy(
            f"other transactions kept changing the same rows ({primary}); nothing of this transaction was written: "
            "run it again"
        )
    if state in ("55P03", "57014"):
        return DatabaseBusy(
            f"the rows stayed locked by another transaction for busy_timeout={busy_timeout}s; nothing was written: "
            "retry, or connect with a larger busy_timeout"
        )
    if state.startswith("53"):
        if state == "53100":
            return DiskFull(f"the disk of the server of {where} is full; nothing was written: free some space there, then retry")
        return TradeDBError(f"the server of {where} is out of resources ({primary}); retry later")
    if state == "23505":
        key = _KEY.match(diag.message_detail or "")
        columns = key["columns"] if key else (diag.constraint_name or "a key")
        return ConflictError(f"{diag.table_name}.{columns} already exists" if diag.table_name else f"{columns} already exists")
    if state in ("23514", "P0001"):
        if "cannot change status" in primary:
            return InvalidTransition(primary)
        raised = _TRIGGER_MESSAGE.match(primary)
        if raised:  # a trigger's RAISE: "table.column: what is wrong"
            return ValidationError(raised["column"], raised["reason"])
        constraint = diag.constraint_name or "database"
        return ValidationError(
            constraint, "the database refused the value (see this constraint in sql/postgresql/schema.sql)"
        )
    if state == "23503":
        key = _KEY.match(diag.message_detail or "")
        return ValidationError(key["columns"] if key else diag.constraint_name or "database", primary)
    if state == "23502":
        return ValidationError(diag.column_name or "database", "is required")
    if state.startswith(("22", "23")):
        return ValidationError(diag.column_name or "database", primary)
    return TradeDBError(f"PostgreSQL error {state or type(error).__name__}: {primary}")


# Sessions -----------------------------------------------------------------


class Session:
    """The statements a unit of work may run; lives in a worker thread with its connection."""

    dialect = "postgresql"
    reruns_units = True  # after a serialization failure, a deadlock, a row stored meanwhile or a lost connection

    def __init__(self, connection: psycopg.Connection[Any], url: str) -> None:
        self.connection = connection
        self.url = url

    def deferrable_indexes(self, table: str, rows: int) -> list[tuple[str, str]]:
        """The (name, sql) of `table`'s indexes that a load of `rows` new rows builds faster after its rows than
        row by row: only into an empty table, since dropping an index locks the table against readers until the
        commit (they then wait for the load rather than read no rows); none under DEFERRED_INDEX_ROWS."""
        if table not in LOADED_TABLES:
            raise ValueError(f"no bulk load into {table!r}")
        if rows < DEFERRED_INDEX_ROWS:
            return []
        (held,) = self.connection.execute(f"SELECT EXISTS (SELECT FROM {table})").fetchone()  # type: ignore[misc]
        if held:
            return []
        return [(name, sql) for name, sql in self.many(DEFERRABLE_INDEXES, {"table_name": table})]

    def defer(self, table: str, rows: int) -> Deferred:
        """Drop `table`'s deferrable_indexes for a load of `rows` new rows until catch_up, later in this transaction;
        those dropped: none when another transaction is using the table (its lock is waited for INDEX_LOCK_WAIT_MS at
        most) or this user may not drop them. Its triggers stay: they work per statement, or cost little."""
        indexes = self.deferrable_indexes(table, rows)
        if not indexes:
            return Deferred([])
        cursor = self.connection.cursor()
        (waited,) = cursor.execute("SELECT current_setting('lock_timeout')").fetchone()  # type: ignore[misc]
        cursor.execute("SAVEPOINT tradedb_drop_indexes")
        try:
            cursor.execute(f"SET LOCAL lock_timeout = {INDEX_LOCK_WAIT_MS}")
            for name, _ in indexes:
                cursor.execute(f"DROP INDEX {name}")  # quoted and qualified by the server (deferrable_indexes)
        except (pg_errors.LockNotAvailable, pg_errors.DeadlockDetected, pg_errors.InsufficientPrivilege):
            cursor.execute("ROLLBACK TO tradedb_drop_indexes")
            cursor.execute("RELEASE tradedb_drop_indexes")
            return Deferred([])
        cursor.execute("SELECT set_config('lock_timeout', $1, true)", (waited,))  # as it was for the rest
        cursor.execute("RELEASE tradedb_drop_indexes")
        return Deferred(indexes)

    def catch_up(self, deferred: Deferred) -> None:
        """Build again, each from its own definition, the indexes defer dropped."""
        for _, sql in deferred.indexes:
            self.connection.execute(sql)

    @contextlib.contextmanager
    def bulk_load(self, table: str, rows: int) -> Iterator[None]:
        """Around an insert of `rows` new rows into `table`: its indexes may be built once, at the end.

        Inside one transaction, so other connections never see the table
        without them; an error inside puts them back, and takes back what was
        inserted, before it is raised.
        """
        if rows < DEFERRED_INDEX_ROWS:
            yield
            return
        cursor = self.connection.cursor()
        cursor.execute("SAVEPOINT tradedb_bulk_load")
        try:
            deferred = self.defer(table, rows)
            yield
            self.catch_up(deferred)
        except BaseException:
            if not self.connection.closed and self.connection.info.transaction_status in (
                TransactionStatus.INTRANS, TransactionStatus.INERROR
            ):
                cursor.execute("ROLLBACK TO tradedb_bulk_load")
                cursor.execute("RELEASE tradedb_bulk_load")
            raise
        cursor.execute("RELEASE tradedb_bulk_load")

    def one(self, query: Query, params: Mapping[str, Any]) -> Any:
        """Run a :one query: its row, or None."""
        return self._run(query, "one", params).fetchone()

    def many(self, query: Query, params: Mapping[str, Any]) -> list[Any]:
        """Run a :many query: all its rows."""
        return self._run(query, "many", params).fetchall()

    def each(self, query: Query, params: Mapping[str, Any]) -> Iterator[Any]:
        """Run a :many query: its rows a few hundred at a time (a server-side cursor), for results too large to hold."""
        query = self._checked(query, "many", params)
        if self.connection.info.transaction_status == TransactionStatus.IDLE:
            # Outside a transaction (health's checks) a server-side cursor cannot live: all rows at once.
            return iter(self._run(query, "many", params).fetchall())
        return self._streamed(query, params)

    def _streamed(self, query: Query, params: Mapping[str, Any]) -> Iterator[Any]:
        # Opened on the first row asked for, closed with the generator: an
        # iterator never started, or dropped half way, leaves no cursor open.
        with psycopg.RawServerCursor(self.connection, f"tradedb_{uuid.uuid4().hex}") as cursor:
            # Rows fetched at once: few, since a row may hold 1 MiB of metadata, held
            # several times over while read (wire, text, JSON): 8 such rows cost
            # about 36 MB; more measured 144 MB at 32 (tests/test_streaming.py).
            cursor.itersize = 8
            started = perf_counter()
            cursor.execute(query.sql, query.bind(params))
            self._log(query, params, started)
            yield from cursor

    def exec(self, query: Query, params: Mapping[str, Any]) -> int:
        """Run an :exec query: the number of rows it changed."""
        return self._run(query, "exec", params).rowcount

    def exec_many(self, query: Query, rows: Iterable[Mapping[str, Any]]) -> int:
        """Run an :exec query once per parameter set, pipelined; an INSERT of one VALUES row, for many rows per statement.

        `rows` may be a generator: it is read a statement's rows at a time, each
        statement sent as soon as its rows are there, so that the server runs
        it while the next rows are made. Its own error comes first, as if it had
        been read whole before anything was sent: after a failed statement, the
        rest of `rows` is read before the failure is raised.
        """
        query = QUERIES[query.name]
        logged: list[Mapping[str, Any]] | None = [] if SQL_LOG.isEnabledFor(logging.DEBUG) else None
        pending: Iterator[Mapping[str, Any]] = iter(rows) if logged is None else recorded(rows, logged)
        first = next(pending, None)
        if first is None:
            return 0
        query.check("exec", first)
        started = perf_counter()
        cursor = self.connection.cursor()
        # A unit may go on after a failed batch (to name the bot a trade lacks):
        # PostgreSQL lets it only past a savepoint, where SQLite needs none.
        cursor.execute("SAVEPOINT tradedb_batch")
        count, bind, width = 0, query.bind, len(query.declared)
        left: list[Mapping[str, Any]] = [first]
        try:
            if multi_row_sql(query.sql, width, 1, "$") is None:
                left.extend(pending)
            else:
                most = min(ROWS_PER_STATEMENT, MAX_PARAMETERS // max(1, width))
                for size in statement_sizes(most):
                    if size == most:
                        left.extend(islice(pending, size - len(left)))
                        if len(left) == size and not isinstance(rows, Sequence):
                            # More may come: read on in a thread while psycopg waits on the server.
                            pending = ReadAhead(pending, size)
                    if len(left) < size:
                        continue
                    sql = multi_row_sql(query.sql, width, size, "$")
                    assert sql is not None
                    cursor.executemany(sql, self._statements(size, bind, left, pending if size == most else None))
                    count += cursor.rowcount
                left.extend(pending)
            if left:
                cursor.executemany(query.sql, [bind(row) for row in left])
                count += cursor.rowcount
        except BaseException as error:
            # A failure of the rows' own making (a generator's ValidationError) as well as the server's.
            if not self.connection.closed and self.connection.info.transaction_status != TransactionStatus.IDLE:
                cursor.execute("ROLLBACK TO tradedb_batch")
            if isinstance(error, Exception):
                for _ in pending:  # the rows' own error, if any, before the server's (after their own: none left)
                    pass
            raise
        finally:
            if isinstance(pending, ReadAhead):
                pending.close()
        cursor.execute("RELEASE tradedb_batch")
        if logged is not None:
            elapsed = (perf_counter() - started) * 1000
            SQL_LOG.debug("%s x%d %r (%.3f ms)", query.name, len(logged), [dict(row) for row in logged], elapsed)
        return count

    @staticmethod
    def _statements(
        size: int, bind: Callable[[Mapping[str, Any]], tuple[Any, ...]], left: list[Mapping[str, Any]],
        pending: Iterator[Mapping[str, Any]] | None,
    ) -> Iterator[list[Any]]:
        """The parameters of statements of `size` rows: from `left` (which keeps what is short of one), then from
        `pending` as it comes (psycopg sends each before asking for the next)."""
        while True:
            if pending is not None and len(left) < size:
                left.extend(islice(pending, size - len(left)))
            if len(left) < size:
                return
            chunk = left[:size]
            del left[:size]
            yield [value for row in chunk for value in bind(row)]

    def _checked(self, query: Query, kind: str, params: Mapping[str, Any]) -> Query:
        query = QUERIES[query.name]
        query.check(kind, params)
        return query

    def _run(self, query: Query, kind: str, params: Mapping[str, Any]) -> psycopg.Cursor[Any]:
        query = self._checked(query, kind, params)
        cursor = self.connection.cursor()
        if not SQL_LOG.isEnabledFor(logging.DEBUG):
            return cursor.execute(query.sql, query.bind(params))
        started = perf_counter()
        cursor.execute(query.sql, query.bind(params))
        self._log(query, params, started)
        return cursor

    @staticmethod
    def _log(query: Query, params: Mapping[str, Any], started: float) -> None:
        if SQL_LOG.isEnabledFor(logging.DEBUG):
            SQL_LOG.debug("%s %r (%.3f ms)", query.name, dict(params), (perf_counter() - started) * 1000)

    def sum_overflowed(self, error: BaseException) -> bool:
        """Never: PostgreSQL sums NUMERIC exactly, however large."""
        return False

    def check_database(self, check: Check, problems: list[str], full: bool) -> None:
        """health()'s checks of the server: its version, migrations, the schema's rules, orphan rows, size."""
        from .upkeep import report_migrations  # upkeep's units of work import the shapes this module provides

        connection = self.connection
        check("server_version", lambda: _value(connection, "SHOW server_version"))
        schema = report_migrations(check, problems, lambda: state_of(applied_ids(connection)))
        if schema is not None and not schema.unknown:
            missing = check(None, lambda: missing_schema_objects(connection))
            for kind, name in missing or []:
                problems.append(
                    f"the {kind} {name} of sql/postgresql/schema.sql is missing or disabled (an edit made outside "
                    "tradedb): the rule it enforces is not checked; restore it from migrations/postgresql/ or a backup"
                )
        orphans = check("foreign_key_violations", lambda: count_orphans(connection))
        if orphans:
            problems.append(
                f"{orphans} row(s) refer to a missing bot (a foreign key was dropped or bypassed outside tradedb); "
                "find them with: SELECT id, bot_id FROM trades WHERE bot_id NOT IN (SELECT id FROM bot_instances)"
            )
        check("database_size_bytes", lambda: _value(connection, "SELECT pg_database_size(current_database())"))

    @staticmethod
    def shell_literal(value: str) -> str:
        """`value` as an SQL literal for psql, on one line whatever it holds."""
        if value.isprintable():
            return "'" + value.replace("'", "''") + "'"
        return f"convert_from('\\x{value.encode('utf-8', 'surrogatepass').hex()}'::bytea, 'UTF8')"


def _value(connection: psycopg.Connection[Any], sql: str) -> Any:
    row = connection.execute(sql).fetchone()
    return None if row is None else row[0]


# Schema checks (health) ----------------------------------------------------

_SCHEMA_OBJECTS = re.compile(
    r"\bCONSTRAINT\s+(?P<constraint>\w+)|\bCREATE\s+(?:OR\s+REPLACE\s+)?TRIGGER\s+(?P<trigger>\w+)"
    r"|\bCREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<index>\w+)",
    re.I,
)


@functools.cache
def expected_schema_objects() -> tuple[tuple[str, str], ...]:
    """(kind, name) of every named constraint, trigger and index in sql/postgresql/schema.sql."""
    text = (resource_dir("sql") / "postgresql" / "schema.sql").read_text(encoding="utf-8")
    text = re.sub(r"--[^\n]*", "", text)
    found: list[tuple[str, str]] = []
    for match in _SCHEMA_OBJECTS.finditer(text):
        kind = match.lastgroup or ""
        if (kind, match[kind]) not in found:
            found.append((kind, match[kind]))
    return tuple(found)


def missing_schema_objects(connection: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """The expected constraints, triggers and indexes absent from the database, not validated, or disabled."""
    present = {
        ("constraint", name) for (name,) in connection.execute(
            "SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE n.nspname = current_schema() AND c.convalidated"
        )
    }
    # Constraints raised by triggers (USING CONSTRAINT = ...) are named in the schema too.
    present |= {
        ("trigger", name) for (name,) in connection.execute(
            "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND NOT t.tgisinternal AND t.tgenabled <> 'D'"
        )
    }
    present |= {
        ("index", name) for (name,) in connection.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        )
    }
    raised = {
        name for (name,) in connection.execute(
            "SELECT DISTINCT (regexp_matches(prosrc, 'CONSTRAINT = ''(\\w+)''', 'g'))[1] FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = current_schema()"
        )
    }
    return [
        (kind, name) for kind, name in expected_schema_objects()
        if (kind, name) not in present and not (kind == "constraint" and name in raised)
    ]


def count_orphans(connection: psycopg.Connection[Any]) -> int:
    """Trades and metrics whose bot is missing (only possible past a dropped or disabled foreign key)."""
    row = connection.execute(
        "SELECT (SELECT count(*) FROM trades t WHERE NOT EXISTS (SELECT 1 FROM bot_instances b WHERE b.id = t.bot_id))"
        " + (SELECT count(*) FROM performance_metrics m"
        " WHERE NOT EXISTS (SELECT 1 FROM bot_instances b WHERE b.id = m.bot_id))"
    ).fetchone()
    return int(row[0]) if row else 0


# Migrations ---------------------------------------------------------------


def migrations_folder() -> Path:
    """The folder of this version's PostgreSQL migrations."""
    return resource_dir("migrations") / "postgresql"


@functools.cache
def known_ids() -> tuple[str, ...]:
    """This version's PostgreSQL migration ids, in order."""
    return tuple(
        sorted(p.name[: -len(".sql")] for p in migrations_folder().glob("*.sql") if not p.name.endswith(".rollback.sql"))
    )


def applied_ids(connection: psycopg.Connection[Any]) -> list[str]:
    """The ids yoyo recorded as applied on this database (none before its first run)."""
    exists = connection.execute("SELECT to_regclass('_yoyo_migration') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return []
    return [row[0] for row in connection.execute("SELECT migration_id FROM _yoyo_migration ORDER BY applied_at_utc")]


def state_of(applied: list[str]) -> SchemaState:
    """Applied, pending and unknown migrations of a database that has applied `applied`."""
    known = known_ids()
    return SchemaState(
        applied=[m for m in known if m in applied],
        pending=[m for m in known if m not in applied],
        unknown=[m for m in applied if m not in known],
    )


def _yoyo_backend(url: str) -> Any:
    """A yoyo backend on its own connection to `url`, libpq's URL as given (several hosts, TLS parameters and all)."""
    from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
    from yoyo.connections import parse_uri

    class Backend(PostgresqlPsycopgBackend):  # type: ignore[misc]
        def connect(self, dburi: Any) -> Any:
            return psycopg.connect(url, autocommit=True, fallback_application_name="tradedb migrate")

        def apply_one(self, migration: Any, force: bool = False, mark: bool = True) -> None:
            # yoyo runs a migration's steps on a second connection and records
            # it apart: a process killed in between would leave tables without
            # their record. Here steps, log and record share the run's transaction.
            LOG.info("applying %s", migration.id)
            self.ensure_internal_schema_updated()
            with self.transaction():
                migration.process_steps(self, "apply", force=force)
                self.log_migration(migration, "apply")
                if mark:
                    self.mark_one(migration, log=False)

        def lock(self, timeout: int = 10) -> Any:
            # tradedb's advisory lock is held around the whole run, and a
            # lock row of yoyo's would outlive a killed process.
            return contextlib.nullcontext()

    return Backend(parse_uri("postgresql+psycopg://tradedb@localhost/tradedb"), "_yoyo_migration")


def refuse_unknown(location: str, state: SchemaState) -> None:
    """MigrationError when the database has migrations this version does not know."""
    if state.unknown:
        raise MigrationError(
            f"{location} has migration(s) {', '.join(state.unknown)} that this version of tradedb does not know "
            "(a newer tradedb applied them): upgrade tradedb"
        )


def prepare(url: str, *, migrate: bool, busy_timeout: float) -> SchemaState:
    """Make sure the database at `url` has this version's schema, applying pending migrations if `migrate`."""
    location = redacted(url)
    with _connect(url, busy_timeout) as connection:
        state = state_of(applied_ids(connection))
        refuse_unknown(location, state)
        if not state.pending:
            return state
        if not migrate:
            raise MigrationError(
                f"{location} lacks migration(s) {', '.join(state.pending)}: apply them with "
                "`tradedb migrate --database URL`, `yoyo apply`, or connect(..., migrate=True)"
            )
        # Another host may be migrating: wait for it, then look again. The
        # server drops this lock with the session if this process dies.
        connection.execute("SET lock_timeout = 0")
        connection.execute("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK])
        try:
            state = state_of(applied_ids(connection))
            refuse_unknown(location, state)
            if state.pending:
                apply_migrations(url, location)
                state = state_of(applied_ids(connection))
        finally:
            if not connection.closed:
                connection.execute("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK])
    return state


def apply_migrations(url: str, location: str) -> list[str]:
    """Apply the pending migrations with yoyo (each in its own transaction); the ids applied."""
    from yoyo import read_migrations

    backend = _yoyo_backend(url)
    try:
        pending = backend.to_apply(read_migrations(str(migrations_folder())))
        ids = [m.id for m in pending]
        LOG.info("applying migration(s) %s to %s", ", ".join(ids), location)
        backend.ensure_internal_schema_updated()  # yoyo's own tables, committed before the run's transaction
        # One transaction for the run: a failing migration leaves none of them applied (yoyo's own
        # transactions become savepoints inside it), as on SQLite.
        with backend.transaction():
            backend.apply_migrations(pending)
        return ids
    except Exception as error:
        if is_unreachable(error):
            raise
        raise MigrationError(f"migrating {location} failed ({_scrub(str(error), url)}); the failed migration was rolled back") from error
    finally:
        backend.connection.close()


def _connect(url: str, busy_timeout: float) -> psycopg.Connection[Any]:
    params = psycopg.conninfo.conninfo_to_dict(url)
    extra: dict[str, Any] = {}
    if "connect_timeout" not in params:
        extra["connect_timeout"] = max(2, int(busy_timeout) + 1)
    connection = psycopg.connect(
        url, autocommit=True, cursor_factory=psycopg.RawCursor, fallback_application_name="tradedb", **extra
    )
    try:
        _configure(connection)
        # Day boundaries and times shown by the server are UTC, as on SQLite;
        # a lock waited for longer than busy_timeout fails (DatabaseBusy).
        connection.execute("SET TIME ZONE 'UTC'")
        connection.execute(f"SET lock_timeout = {int(busy_timeout * 1000)}")
    except BaseException:
        connection.close()
        raise
    return connection


# Backups ------------------------------------------------------------------


def find_pg_dump() -> str | None:
    """pg_dump on PATH, else the newest of Debian's /usr/lib/postgresql/*/bin."""
    found = shutil.which("pg_dump")
    if found:
        return found
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_dump"), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0
    )
    return str(candidates[-1]) if candidates else None


def dump_database(url: str, dest: Path) -> None:
    """pg_dump (custom format) of the database at `url` to the new file `dest`: whole, or absent."""
    pg_dump = find_pg_dump()
    if pg_dump is None:
        raise TradeDBError(
            "pg_dump is missing, so tradedb cannot back up a PostgreSQL database: install PostgreSQL's client tools "
            "(apt-get install postgresql-client, the same major version as the server or newer), then retry"
        )
    partial = dest.with_name(f".tradedb-backup-{uuid.uuid4().hex}.partial")
    env = dict(os.environ)
    secret = password_of(url)
    if secret:
        env["PGPASSWORD"] = secret  # never on the command line, where ps shows it
    try:
        done = subprocess.run(
            [pg_dump, "--format=custom", f"--file={partial}", f"--dbname={redacted(url)}"],
            env=env, capture_output=True, text=True, check=False,
        )
        if done.returncode != 0:
            reason = _scrub(done.stderr.strip() or f"exit status {done.returncode}", url)
            raise TradeDBError(f"pg_dump could not back up {redacted(url)}: {reason}; nothing was kept")
        publish(partial, dest, database=None)
    finally:
        partial.unlink(missing_ok=True)


# The pool -----------------------------------------------------------------


class _Connection:
    """One pooled connection, its Session, and whether its COMMIT has been sent (after that, a lost link leaves the outcome unknown)."""

    def __init__(self, connection: psycopg.Connection[Any], url: str) -> None:
        self.connection = connection
        self.session = Session(connection, url)
        self.committing = False
        self.fresh = True

    @property
    def usable(self) -> bool:
        return not self.connection.closed and self.connection.info.transaction_status == TransactionStatus.IDLE

    def rollback_quietly(self) -> None:
        """End whatever transaction is open, if the connection still works."""
        # A connection that broke meanwhile needs none: the server ends the transaction with the session.
        with contextlib.suppress(psycopg.Error):
            if not self.connection.closed and self.connection.info.transaction_status != TransactionStatus.IDLE:
                self.connection.execute("ROLLBACK")


def _in_transaction(conn: _Connection, unit: Callable[..., Result], args: tuple[Any, ...], begin: str) -> Result:
    """unit(session, *args) in one transaction, tried again after serialization failures and deadlocks."""
    nap = FIRST_NAP
    for attempt in range(1, MAX_ATTEMPTS + 1):
        conn.committing = False
        try:
            conn.connection.execute(begin)
            result = unit(conn.session, *args)
            conn.committing = True
            conn.connection.execute("COMMIT")
            conn.committing = False
            return result
        except _RETRIED:
            conn.committing = False
            conn.rollback_quietly()
            if attempt == MAX_ATTEMPTS:
                raise
        except (pg_errors.UniqueViolation, StoredMeanwhile):
            conn.committing = False
            conn.rollback_quietly()
            if attempt > 1:
                raise
        except BaseException:
            conn.rollback_quietly()
            raise
        time.sleep(random.uniform(nap / 2, nap * 1.5))
        nap = min(nap * 2, LONGEST_NAP)
    raise AssertionError("unreachable")


def _in_savepoint(conn: _Connection, unit: Callable[..., Result], args: tuple[Any, ...]) -> Result:
    connection = conn.connection
    connection.execute("SAVEPOINT tradedb_unit")
    try:
        result = unit(conn.session, *args)
    except BaseException:
        if connection.info.transaction_status == TransactionStatus.INERROR or connection.info.transaction_status == TransactionStatus.INTRANS:
            connection.execute("ROLLBACK TO tradedb_unit")
            connection.execute("RELEASE tradedb_unit")
        raise
    connection.execute("RELEASE tradedb_unit")
    return result


def _statement(conn: _Connection, sql: str) -> None:
    conn.connection.execute(sql)


def _undo_savepoint(conn: _Connection, name: str) -> None:
    if conn.connection.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
        conn.connection.execute(f"ROLLBACK TO {name}")
        conn.connection.execute(f"RELEASE {name}")


def _commit(conn: _Connection) -> None:
    conn.committing = True
    conn.connection.execute("COMMIT")
    conn.committing = False


def _rollback(conn: _Connection) -> None:
    conn.rollback_quietly()


def _direct(conn: _Connection, unit: Callable[..., Result], args: tuple[Any, ...]) -> Result:
    return unit(conn.session, *args)


class _Held:
    """A coroutine's open transaction: its connection and how deep its savepoints go."""

    def __init__(self, conn: _Connection) -> None:
        self.conn = conn
        self.savepoints = 0


class Database:
    """An open PostgreSQL database, shared by every coroutine of one process through a small pool."""

    dialect = "postgresql"
    path: Path | None = None

    def __init__(self, url: str, pool_size: int, busy_timeout: float) -> None:
        self._url = url
        self.busy_timeout = busy_timeout
        self.pool_size = pool_size
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(pool_size)
        self._executor = ThreadPoolExecutor(pool_size, thread_name_prefix="tradedb-postgresql")
        self._held: dict[asyncio.Task[Any], _Held] = {}
        self._closed = False
        self._lock = threading.Lock()  # guards _idle between the loop and done-callbacks

    @property
    def location(self) -> str:
        """The URL without its password."""
        return redacted(self._url)

    def default_backup_path(self) -> Path:
        """backups/<database>-<UTC timestamp>.dump in the current folder."""
        stamp = utc_now().strftime("%Y%m%dT%H%M%S.%fZ")
        return Path("backups") / f"{database_name(self._url)}-{stamp}.dump"

    async def open(self) -> None:
        """Open one connection, to fail now rather than at the first call when the server cannot be reached."""
        conn = await self._acquire()
        try:
            version = conn.connection.info.server_version
        finally:
            self._release(conn)
        if version < OLDEST_SERVER:
            await self.close()
            raise TradeDBError(f"tradedb needs PostgreSQL 13 or newer; the server of {self.location} runs {version}")

    async def close(self) -> None:
        """Close every idle connection; those in use close when their call ends. Safe to call twice."""
        self._closed = True
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.connection.close()
        # Calls under way finish (their connections close as they are released); new ones are refused.
        await asyncio.to_thread(self._executor.shutdown, True)

    # Connections

    def _open_connection(self) -> _Connection:
        return _Connection(_connect(self._url, self.busy_timeout), self._url)

    async def _acquire(self) -> _Connection:
        if self._closed:
            raise TradeDBError("the repository is closed; open a new one with tradedb.connect()")
        if self._slots.locked():
            try:
                async with asyncio.timeout(self.busy_timeout):
                    await self._slots.acquire()
            except TimeoutError:
                raise DatabaseBusy(
                    f"all {self.pool_size} connections of this repository stayed in use for over "
                    f"busy_timeout={self.busy_timeout}s; nothing was written: retry, keep transactions short, "
                    "or connect with a larger pool_size"
                ) from None
        else:
            await self._slots.acquire()
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is not None:
            conn.fresh = False
            return conn
        try:
            return await self._submit(self._open_connection)
        except BaseException as error:
            self._slots.release()
            if isinstance(error, psycopg.Error):
                raise translate(error, self._url, self.busy_timeout) from None
            raise

    def _release(self, conn: _Connection) -> None:
        if conn.usable and not self._closed:
            with self._lock:
                self._idle.append(conn)
        else:
            conn.connection.close()
        self._slots.release()

    def _drop_idle(self) -> None:
        """Close the idle connections: after one found the server gone, the others are likely gone too."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.connection.close()

    def _submit(self, function: Callable[..., Result], *args: Any) -> asyncio.Future[Result]:
        try:
            return asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(function, *args))
        except RuntimeError:  # the executor was shut down: close() ran meanwhile
            if not self._closed:
                raise
            raise TradeDBError("the repository was closed meanwhile; open a new one with tradedb.connect()") from None

    async def _on(self, conn: _Connection, function: Callable[..., Result], *args: Any) -> Result:
        """function(conn, *args) in a worker thread; the connection is not reused before it returns, even if cancelled."""
        future = self._submit(function, conn, *args)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            await asyncio.wait([future])
            raise

    async def _run(self, function: Callable[..., Result], *args: Any, retry_lost: bool) -> Result:
        """function(conn, *args) on a pooled connection; on a connection the server dropped, once more on a new one."""
        for attempt in (1, 2):
            conn = await self._acquire()
            try:
                return await self._on(conn, function, *args)
            except psycopg.Error as error:
                if not is_unreachable(error):
                    raise self._translated(error) from error
                self._drop_idle()
                # A connection idle through a server restart fails at its
                # first statement; its transaction never began, so it is safe
                # to run the unit again on a new one. Not after COMMIT was sent.
                if attempt == 2 or not retry_lost or conn.committing or conn.fresh:
                    raise self._lost(conn, error) from error
            except InvalidOperation as error:
                raise _damaged(self.location) from error
            finally:
                self._release(conn)
        raise AssertionError("unreachable")

    def _translated(self, error: psycopg.Error) -> TradeDBError:
        return translate(error, self._url, self.busy_timeout)

    def _lost(self, conn: _Connection, error: psycopg.Error) -> TradeDBError:
        if conn.committing:
            return ServerUnreachable(
                f"the connection to the PostgreSQL server of {self.location} was lost while committing, so this write "
                "may or may not have been committed: read it back once the server is reachable (a create_trade "
                "repeated with the same id is safe)"
            )
        return self._translated(error)

    # What the repository calls

    async def write(self, unit: Callable[..., Result], *args: Any) -> Result:
        """Run unit(session, *args) as one write transaction, or in the caller's open one."""
        held = self._held_by_caller()
        if held is not None:
            return await self._in_held(held, _in_savepoint, unit, args)
        return await self._run(_in_transaction, unit, args, BEGIN_WRITE, retry_lost=True)

    async def read(self, unit: Callable[..., Result], *args: Any) -> Result:
        """Run unit(session, *args) on one snapshot, or in the caller's open transaction."""
        held = self._held_by_caller()
        if held is not None:
            return await self._in_held(held, _direct, unit, args)
        return await self._run(_in_transaction, unit, args, BEGIN_READ, retry_lost=True)

    async def inspect(self, unit: Callable[..., Result], *args: Any) -> Result:
        """Run unit(session, *args) with each statement on its own (health checks)."""
        return await self._run(_direct, unit, args, retry_lost=True)

    def in_transaction(self) -> bool:
        """Whether the calling task is inside its transaction() block."""
        return self._held_by_caller() is not None

    def _held_by_caller(self) -> _Held | None:
        if not self._held:
            return None
        task = asyncio.current_task()
        return self._held.get(task) if task is not None else None

    async def _in_held(self, held: _Held, function: Callable[..., Result], *args: Any) -> Result:
        try:
            return await self._on(held.conn, function, *args)
        except psycopg.Error as error:
            if is_unreachable(error):
                self._drop_idle()
                raise ServerUnreachable(
                    f"the connection to the PostgreSQL server of {self.location} was lost inside a transaction, "
                    "so nothing of the transaction was written: run it again once the server is reachable"
                ) from error
            raise self._translated(error) from error
        except InvalidOperation as error:
            raise _damaged(self.location) from error

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Group calls atomically on one connection; nested use makes a savepoint."""
        held = self._held_by_caller()
        if held is not None:
            held.savepoints += 1
            name = f"tradedb_nested_{held.savepoints}"
            await self._in_held(held, _statement, f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                await self._in_held(held, _undo_savepoint, name)
                raise
            finally:
                held.savepoints -= 1
            await self._in_held(held, _statement, f"RELEASE {name}")
            return
        task = asyncio.current_task()
        assert task is not None
        conn = await self._acquire()
        try:
            try:
                await self._on(conn, _statement, BEGIN_WRITE)
            except psycopg.Error as error:
                if is_unreachable(error):
                    self._drop_idle()
                raise self._translated(error) from error
            held = self._held[task] = _Held(conn)
            try:
                yield
                try:
                    await self._on(conn, _commit)
                except psycopg.Error as error:
                    raise self._lost(conn, error) from error
            except BaseException:
                await asyncio.shield(self._on(conn, _rollback))
                raise
            finally:
                del self._held[task]
        finally:
            self._release(conn)

    @asynccontextmanager
    async def bulk(self) -> AsyncIterator[None]:
        """Many large write transactions in a row (a copy): nothing to change on a server."""
        yield

    async def changes(self, interval: float) -> AsyncIterator[int]:
        """Yield a counter after commits that changed trades, bots or metrics, gathered over `interval` seconds.

        LISTEN tradedb_changes on a connection of its own: migration 0003's
        statement triggers NOTIFY it, and PostgreSQL delivers at COMMIT, once
        per transaction and channel. While the server is unreachable nothing
        is yielded; once it is back, one count is (anything may have changed).
        """
        seen, missed = 0, False
        while not self._closed:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True, fallback_application_name="tradedb changes",
                    connect_timeout=max(2, int(self.busy_timeout) + 1),
                )
            except psycopg.Error:
                missed = True
                await asyncio.sleep(max(1.0, interval))
                continue
            try:
                await conn.execute("LISTEN tradedb_changes")
                if missed:
                    missed, seen = False, seen + 1
                    yield seen
                while not self._closed:
                    arrived = False
                    async for _ in conn.notifies(timeout=interval):
                        arrived = True
                    if arrived:
                        seen += 1
                        yield seen
            except psycopg.Error:
                missed = True
                await asyncio.sleep(max(1.0, interval))
            finally:
                await conn.close()

    async def backup(self, dest: Path) -> None:
        """pg_dump (custom format) of the database to the new file `dest`, in a thread of its own."""
        if self._closed:
            raise TradeDBError("the repository is closed; open a new one with tradedb.connect()")
        try:
            await asyncio.to_thread(dump_database, self._url, dest)
        except OSError as error:
            raise TradeDBError(f"cannot write the backup {dest}: {error.strerror or error}; choose a writable folder") from error


def _damaged(location: str) -> DatabaseDamaged:
    return DatabaseDamaged(
        f"a stored amount in {location} does not read as a number; nothing was written. "
        "It was edited past the schema's checks: `tradedb status --full` finds the rows; restore a backup or correct them"
    )


async def open_database(url: str, *, migrate: bool, busy_timeout: float, pool_size: int) -> Database:
    """Check, migrate and open the PostgreSQL database at `url`."""
    check_url(url)
    try:
        await asyncio.to_thread(prepare, url, migrate=migrate, busy_timeout=busy_timeout)
    except psycopg.Error as error:
        raise translate(error, url, busy_timeout) from None
    db = Database(url, pool_size, busy_timeout)
    await db.open()
    return db
