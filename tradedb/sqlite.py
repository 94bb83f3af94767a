"""Connection handling for SQLite: everything here is specific to SQLite and aiosqlite.

A `Database` holds two aiosqlite connections to one file:

* the writer, used by one transaction at a time (an asyncio lock hands it
  over), which opens every transaction with BEGIN IMMEDIATE so that the
  write lock is taken up front, waiting for other processes' writers in
  short naps bounded by busy_timeout (see `begin_immediate`);
* the reader, for reads outside a transaction: in WAL mode it sees the last
  commit and is never blocked by a writer, in this process or another.

The repository hands each unit of work (a plain function of a `Session`)
to a connection's thread whole, so a transaction costs one thread hop
rather than one per statement. tradedb/postgresql.py provides the same
shapes (tradedb/database.py) over a server.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import random
import re
import sqlite3
import time
import traceback
import uuid
from itertools import islice
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from decimal import InvalidOperation
from pathlib import Path
from time import perf_counter
from typing import Any, TypeVar

import aiosqlite

from .errors import (
    ConflictError, DatabaseBusy, DatabaseDamaged, DiskFull, InvalidTransition, QueryFileError, TradeDBError, ValidationError,
)
from .paths import publish
from .bulk import (
    DEFERRED_INDEX_ROWS, LOADED_TABLES, ROWS_PER_STATEMENT, SMALLEST_MULTI_ROW, ReadAhead, flattened, multi_row_sql,
    recorded, statement_sizes,
)
from .database import Check, Deferred
from .queries import DIALECTS, Query, load_queries
from .resources import resource_dir

SQL_LOG = logging.getLogger("tradedb.sql")
OLDEST_SQLITE = (3, 30, 0)  # aggregate FILTER clauses
_TRIGGER_MESSAGE = re.compile(r"^\w+\.(?P<column>\w+): (?P<reason>.+)$")
Result = TypeVar("Result")


QUERIES = DIALECTS["sqlite"]
DEFERRABLE_INDEXES = QUERIES["deferrable_indexes"]
# This backend's own statements around a bulk load (sql/sqlite/bulk/: no unit of work runs them).
BULK = load_queries(resource_dir("sql") / "sqlite" / "bulk", "sql/sqlite/bulk")
if set(BULK) & set(QUERIES):
    raise QueryFileError(f"sql/sqlite/bulk/ and the named queries share {sorted(set(BULK) & set(QUERIES))}: rename one")
TABLE_TRIGGERS = BULK["table_triggers"]
# The row triggers on insert whose work a bulk load does for all its rows before its commit, in this order, each
# with the statement doing it (a row: the message the trigger raises); why, in sql/sqlite/bulk/triggers.sql.
CAUGHT_UP_TRIGGERS = {
    "trades_rules_on_insert": BULK["refused_loaded_trade"],
    "closed_trade_stats_on_insert": BULK["count_loaded_closed_trades"],
}
# Past the largest rowid, SQLite picks new rowids at random: the loaded rows would no longer follow the others.
LARGEST_ROWID = 2**63 - 1

class Session:
    """The statements a unit of work may run; lives in its connection's thread."""

    dialect = "sqlite"
    reruns_units = False  # one writer, which never runs a unit twice

    def __init__(self, connection: sqlite3.Connection, busy_timeout: float, path: Path | None = None) -> None:
        self.connection = connection
        self.busy_timeout = busy_timeout
        self.path = path
        self._variables: int | None = None

    def one(self, query: Query, params: Mapping[str, Any]) -> Any:
        """Run a :one query: its row, or None."""
        rows = self._run(query, "one", params).fetchall()
        return rows[0] if rows else None

    def many(self, query: Query, params: Mapping[str, Any]) -> list[Any]:
        """Run a :many query: all its rows."""
        return self._run(query, "many", params).fetchall()

    def each(self, query: Query, params: Mapping[str, Any]) -> Iterator[Any]:
        """Run a :many query: its rows one at a time, for results too large to hold at once."""
        return iter(self._run(query, "many", params))

    def exec(self, query: Query, params: Mapping[str, Any]) -> int:
        """Run an :exec query: the number of rows it changed."""
        return self._run(query, "exec", params).rowcount

    def exec_many(self, query: Query, rows: Iterable[Mapping[str, Any]]) -> int:
        """Run an :exec query once per parameter set; an INSERT of one VALUES row, for many rows per statement.

        `rows` may be a generator: it is read a statement's rows at a time, and
        past its first statement's rows in a thread of its own, so that its
        work (checking trades, say) goes on while SQLite writes (which lets go
        of Python's lock meanwhile). Its own error comes first, as if it had been
        read whole before anything was written: after a failed statement, the
        rest of `rows` is read before the failure is raised.
        """
        query = QUERIES[query.name]
        logged: list[Mapping[str, Any]] | None = [] if SQL_LOG.isEnabledFor(logging.DEBUG) else None
        pending: Iterator[Mapping[str, Any]] = iter(rows) if logged is None else recorded(rows, logged)
        first = next(pending, None)
        query.check("exec", first if first is not None else dict.fromkeys(query.params))
        if first is None:
            return 0
        started = perf_counter()
        changed, bind, width = 0, query.bind, len(query.declared)
        flat = flattened(bind)
        left: list[Mapping[str, Any]] = [first]
        multi = multi_row_sql(query.sql, width, 1, "?") is not None
        most = min(ROWS_PER_STATEMENT, self._variable_limit() // max(1, width)) if multi else 0
        if most >= SMALLEST_MULTI_ROW and not isinstance(rows, Sequence):
            left.extend(islice(pending, most - 1))
            if len(left) == most:  # more may come: read (and bind) on while SQLite writes these
                pending = ReadAhead(pending, most, flat)
        try:
            if not multi:
                left.extend(pending)
            else:
                # The largest statement while rows keep coming; what is left, in statements of 64 and 8 rows.
                for size in statement_sizes(most):
                    sql = multi_row_sql(query.sql, width, size, "?")
                    assert sql is not None
                    while True:
                        if size == most:
                            if not left and isinstance(pending, ReadAhead):
                                params = pending.whole_batch()
                                if params is not None:
                                    changed += self.connection.execute(sql, params).rowcount
                                    continue
                            left.extend(islice(pending, size - len(left)))
                        if len(left) < size:
                            break
                        chunk, left = left[:size], left[size:]
                        changed += self.connection.execute(sql, flat(chunk)).rowcount
                left.extend(pending)  # none left when a statement of `most` rows ran; all when `most` is under 8
            if left:  # the last few, one by one
                changed += self.connection.executemany(query.sql, map(bind, left)).rowcount
        except Exception:
            for _ in pending:  # the rows' own error, if any, before this one (after their own: none left)
                pass
            raise
        finally:
            if isinstance(pending, ReadAhead):
                pending.close()
        if logged is not None:
            elapsed = (perf_counter() - started) * 1000
            SQL_LOG.debug("%s x%d %r (%.3f ms)", query.name, len(logged), [dict(row) for row in logged], elapsed)
        return changed

    def _variable_limit(self) -> int:
        """How many parameters this SQLite takes in one statement (999 before 3.32, 32766 since)."""
        if self._variables is None:
            self._variables = self.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        return self._variables

    def _run(self, query: Query, kind: str, params: Mapping[str, Any]) -> sqlite3.Cursor:
        query = query if query.name in BULK else QUERIES[query.name]
        query.check(kind, params)
        if not SQL_LOG.isEnabledFor(logging.DEBUG):
            return self.connection.execute(query.sql, query.bind(params))
        started = perf_counter()
        cursor = self.connection.execute(query.sql, query.bind(params))
        SQL_LOG.debug("%s %r (%.3f ms)", query.name, dict(params), (perf_counter() - started) * 1000)
        return cursor

    def sum_overflowed(self, error: BaseException) -> bool:
        """Whether SQLite refused a sum that passed 2^63 (its sum() adds 64-bit integers)."""
        return is_integer_overflow(error)

    def check_database(self, check: Check, problems: list[str], full: bool) -> None:
        """health()'s checks of the file: SQLite's version, journal, migrations, integrity, foreign keys, schema, size, disk."""
        from .migrations import applied_ids, schema_problems, state_of  # migrations imports this module
        from .upkeep import report_migrations  # upkeep's units of work import the shapes this module provides

        connection, path = self.connection, self.path
        assert path is not None
        check("sqlite_version", lambda: sqlite3.sqlite_version)
        mode = check("journal_mode", lambda: connection.execute("PRAGMA journal_mode").fetchone()[0])
        schema = report_migrations(check, problems, lambda: state_of(applied_ids(self)))
        pragma = "integrity_check" if full else "quick_check"

        def integrity() -> list[str] | str:
            try:
                found = [row[0] for row in connection.execute(f"PRAGMA {pragma}({MAX_REPORTED_PROBLEMS})")]
            except sqlite3.DatabaseError as error:
                # The check can stop at damage it cannot read past: that is its finding.
                found = [str(error)]
            return "ok" if found == ["ok"] else found

        found = check("integrity", integrity)
        if found is not None and found != "ok":
            problems.append(f"{pragma} found {len(found)} problem(s); restore a backup or .recover the file")
        violations = check("foreign_key_violations", lambda: len(connection.execute("PRAGMA foreign_key_check").fetchall()))
        if violations:
            problems.append(
                f"{violations} row(s) refer to a missing row; see them with PRAGMA foreign_key_check in the sqlite3 shell"
            )
        if schema is not None and not schema.unknown:
            # The schema must be the one the applied migrations produce: a
            # trigger or CHECK lost to a hand edit no longer guards the data.
            applied = schema.applied
            problems.extend(
                f"{difference}: restore a backup from before the change (tradedb keeps them in {path.parent / 'backups'})"
                for difference in check(None, lambda: schema_problems(self, applied)) or []
            )
        check("file_size_bytes", lambda: database_size(path))
        free = check("free_disk_bytes", lambda: free_bytes(path))
        if free is not None and free < LOW_DISK_BYTES:
            # Below this, writes fail (or soon will) with DiskFull: see LOW_DISK_BYTES.
            problems.append(
                f"the file system at {mount_point(path)} holding the database has {free} bytes free "
                f"(under {LOW_DISK_BYTES}): writes may fail with DiskFull at any moment; free some space there"
            )
        if mode is not None and mode != "wal":
            problems.append(f"journal_mode is {mode}, not wal: bots writing at once will wait on readers")

    def deferrable_indexes(self, table: str, rows: int) -> list[tuple[str, str]]:
        """The (name, sql) of `table`'s indexes that a load of `rows` new rows builds faster after its rows than
        row by row: none under DEFERRED_INDEX_ROWS, nor when the table held more rows than the load brings."""
        if table not in LOADED_TABLES:
            raise ValueError(f"no bulk load into {table!r}")
        if rows < DEFERRED_INDEX_ROWS:
            return []
        # max(rowid) is read off the table's last page, and is never under its row count: a table that holds
        # more rows than the load brings keeps its indexes, whose row-by-row cost then grows slower than a rebuild's.
        (bound,) = self.connection.execute(f"SELECT ifnull(max(rowid), 0) FROM {table}").fetchone()
        if rows < bound:
            return []
        if self.path is not None and not self._room_for(rows * BYTES_PER_LOADED_ROW + WAL_ROOM):
            return []  # a copy then commits each page (_copy): its write-ahead log never holds a group
        return [(name, sql) for name, sql in self.many(DEFERRABLE_INDEXES, {"table_name": table})]

    def _room_for(self, size: int) -> bool:
        assert self.path is not None
        try:
            return free_bytes(self.path) >= size
        except OSError:  # the disk cannot say: as if short of room
            return False

    def defer(self, table: str, rows: int) -> Deferred:
        """Drop, until catch_up in this transaction, what a load of `rows` rows into `table` is faster without."""
        indexes = self.deferrable_indexes(table, rows)
        if not indexes:
            return Deferred([])
        connection = self.connection
        for name, _ in indexes:
            connection.execute('DROP INDEX "' + name.replace('"', '""') + '"')
        (after,) = connection.execute(f"SELECT ifnull(max(rowid), 0) FROM {table}").fetchone()
        triggers = self._deferrable_triggers(table) if after <= LARGEST_ROWID - rows else []
        for name, _ in triggers:
            connection.execute('DROP TRIGGER "' + name.replace('"', '""') + '"')
        return Deferred(indexes, triggers, after)

    def _deferrable_triggers(self, table: str) -> list[tuple[str, str]]:
        """`table`'s triggers that catch_up does the work of, when every trigger of the table is as shipped."""
        from .schema import normalized, shipped_triggers  # schema reads databases through this module's Session

        shipped = shipped_triggers()
        triggers = [(name, sql) for name, sql in self.many(TABLE_TRIGGERS, {"table_name": table})]
        # A trigger changed or added by hand might write the rows as they come in: then all fire row by row.
        if any(normalized(sql) != shipped.get(name) for name, sql in triggers):
            return []
        return [(name, sql) for name, sql in triggers if name in CAUGHT_UP_TRIGGERS]

    def catch_up(self, deferred: Deferred) -> None:
        """Put back what defer dropped, with the triggers' work for the rows loaded meanwhile, before the commit."""
        connection = self.connection
        for _, sql in deferred.triggers:
            connection.execute(sql)
        dropped = {name for name, _ in deferred.triggers}
        for name, query in CAUGHT_UP_TRIGGERS.items():  # the rules first: a refused row makes the rest moot
            if name not in dropped:
                continue
            if query.kind == "exec":
                self.exec(query, {"after": deferred.after})
                continue
            refused = self.one(query, {"after": deferred.after})
            if refused is not None:
                raise sqlite3.IntegrityError(refused[0])  # as the trigger's RAISE(ABORT, ...)
        indexes = deferred.indexes
        for _, sql in indexes:
            connection.execute(sql)
        if not indexes or connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone() is None:
            return
        # The statistics ANALYZE kept of the dropped indexes went with them; the planner would take the indexes
        # for unmeasured. A table measured before is measured again, all its indexes (it at least doubled).
        (table,) = connection.execute("SELECT tbl_name FROM sqlite_master WHERE name = ?", (indexes[0][0],)).fetchone()
        if connection.execute("SELECT 1 FROM sqlite_stat1 WHERE tbl = ?", (table,)).fetchone() is not None:
            connection.execute(f"ANALYZE {table}")

    @contextlib.contextmanager
    def bulk_load(self, table: str, rows: int) -> Iterator[None]:
        """Around an insert of `rows` new rows into `table`: its indexes may be built once, at the end.

        Inside one transaction, so other connections never see the table
        without them (WAL readers keep reading the last commit); an error
        inside puts them back, and takes back what was inserted, before it is raised.
        """
        if rows < DEFERRED_INDEX_ROWS:
            yield
            return
        connection = self.connection
        connection.execute("SAVEPOINT tradedb_bulk_load")
        try:
            deferred = self.defer(table, rows)
            yield
            self.catch_up(deferred)
        except BaseException:
            if connection.in_transaction:  # a full disk may have rolled back the whole transaction already
                connection.execute("ROLLBACK TO tradedb_bulk_load")
                connection.execute("RELEASE tradedb_bulk_load")
            raise
        connection.execute("RELEASE tradedb_bulk_load")

    @staticmethod
    def shell_literal(value: str) -> str:
        """`value` as an SQL literal for the sqlite3 shell, on one line whatever it holds."""
        if value.isprintable():
            return "'" + value.replace("'", "''") + "'"
        return f"CAST(X'{value.encode('utf-8', 'surrogatepass').hex().upper()}' AS TEXT)"


MAX_REPORTED_PROBLEMS = 100


def database_size(path: Path) -> int:
    """Bytes of the database file plus its write-ahead log."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def is_busy(error: BaseException) -> bool:
    """Whether SQLite refused because another connection holds a lock."""
    message = str(error)
    return isinstance(error, sqlite3.OperationalError) and ("locked" in message or "busy" in message)


def is_integer_overflow(error: BaseException) -> bool:
    """Whether SQLite refused a sum that passed 2^63 (its sum() adds 64-bit integers)."""
    return isinstance(error, sqlite3.OperationalError) and str(error) == "integer overflow"


# With less free space than this, the next writes may fail for want of room:
# one trade's commit appends about a dozen 4 KiB pages to the WAL (its row,
# the trades table's indexes, the bot's books: ~45 KB measured), and a
# checkpoint grows the database by the pages it copies back. 1 MiB is room
# for about twenty such commits, or for one batch of a few hundred trades.
LOW_DISK_BYTES = 1 << 20
# SQLite checkpoints the WAL by itself only once it holds 1000 pages (4 MiB
# at tradedb's 4 KiB pages); with less free space than that on top of
# LOW_DISK_BYTES, after a disk-full error, the WAL is truncated after each
# commit instead (see Database._give_back_space).
CHECKPOINT_PAGES = 1000
WAL_ROOM = CHECKPOINT_PAGES * 4096 + LOW_DISK_BYTES
# During a copy (Database.bulk), every 64 MiB instead: a copy commits a batch
# of thousands of rows at a time, and each checkpoint wrote back again the
# index pages every batch touches (W1 copy 5% faster; README, The bulk path).
BULK_CHECKPOINT_PAGES = 16384
# What a loaded trade adds to the write-ahead log with its indexes, with room
# to spare (W1: 105 MB for 100,000 trades): a load whose indexes are built at
# its end is one transaction, which the log holds whole until its commit.
BYTES_PER_LOADED_ROW = 2048


def is_disk_full(error: BaseException) -> bool:
    """Whether SQLite (SQLITE_FULL) or the system (ENOSPC, EDQUOT) refused for want of space."""
    if isinstance(error, sqlite3.Error):
        return getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_FULL
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)


def _nearest_folder(path: Path) -> str:
    folder = os.path.dirname(os.path.realpath(path))
    while not os.path.isdir(folder) and folder != os.path.dirname(folder):
        folder = os.path.dirname(folder)
    return folder


def mount_point(path: Path) -> str:
    """The mount point of the file system that holds (or would hold) the file `path`."""
    folder = _nearest_folder(path)
    while not os.path.ismount(folder):
        folder = os.path.dirname(folder)
    return folder


def free_bytes(path: Path) -> int:
    """Bytes a process without root's reserve can still write on the file system holding the file `path`."""
    stats = os.statvfs(_nearest_folder(path))
    return stats.f_bavail * stats.f_frsize


def disk_full(path: Path, outcome: str, advice: str = "free some space there, then retry (no restart needed)") -> DiskFull:
    """A DiskFull naming the file system that holds `path`, its free bytes, and `outcome` (what was written)."""
    try:
        where = f"the file system at {mount_point(path)} (holding {path}) is full: {free_bytes(path)} bytes free"
    except OSError:
        where = f"the file system holding {path} is full"
    return DiskFull(f"{where}; {outcome}: {advice}")


def opening_failed_for_space(path: Path, error: BaseException) -> DiskFull | None:
    """The DiskFull to raise when opening `path` failed with `error` on a full disk, else None."""
    # On a full disk the failure may surface anywhere in opening (yoyo's own
    # tables, a migration, SQLite's -shm file), not always as SQLITE_FULL:
    # creating the -shm file fails as an I/O error (SQLITE_IOERR_SHMSIZE).
    if isinstance(error, DiskFull):
        return error
    causes: list[BaseException] = []
    cause: BaseException | None = error
    while cause is not None and len(causes) < 10:
        causes.append(cause)
        cause = cause.__cause__ or cause.__context__
    if not any(is_disk_full(cause) for cause in causes):
        io_error = any(
            isinstance(cause, sqlite3.Error) and getattr(cause, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_IOERR
            for cause in causes
        )
        try:
            if not (io_error and free_bytes(path) < LOW_DISK_BYTES):
                return None
        except OSError:
            return None
    return disk_full(
        path, f"opening it failed ({type(error).__name__}: {error})", "free some space there, then connect again"
    )


def release_frames(error: BaseException) -> None:
    """Drop the locals of the finished frames in `error`'s traceback and its causes'."""
    # A failed migration leaves yoyo's connection open behind cursors held
    # by those frames' locals (a zombie SQLite closes once they are freed);
    # the traceback would keep the database file open as long as the error
    # lives, which is past gc (measured on a full disk).
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        traceback.clear_frames(cause.__traceback__)
        cause = cause.__cause__ or cause.__context__


def translate(error: sqlite3.Error, busy_timeout: float, path: Path | None = None) -> TradeDBError:
    """The tradedb error for an error SQLite raised (on the database at `path`, when known)."""
    message = str(error)
    if is_disk_full(error):
        if path is None:
            return DiskFull("the disk holding the database is full; nothing was written: free some space, then retry")
        return disk_full(path, "nothing was written")
    if is_busy(error):
        return DatabaseBusy(
            f"the database stayed locked by another writer for busy_timeout={busy_timeout}s; "
            "nothing was written: retry, or connect with a larger busy_timeout"
        )
    if isinstance(error, sqlite3.IntegrityError):
        if message.startswith("UNIQUE constraint failed"):
            return ConflictError(f"{message.split(': ', 1)[-1]} already exists")
        if "cannot change status" in message:
            return InvalidTransition(message)
        raised = _TRIGGER_MESSAGE.match(message)
        if raised:  # a trigger's RAISE: "table.column: what is wrong"
            return ValidationError(raised["column"], raised["reason"])
        if message == "FOREIGN KEY constraint failed":
            # Every foreign key of the schema is a bot_id, which triggers name first, except in a bulk load that
            # dropped them (Session.defer): the same words then.
            return ValidationError("bot_id", "no such bot instance; create the bot first")
        if message.startswith("CHECK constraint failed: "):
            constraint = message.split(": ", 1)[1]
            return ValidationError(constraint, "the database refused the value (see this constraint in sql/sqlite/schema.sql)")
        return ValidationError("database", message)
    return TradeDBError(f"SQLite error: {message}")


# The writer's page cache, at most (SQLite's default is 2 MiB). A large
# transaction (a bulk load) whose changed pages outgrow the cache writes them
# to the WAL before COMMIT, many of them again and again; 32 MiB cut the
# CPU time of inserting 100,000 trades by about a quarter (README,
# Performance). Pages are taken only as a transaction needs them.
WRITER_CACHE_KIB = 32 * 1024


def _open(path: Path, busy_timeout: float, *, reader: bool) -> sqlite3.Connection:
    # isolation_level=None: tradedb issues BEGIN/COMMIT itself, and nothing
    # else opens a transaction behind its back.
    connection = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
    try:
        if reader:
            connection.execute("PRAGMA query_only = ON")
        else:
            (mode,) = connection.execute("PRAGMA journal_mode = WAL").fetchone()
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
            if mode == "wal":
                # From here on the writer waits only in begin_immediate, in its
                # own short naps: once BEGIN IMMEDIATE holds the write lock, a WAL
                # transaction's statements and COMMIT wait for no one. (Other
                # journal modes wait for readers at COMMIT: SQLite's handler stays.)
                connection.execute("PRAGMA busy_timeout = 0")
    except BaseException:
        connection.close()
        raise
    return connection


# A writer waiting for another process's write lock naps this long at
# first, doubling up to the longest nap, each nap jittered by +-50%.
FIRST_NAP, LONGEST_NAP = 0.0005, 0.004


def begin_immediate(session: Session) -> None:
    """BEGIN IMMEDIATE, trying again after short naps while another process writes, up to busy_timeout."""
    # Not SQLite's busy handler: its naps grow to 100 ms, so under steady
    # contention a waiter sleeps through other writers' turns and can wait
    # over a second (measured: bench/README.md, W5).
    deadline, nap = time.monotonic() + session.busy_timeout, FIRST_NAP
    while True:
        try:
            session.connection.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as error:
            if not is_busy(error) or time.monotonic() >= deadline:
                raise
        time.sleep(random.uniform(nap / 2, nap * 1.5))
        nap = min(nap * 2, LONGEST_NAP)


def _in_transaction(session: Session, unit: Callable[..., Result], args: tuple[Any, ...]) -> Result:
    connection = session.connection
    begin_immediate(session)
    try:
        result = unit(session, *args)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return result


def _in_savepoint(session: Session, unit: Callable[..., Result], args: tuple[Any, ...]) -> Result:
    connection = session.connection
    connection.execute("SAVEPOINT tradedb_unit")
    try:
        result = unit(session, *args)
    except BaseException:
        # Some failures (a full disk) make SQLite roll back the whole transaction, savepoints and all.
        if connection.in_transaction:
            connection.execute("ROLLBACK TO tradedb_unit")
            connection.execute("RELEASE tradedb_unit")
        raise
    connection.execute("RELEASE tradedb_unit")
    return result


def _in_snapshot(session: Session, unit: Callable[..., Result], args: tuple[Any, ...]) -> Result:
    # A read of several statements sees one commit, not a mix of two.
    session.connection.execute("BEGIN")
    try:
        return unit(session, *args)
    finally:
        session.connection.execute("COMMIT")


def _execute(session: Session, sql: str) -> None:
    session.connection.execute(sql)


def _identity(path: Path) -> tuple[int, int] | None:
    """The file at `path` (device, inode), None when there is none."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _data_version(session: Session) -> int:
    return int(session.connection.execute("PRAGMA data_version").fetchone()[0])


def _commit(session: Session) -> None:
    session.connection.execute("COMMIT")


def _truncate_wal(session: Session) -> bool:
    """Copy the whole WAL into the database and truncate it to nothing; whether that was done."""
    try:
        (busy, _, _) = session.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.Error:
        # Still no room to grow the database by the pages it would copy back.
        return False
    # Busy: another connection is reading from the WAL.
    return bool(busy == 0)


def _undo_savepoint(session: Session, name: str) -> None:
    # Gone already when SQLite rolled back the whole transaction (a full disk).
    if session.connection.in_transaction:
        session.connection.execute(f"ROLLBACK TO {name}")
        session.connection.execute(f"RELEASE {name}")


def _rollback_if_open(session: Session) -> None:
    if session.connection.in_transaction:
        session.connection.execute("ROLLBACK")


def copy_database(source: Path, dest: Path, busy_timeout: float) -> None:
    """Copy the live database at `source` to the new file `dest` with SQLite's online backup."""
    # Written under a temporary name and renamed at the end, so `dest` is
    # either a whole, checked copy or absent, even if the process dies.
    # A short name of its own: whatever name `dest` has, this one fits beside it.
    partial = dest.with_name(f".tradedb-backup-{uuid.uuid4().hex}.partial")
    try:
        reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=rw", uri=True, timeout=busy_timeout)
        try:
            target = sqlite3.connect(partial, isolation_level=None)
            try:
                # pages=-1 copies every page in one step, inside one read
                # transaction: a consistent snapshot of the last commit. In
                # WAL mode writers carry on meanwhile.
                reader.backup(target, pages=-1)
                # A self-contained file: no -wal or -shm needed to open it.
                target.execute("PRAGMA journal_mode = DELETE")
                problems = [row[0] for row in target.execute("PRAGMA quick_check")]
            finally:
                target.close()
        finally:
            reader.close()
        if problems != ["ok"]:
            raise TradeDBError(f"the copy of {source} failed its quick_check ({'; '.join(problems[:5])}); nothing was kept")
        # Never os.replace: that would put the copy over whatever has the name by now (the database itself, once).
        publish(partial, dest, database=source)
    finally:
        partial.unlink(missing_ok=True)


def restore_database(backup: Path, dest: Path, busy_timeout: float) -> None:
    """Make the live database at `dest` a copy of `backup` again, through SQLite (safe in WAL mode)."""
    source = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(f"{dest.resolve().as_uri()}?mode=rw", uri=True, timeout=busy_timeout)
        try:
            source.backup(target, pages=-1)
        finally:
            target.close()
    finally:
        source.close()


class _Worker:
    """One aiosqlite connection and the Session that lives in its thread."""

    def __init__(self, path: Path, busy_timeout: float, *, reader: bool) -> None:
        self.session: Session | None = None

        def connector() -> sqlite3.Connection:
            connection = _open(path, busy_timeout, reader=reader)
            self.session = Session(connection, busy_timeout, path)
            return connection

        self.connection = aiosqlite.Connection(connector, iter_chunk_size=64)

    async def run(self, function: Callable[..., Result], *args: Any) -> Result:
        # aiosqlite has no public call that runs a function in its thread;
        # _execute is that call (stable across 0.17-0.22; pinned in pyproject).
        return await self.connection._execute(function, self.session, *args)  # type: ignore[no-untyped-call,no-any-return]


class Database:
    """An open SQLite database file, shared by every coroutine of one process."""

    dialect = "sqlite"

    def __init__(self, path: Path, busy_timeout: float) -> None:
        self.path: Path = path
        self.busy_timeout = busy_timeout
        self._writer = _Worker(path, busy_timeout, reader=False)
        self._reader = _Worker(path, busy_timeout, reader=True)
        self._write_lock = asyncio.Lock()
        self._closing = False
        self._owner: asyncio.Task[Any] | None = None
        self._savepoints = 0
        # Swapped, rather than checked on every write: after a disk-full error
        # until the WAL is truncated (see _give_back_space), and while the
        # caller's transaction() block outlives a rollback SQLite did itself.
        self._unit: Callable[..., Any] = _in_transaction
        self._nested: Callable[..., Any] = _in_savepoint
        self._finish: Callable[[Session], None] = _commit

    @property
    def location(self) -> str:
        """The database file's path."""
        return str(self.path)

    def default_backup_path(self) -> Path:
        """backups/<name>-<UTC timestamp>.db beside the database."""
        from .migrations import default_backup_path  # migrations imports this module

        return default_backup_path(self.path)

    async def open(self) -> None:
        """Open both connections (the writer first: it switches the file to WAL)."""
        if sqlite3.sqlite_version_info < OLDEST_SQLITE:
            raise TradeDBError(
                f"tradedb needs SQLite {'.'.join(map(str, OLDEST_SQLITE))} or newer (its queries use FILTER and "
                f"ON CONFLICT); this Python's sqlite3 module uses SQLite {sqlite3.sqlite_version}: "
                "use a Python built with a newer SQLite"
            )
        try:
            await self._writer.connection
            await self._reader.connection
        except sqlite3.Error as error:
            await self.close()
            raise translate(error, self.busy_timeout, self.path) from error

    async def close(self) -> None:
        """Close both connections; safe to call twice."""
        self._closing = True
        for worker in (self._reader, self._writer):
            if worker.session is not None:
                await worker.connection.close()
                worker.session = None

    def _owns_transaction(self) -> bool:
        return self._owner is not None and self._owner is asyncio.current_task()

    async def _call(self, worker: _Worker, function: Callable[..., Result], *args: Any) -> Result:
        if worker.session is None:
            raise TradeDBError("the repository is closed; open a new one with tradedb.connect()")
        try:
            return await worker.run(function, *args)
        except ValueError as error:
            if isinstance(error, TradeDBError) or not self._closing:
                raise
            # aiosqlite's "Connection closed": close() ran while this call waited for the connection's thread.
            raise TradeDBError("the repository was closed meanwhile; open a new one with tradedb.connect()") from None
        except sqlite3.Error as error:
            if self._closing and "closed database" in str(error):
                raise TradeDBError("the repository was closed meanwhile; open a new one with tradedb.connect()") from None
            if is_disk_full(error):
                full = await self._out_of_space(worker)
                raise full from error
            raise translate(error, self.busy_timeout, self.path) from error
        except InvalidOperation as error:
            # Units of work compute with stored amounts the schema's CHECKs
            # vouch for; one that does not read as a number was damaged or
            # edited past them. The unit's transaction was rolled back.
            raise DatabaseDamaged(
                f"a stored amount in {self.path} does not read as a number; nothing was written. "
                "The file is damaged or was edited past its checks: `tradedb status --full` finds the rows; "
                "restore a backup or correct them"
            ) from error

    async def _out_of_space(self, worker: _Worker) -> DiskFull:
        """The DiskFull for a call that failed for want of space, once the WAL gave back what it could."""
        if worker is self._reader:
            return disk_full(self.path, "nothing was written (this was a read: SQLite needs room for its -shm file)")
        if not self._owns_transaction():
            # The unit's transaction has been rolled back (_in_transaction).
            # Its free bytes are as they were when it failed.
            full = disk_full(self.path, "nothing was written (the transaction was rolled back)")
            await self._give_back_space()
            return full
        assert worker.session is not None
        if worker.session.connection.in_transaction:
            return disk_full(
                self.path, "this call wrote nothing; the transaction is still open, its earlier writes not yet committed"
            )
        # SQLite rolled the whole transaction back itself. What the caller's
        # block does next must not be committed as if it were part of it.
        self._nested, self._finish = self._refuse_rolled_back, self._refuse_rolled_back
        return disk_full(
            self.path,
            "SQLite rolled back the whole transaction, so nothing of it was written (later writes in the block are "
            "refused)",
            "free some space there, then run the transaction again",
        )

    def _refuse_rolled_back(self, session: Session, *args: Any) -> Any:
        raise disk_full(
            self.path,
            "this transaction was rolled back when the disk filled, so nothing of it is written, nor is this",
            "leave the `async with repo.transaction()` block, free some space there, then run it again",
        )

    async def _give_back_space(self) -> None:
        """Truncate the WAL; while the disk is too full for that, try again after each commit until it works."""
        # A WAL is only reused from its start after a checkpoint, and only
        # shrinks when truncated: on a small disk it keeps the space it took,
        # and refills what is freed, long before SQLite's own checkpoint
        # (measured: 36 of 50 writes failed again after 1 MB was freed).
        # Truncating needs room to grow the database by the pages it copies
        # back, so on a full disk it fails until some space is freed.
        self._truncating(not await self._writer.run(self._wal_truncated_with_room))

    def _wal_truncated_with_room(self, session: Session) -> bool:
        """Truncate the WAL; whether that worked and the disk has room for the WAL to grow until SQLite's checkpoint."""
        try:
            return _truncate_wal(session) and free_bytes(self.path) >= WAL_ROOM
        except OSError:
            return False

    def _truncating(self, on: bool) -> None:
        self._unit = self._in_transaction_then_truncate if on else _in_transaction
        self._finish = self._commit_then_truncate if on else _commit

    def _in_transaction_then_truncate(self, session: Session, unit: Callable[..., Result], args: tuple[Any, ...]) -> Result:
        result = _in_transaction(session, unit, args)
        self._truncating(not self._wal_truncated_with_room(session))
        return result

    def _commit_then_truncate(self, session: Session) -> None:
        _commit(session)
        self._truncating(not self._wal_truncated_with_room(session))

    async def _take_write_turn(self) -> None:
        """Wait for this repository's writer, at most busy_timeout; release it with _write_lock.release()."""
        if not self._write_lock.locked():  # no timer when there is no wait: it would cost on every write
            await self._write_lock.acquire()
            return
        try:
            async with asyncio.timeout(self.busy_timeout):
                await self._write_lock.acquire()
        except TimeoutError:
            raise DatabaseBusy(
                f"another coroutine held this repository's write transaction for over "
                f"busy_timeout={self.busy_timeout}s; nothing was written: retry, or keep transactions short"
            ) from None

    async def write(self, unit: Callable[..., Result], *args: Any) -> Result:
        """Run unit(session, *args) as one write transaction, or in the caller's open one."""
        if self._owns_transaction():
            return await self._call(self._writer, self._nested, unit, args)
        await self._take_write_turn()
        try:
            return await self._call(self._writer, self._unit, unit, args)
        finally:
            self._write_lock.release()

    async def read(self, unit: Callable[..., Result], *args: Any) -> Result:
        """Run unit(session, *args) on the last commit, or in the caller's open transaction."""
        if self._owns_transaction():
            return await self._call(self._writer, unit, *args)
        return await self._call(self._reader, _in_snapshot, unit, args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Group writes atomically; nested use makes a savepoint."""
        if self._owns_transaction():
            self._savepoints += 1
            name = f"tradedb_nested_{self._savepoints}"
            await self._call(self._writer, _execute, f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                await self._call(self._writer, _undo_savepoint, name)
                raise
            finally:
                self._savepoints -= 1
            await self._call(self._writer, _execute, f"RELEASE {name}")
            return
        await self._take_write_turn()
        try:
            try:
                await self._call(self._writer, begin_immediate)
            except asyncio.CancelledError:
                # The writer's thread may still be waiting to begin, and may
                # then begin: end that transaction before handing the writer on.
                await asyncio.shield(self._call(self._writer, _rollback_if_open))
                raise
            self._owner = asyncio.current_task()
            try:
                yield
                await self._call(self._writer, self._finish)
            except BaseException as error:
                self._nested, self._finish = _in_savepoint, (
                    _commit if self._unit is _in_transaction else self._commit_then_truncate
                )
                await self._call(self._writer, _rollback_if_open)
                if isinstance(error, DiskFull):
                    full = disk_full(self.path, "the transaction was rolled back: nothing of it was written")
                    await self._give_back_space()
                    raise full from error
                raise
            finally:
                self._owner = None
        finally:
            self._write_lock.release()

    @asynccontextmanager
    async def bulk(self) -> AsyncIterator[None]:
        """Many large write transactions in a row (a copy): the WAL is checkpointed less often meanwhile.

        Not when the disk is short of room for the longer WAL (nor once a
        full disk made every commit truncate it): then as usual.
        """
        try:
            roomy = self._unit is _in_transaction and free_bytes(self.path) >= BULK_CHECKPOINT_PAGES * 4096 + WAL_ROOM
        except OSError:
            roomy = False
        if not roomy:
            yield
            return
        try:
            await self._call(self._writer, _execute, f"PRAGMA wal_autocheckpoint = {BULK_CHECKPOINT_PAGES}")
            yield
        except BaseException:
            # Back as it was, even after a cancel (the PRAGMA may have run) or an error, which stays the one raised.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._call(self._writer, _execute, f"PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}"))
            raise
        await self._call(self._writer, _execute, f"PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}")

    async def changes(self, interval: float) -> AsyncIterator[int]:
        """Yield a counter each time a commit by any other connection lands, checked every `interval` seconds.

        PRAGMA data_version on the reader: SQLite bumps it when another
        connection (this process's writer included) commits, and reading it
        costs no I/O, so polling it is cheap.
        """
        last = await self._call(self._reader, _data_version)
        opened = _identity(self.path)
        seen = 0
        while True:
            await asyncio.sleep(interval)
            if _identity(self.path) != opened:
                # Commits to a new file at this path never reach the one held open: say so, do not go quiet.
                raise TradeDBError(
                    f"{self.path} was deleted or replaced while open: this process still reads the old file; "
                    "restart it to open the file there now"
                )
            version = await self._call(self._reader, _data_version)
            if version != last:
                last, seen = version, seen + 1
                yield seen

    async def inspect(self, unit: Callable[..., Result], *args: Any) -> Result:
        """Run unit(session, *args) on the reader, each statement on its own (no snapshot around them)."""
        # For health checks: on a damaged file a snapshot's COMMIT can fail
        # after every check has been caught and reported, and raise after all.
        return await self._call(self._reader, unit, *args)

    async def backup(self, dest: Path) -> None:
        """Copy the last commit to the new file `dest` (SQLite's online backup), in a thread of its own."""
        if self._writer.session is None:
            raise TradeDBError("the repository is closed; open a new one with tradedb.connect()")
        # Its own connection and thread: neither this process's writes nor
        # its reads wait while the pages are copied.
        try:
            await asyncio.to_thread(copy_database, self.path, dest, self.busy_timeout)
        except sqlite3.OperationalError as error:
            if is_disk_full(error):
                raise _backup_disk_full(dest) from error
            if "unable to open" not in str(error):
                raise translate(error, self.busy_timeout) from error
            raise TradeDBError(f"cannot write the backup {dest}: {error}; choose a writable folder") from error
        except sqlite3.Error as error:
            raise translate(error, self.busy_timeout) from error
        except OSError as error:
            if not is_disk_full(error):
                raise
            raise _backup_disk_full(dest) from error


def _backup_disk_full(dest: Path) -> DiskFull:
    # copy_database has removed its partial file by now.
    return disk_full(dest, f"no backup was written ({dest} was not created)", "free some space there, or back up elsewhere")
