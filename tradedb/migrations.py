"""Schema versions: which migrations a database has, applying the missing ones, and the schema they produce.

Applying runs yoyo's migrations on a connection tradedb opens, one process
(and one thread) at a time: under SQLite's write lock a run checks yoyo's
lock row, takes over one whose process is gone, and writes its own, so other
tradedb processes and yoyo's CLI wait for it. The pending transactional
migrations of a run are applied and recorded in ONE transaction (pending
re-read inside it): a failure, or a process killed at any moment, leaves all
of them applied and recorded or none.

Bots already connected keep writing during a run, so the backup of a
database that holds data (SQLite's online backup, taken before any
migration touches it) is never copied back over their commits: a failed
transactional run is simply rolled back. Only a migration marked
`-- transactional: false` can leave changes behind on failure; the backup is
then restored only if no other connection has committed since it was taken
(PRAGMA data_version), and otherwise the error says what was kept and what
to run.

Synchronous (yoyo is); the async callers run these with asyncio.to_thread.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from yoyo import get_backend, read_migrations
from yoyo import internalmigrations
from yoyo.backends.core.sqlite3 import SQLiteBackend
from yoyo.connections import parse_uri
from yoyo.migrations import MigrationList, default_migration_table, topological_sort

from .database import SchemaState
from .errors import DatabaseDamaged, MigrationError, TradeDBError
from .queries import QUERIES
from .resources import resource_dir
from .schema import Difference, Schema, differences, read_schema
from .sqlite import Session, copy_database, is_busy, restore_database
from .values import utc_now

log = logging.getLogger("tradedb.migrations")

COUNT_USER_TABLES = QUERIES["count_user_tables"]
HAS_MIGRATION_TABLE = QUERIES["has_yoyo_migration_table"]
APPLIED_IDS = QUERIES["applied_migration_ids"]
HAS_TABLE = QUERIES["has_table"]
LOCK_HOLDER = QUERIES["migration_lock_holder"]
TAKE_LOCK = QUERIES["take_migration_lock"]
RELEASE_LOCK = QUERIES["release_migration_lock"]
CLEAR_LOCK = QUERIES["clear_migration_lock"]

# Seconds a run waits (at least; busy_timeout if longer) for another
# process's migration to finish before giving up with MigrationError.
MIGRATION_WAIT = 60.0
LOCK_POLL = 0.05  # seconds between looks at a lock held by a live process
# One run at a time in this process: yoyo swaps sqlite3's global datetime
# adapters while it runs, and the lock row names a process, not a thread.
_RUN_LOCK = threading.Lock()


@dataclass(frozen=True)
class MigrationRun:
    """What applying migrations did: the ids applied, and the backup taken first (None for a new database)."""

    applied: list[str]
    backup: Path | None


def migrations_folder() -> Path:
    """The folder of this version's migrations."""
    return resource_dir("migrations") / "sqlite"


def known_migrations(*, loaded: bool = False) -> MigrationList:
    """This version's migrations, from migrations/ (read once while the files stay the same); `loaded`: parsed and ordered."""
    folder = migrations_folder()
    try:
        migrations = _read_migrations(str(folder), _files_key(folder))
        if loaded:
            # yoyo parses a file with sqlparse when loading it (about 0.1 s
            # for this project's two): only to migrate, once per process.
            list(topological_sort(migrations))  # a dependency yoyo cannot resolve fails here, not mid-run
        return migrations
    except Exception as error:  # yoyo's own exceptions never reach tradedb's callers
        raise MigrationError(
            f"cannot read the migrations in {folder} ({type(error).__name__}: {error}); reinstall tradedb"
        ) from error


def _files_key(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """What identifies the folder's current files: a changed or added migration reads them again."""
    return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir() if p.is_file()))


@functools.lru_cache(maxsize=16)
def _read_migrations(folder: str, files: tuple[tuple[str, int, int], ...]) -> MigrationList:
    return read_migrations(folder)


def default_backup_path(database: Path, note: str = "") -> Path:
    """backups/<name>-<UTC timestamp>[-note].db in the database's own folder."""
    # Microseconds, so two backups in the same second get different names.
    stamp = utc_now().strftime("%Y%m%dT%H%M%S.%fZ")
    suffix = f"-{note}" if note else ""
    return database.parent / "backups" / f"{database.stem}-{stamp}{suffix}.db"


def applied_ids(session: Session) -> list[str]:
    """Ids of the migrations applied to the session's database, oldest first."""
    if not session.one(HAS_MIGRATION_TABLE, {})[0]:
        return []
    return [row[0] for row in session.many(APPLIED_IDS, {})]


LOOKING_TIMEOUT = 5.0  # seconds a read-only look at a database waits for a lock


def _open_looking(path: Path) -> sqlite3.Connection:
    # mode=ro: looking must never write, not even yoyo's bookkeeping tables.
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=LOOKING_TIMEOUT)
    try:
        # A first read: it finds a hot journal, which this connection cannot roll back.
        connection.execute("PRAGMA schema_version").fetchall()
    except BaseException:
        connection.close()
        raise
    return connection


def _roll_back_hot_journal(path: Path) -> None:
    """Let SQLite roll back the transaction a killed process left in the rollback journal (a read does it)."""
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=LOOKING_TIMEOUT)
    try:
        connection.execute("PRAGMA schema_version").fetchall()
    finally:
        connection.close()
    log.warning("%s-journal held the unfinished transaction of a killed process: it was rolled back", path)


@contextmanager
def _looking(path: Path) -> Iterator[Session]:
    try:
        try:
            connection = _open_looking(path)
        except sqlite3.OperationalError as error:
            # A read-only connection cannot roll back a hot journal; any
            # read-write open would, so this restores the last commit.
            if getattr(error, "sqlite_errorname", "") != "SQLITE_READONLY_ROLLBACK":
                raise
            try:
                _roll_back_hot_journal(path)
            except sqlite3.Error as again:
                raise TradeDBError(
                    f"{path} has an unfinished transaction in {path.name}-journal, left by a killed process, and "
                    f"rolling it back failed ({again}): let a user who may write {path.parent} open it once "
                    f"(sqlite3 {path} 'PRAGMA quick_check')"
                ) from again
            connection = _open_looking(path)
    except sqlite3.Error as error:
        raise _cannot_read(path, error) from error
    try:
        yield Session(connection, LOOKING_TIMEOUT)
    except sqlite3.DatabaseError as error:
        raise _cannot_read(path, error) from error
    finally:
        connection.close()


def _cannot_read(path: Path, error: sqlite3.Error) -> TradeDBError:
    if "not a database" in str(error):
        return TradeDBError(f"{path} is not a SQLite database ({error}); check the path")
    if is_busy(error):
        return TradeDBError(
            f"cannot read {path}: another process kept it locked for over {LOOKING_TIMEOUT:g}s ({error}); retry"
        )
    if getattr(error, "sqlite_errorname", "") == "SQLITE_CORRUPT":
        return DatabaseDamaged(
            f"{path} is damaged ({error}): a truncated or overwritten file. Stop every bot, then restore a backup "
            f"(sqlite3 {path} \".restore BACKUP\"), or save what can be read with sqlite3 {path} .recover"
        )
    # For example a WAL database in a folder this user cannot write: reading needs its -shm file.
    return TradeDBError(f"cannot read {path}: {error}; check the file's and its folder's permissions")


def applied_migration_ids(path: Path) -> list[str]:
    """Ids of the migrations applied to the database at `path`, read without writing to it."""
    if not path.exists():
        return []
    with _looking(path) as session:
        return applied_ids(session)


def has_data(path: Path) -> bool:
    """Whether the database at `path` exists and has tables of its own (not only yoyo's)."""
    if not path.exists():
        return False
    with _looking(path) as session:
        return bool(session.one(COUNT_USER_TABLES, {})[0])


def state_of(applied: list[str]) -> SchemaState:
    """Compare applied migration ids with the known ones."""
    known = [migration.id for migration in known_migrations()]
    return SchemaState(
        applied=applied,
        pending=[m for m in known if m not in applied],
        unknown=[m for m in applied if m not in known],
    )


def schema_state(path: Path) -> SchemaState:
    """Compare the database's applied migrations with the known ones."""
    return state_of(applied_migration_ids(path))


def refuse_unknown(path: Path, state: SchemaState) -> None:
    """Raise MigrationError for a database written by a newer tradedb."""
    if state.unknown:
        raise MigrationError(
            f"{path} has migration(s) {', '.join(state.unknown)} applied, which this version of tradedb "
            "does not know: it was written by a newer tradedb. Upgrade tradedb; the database was not touched."
        )


def prepare(path: Path, *, migrate: bool, busy_timeout: float = 5.0) -> SchemaState:
    """Make sure the database at `path` has this version's schema, applying migrations if `migrate`, and is in WAL mode."""
    state, mode, locked = _look(path)
    refuse_unknown(path, state)
    if state.pending and not migrate:
        raise MigrationError(
            f"{path} lacks migration(s) {', '.join(state.pending)}: apply them with `tradedb migrate`, "
            "`yoyo apply`, or connect(..., migrate=True)"
        )
    # A lock row means a run is under way (wait for it) or was killed (take its lock over).
    if state.pending or (locked and migrate):
        apply_migrations(path, busy_timeout)
        state, mode, locked = _look(path)
        refuse_unknown(path, state)
        if state.pending:
            raise MigrationError(f"{path}: migration(s) {', '.join(state.pending)} were applied but are not recorded")
    if mode != "wal":
        use_wal(path, max(busy_timeout, MIGRATION_WAIT))
    return state


def _look(path: Path) -> tuple[SchemaState, str | None, bool]:
    """The database's schema state, its journal mode (None for no file yet), and whether yoyo's lock row is there."""
    if not path.exists():
        return state_of([]), None, False
    with _looking(path) as session:
        mode = session.connection.execute("PRAGMA journal_mode").fetchone()[0]
        locked = bool(session.one(HAS_TABLE, {"table_name": "yoyo_lock"})[0]) and session.one(LOCK_HOLDER, {}) is not None
        return state_of(applied_ids(session)), str(mode), locked


WAL_NAP = 0.002  # seconds, jittered, between tries to switch to WAL while others read


def use_wal(path: Path, wait: float) -> None:
    """Switch the database to WAL mode, trying again while other connections read it, up to `wait` seconds."""
    # SQLite refuses the switch at once (no busy handler) while another
    # connection reads; bots starting together all read while one switches.
    deadline = time.monotonic() + wait
    try:
        connection = sqlite3.connect(path, timeout=wait, isolation_level=None)
        try:
            while True:
                try:
                    connection.execute("PRAGMA journal_mode = WAL").fetchall()
                    return
                except sqlite3.OperationalError as error:
                    if not is_busy(error) or time.monotonic() >= deadline:
                        raise
                time.sleep(random.uniform(WAL_NAP / 2, WAL_NAP * 1.5))
        finally:
            connection.close()
    except sqlite3.Error as error:
        advice = f"other processes kept reading it for over {wait:g}s: retry" if is_busy(error) else (
            f"check the permissions of {path} and its folder"
        )
        raise TradeDBError(f"could not switch {path} to WAL mode ({error}); it is unchanged: {advice}") from error


def apply_pending(path: Path) -> list[str]:
    """Apply every pending migration (backing up a database with data first); the ids applied."""
    return apply_migrations(path).applied


class _Backend(SQLiteBackend):  # type: ignore[misc]
    """yoyo's SQLite backend on a connection tradedb opened, so that tradedb decides where transactions begin and end."""

    def __init__(self, connection: sqlite3.Connection, path: Path | None = None) -> None:
        self._given = connection
        self.connection_path = path
        super().__init__(parse_uri("sqlite:///tradedb.db"), default_migration_table)

    def connect(self, dburi: Any) -> sqlite3.Connection:
        """The connection given: yoyo opens none of its own."""
        return self._given


def _steps(backend: _Backend, migration: Any, direction: str) -> None:
    """Run a migration's steps ("apply" or "rollback"): in the open transaction, or on their own if it has none."""
    migration.load()
    # yoyo nests its transactions in savepoints of ours; a migration marked
    # `-- transactional: false` runs with none open.
    backend._in_transaction = backend.connection.in_transaction
    try:
        migration.process_steps(backend, direction)
    finally:
        backend._in_transaction = False


@contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception; waits for other writers up to the connection's timeout."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def expected_schema(applied: Sequence[str]) -> Schema:
    """The schema the migrations `applied` produce, built by running them on an empty in-memory database."""
    return _expected_schema(known_migrations(loaded=True), frozenset(applied))


@functools.lru_cache(maxsize=32)
def _expected_schema(known: MigrationList, wanted: frozenset[str]) -> Schema:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    try:
        backend = _Backend(connection)
        for migration in topological_sort(m for m in known if m.id in wanted):
            migration.load()
            if migration.use_transactions:
                with _transaction(connection):
                    _steps(backend, migration, "apply")
            else:
                _steps(backend, migration, "apply")
        return read_schema(connection)
    finally:
        connection.close()


def schema_problems(session: Session, applied: Sequence[str]) -> list[str]:
    """How the session's schema differs from what its applied migrations produce: one line per object."""
    return [found.text for found in differences(read_schema(session.connection), expected_schema(applied))]


def _process_exists(pid: int) -> bool:
    """Whether a process with this id runs on this host (a zombie does not: it has exited)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    except (OSError, OverflowError):
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _holder(session: Session) -> tuple[int | None, str] | None:
    """The process named by yoyo's lock row (None if the row names none), and since when; None without a row."""
    row = session.one(LOCK_HOLDER, {})
    if row is None:
        return None
    pid, since = row
    return (pid if isinstance(pid, int) else None), str(since)


def _take_run_lock(path: Path, backend: _Backend, migrations: MigrationList, wait: float) -> bool:
    """Wait for other runs, take over a lock whose process is gone, and hold yoyo's lock if anything is pending."""
    deadline = time.monotonic() + wait
    while True:
        with _transaction(backend.connection):
            holder = _look_at_lock(backend)
            if holder is None:
                if not backend.to_apply(migrations):
                    return False
                ctime = datetime.now(timezone.utc).replace(tzinfo=None).isoformat()
                Session(backend.connection, 0.0).exec(TAKE_LOCK, {"pid": os.getpid(), "ctime": ctime})
                return True
        pid, since = holder
        if time.monotonic() >= deadline:
            raise MigrationError(
                f"process {pid} has been migrating {path} since {since} UTC (it holds yoyo's lock) and "
                f"did not finish within {wait:g}s. Retry when it is done; if no tradedb or yoyo process "
                f"{pid} is migrating this file, remove the lock with "
                f"`yoyo break-lock --database sqlite:///{path.resolve()}` and retry"
            )
        time.sleep(LOCK_POLL)


def _look_at_lock(backend: _Backend) -> tuple[int, str] | None:
    """In the open transaction: make yoyo's tables, drop a lock whose process is gone; the live holder, if any."""
    session = Session(backend.connection, 0.0)
    backend._in_transaction = True  # yoyo's own transactions become savepoints of ours
    try:
        if not session.one(HAS_TABLE, {"table_name": backend.lock_table})[0]:
            backend.create_lock_table()
        if internalmigrations.needs_upgrading(backend):
            internalmigrations.upgrade(backend)
        # yoyo's tables are in place: its own check would take its lock and commit our transaction.
        backend._internal_schema_updated = True
    finally:
        backend._in_transaction = False
    holder = _holder(session)
    if holder is None:
        return None
    pid, since = holder
    # Only one run at a time in this process (_RUN_LOCK): a row with our own pid is not ours.
    if pid is not None and pid != os.getpid() and _process_exists(pid):
        return pid, since
    log.warning(
        "took over the migration lock of %s: process %s, which took it at %s UTC, no longer exists",
        backend.connection_path, pid, since,
    )
    session.exec(CLEAR_LOCK, {})
    return None


def _release_run_lock(path: Path, connection: sqlite3.Connection) -> None:
    try:
        with _transaction(connection):
            Session(connection, 0.0).exec(RELEASE_LOCK, {"pid": os.getpid()})
    except sqlite3.Error as error:
        # The next run takes the lock over once this process has exited.
        log.warning("could not remove this process's migration lock from %s (%s)", path, error)


def _forget_lock(backup: Path) -> None:
    """Remove this run's lock row from its backup: a restored backup must not look locked."""
    connection = sqlite3.connect(backup, isolation_level=None)
    try:
        Session(connection, 0.0).exec(RELEASE_LOCK, {"pid": os.getpid()})
    finally:
        connection.close()


def apply_migrations(path: Path, busy_timeout: float = 5.0) -> MigrationRun:
    """Apply every pending migration, one run at a time, backing up first a database that has data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    migrations = known_migrations(loaded=True)
    wait = max(busy_timeout, MIGRATION_WAIT)
    if not _RUN_LOCK.acquire(timeout=wait):
        raise MigrationError(
            f"another thread of this process has been migrating for over {wait:g}s; {path} was not touched: retry"
        )
    try:
        try:
            connection = sqlite3.connect(path, timeout=wait, isolation_level=None)
        except sqlite3.Error as error:
            raise TradeDBError(f"cannot open {path}: {error}; check the path and its folder's permissions") from error
        # yoyo's datetime adapters are registered only while it runs; leaving the block closes the connection.
        with _Backend(connection, path) as backend:
            try:
                if not _take_run_lock(path, backend, migrations, wait):
                    return MigrationRun([], None)
            except TradeDBError:
                raise
            except Exception as error:
                raise _not_started(path, error, wait) from error
            try:
                return _apply_all(path, backend, migrations, busy_timeout)
            except TradeDBError:
                raise
            except Exception as error:  # before the first migration began: _apply_all wraps the rest
                raise _not_started(path, error, wait) from error
            finally:
                _release_run_lock(path, connection)
    finally:
        _RUN_LOCK.release()


def _not_started(path: Path, error: Exception, wait: float) -> TradeDBError:
    """The error for a run that failed before migrating anything (its transaction was rolled back)."""
    if "not a database" in str(error):
        return TradeDBError(f"{path} is not a SQLite database ({error}); check the path")
    if is_busy(error):
        return MigrationError(
            f"could not start migrating {path}: another process kept it locked for over {wait:g}s ({error}); "
            "nothing was changed: retry"
        )
    return MigrationError(
        f"could not start migrating {path} ({type(error).__name__}: {error}); nothing was changed: "
        "retry, and if it fails again check the file with `tradedb status`"
    )


def _apply_all(path: Path, backend: _Backend, migrations: MigrationList, busy_timeout: float) -> MigrationRun:
    connection = backend.connection
    session = Session(connection, busy_timeout)
    pending = backend.to_apply(migrations)
    ids = [migration.id for migration in pending]
    # A schema that cannot be migrated is refused before a backup is taken,
    # so that retrying does not add a backup each time.
    _in_place_unrecorded(path, backend, pending)
    # Read before the backup: a later change means another connection
    # committed after this point, maybe after the backup, so restoring it
    # could lose that commit (this connection's own commits do not count).
    version = _data_version(connection)
    backup = None
    try:
        if session.one(COUNT_USER_TABLES, {})[0]:
            backup = default_backup_path(path, f"before-{ids[0]}")
            backup.parent.mkdir(parents=True, exist_ok=True)
            copy_database(path, backup, busy_timeout)
            _forget_lock(backup)
            log.info("backed up %s to %s before applying migration(s)", path, backup)
    except (OSError, sqlite3.Error, TradeDBError) as error:
        raise MigrationError(
            f"could not back up {path} before migrating it ({error}); nothing was migrated: "
            f"free space or fix the permissions of {path.parent / 'backups'}, and retry"
        ) from error
    log.info("applying migration(s) %s to %s", ", ".join(ids), path)
    done: list[Any] = []  # committed by this run
    while True:
        try:
            applied = _apply_next(path, backend, migrations)
        except _Failed as failure:
            outcome = _undo(path, backend, failure.migration, done, backup, version, busy_timeout)
            raise MigrationError(
                f"migration {failure.migration.id} failed on {path}: {failure.error}. {outcome}"
            ) from failure.error
        if not applied:
            break
        done.extend(applied)
    for hook in pending.post_apply:
        _steps(backend, hook, "apply")
    return MigrationRun([migration.id for migration in done], backup)


class _Failed(Exception):
    """A migration's statements or record failed (its transaction, if it had one, is rolled back)."""

    def __init__(self, migration: Any, error: Exception) -> None:
        super().__init__(str(error))
        self.migration = migration
        self.error = error


def _data_version(connection: sqlite3.Connection) -> int:
    """SQLite's count that changes whenever another connection commits to the database."""
    return int(connection.execute("PRAGMA data_version").fetchone()[0])


def _apply_next(path: Path, backend: _Backend, migrations: MigrationList) -> list[Any]:
    """Apply and record the next pending migrations: all transactional ones up to the next non-transactional
    one, in one transaction; or that non-transactional one alone. The migrations recorded ([] if none pending)."""
    connection = backend.connection
    done: list[Any] = []
    with _transaction(connection):
        # Pending is read again under the write lock: another run (one that
        # took this run's lock over by mistake) may have applied some already.
        todo = list(backend.to_apply(migrations))
        if todo and not todo[0].use_transactions:
            # Only to refuse a damaged or half-migrated schema: such a migration is never taken as in place.
            _in_place_unrecorded(path, backend, todo)
        while todo and todo[0].use_transactions:
            in_place = _in_place_unrecorded(path, backend, todo)
            if in_place:
                log.warning(
                    "%s already has the schema of migration(s) %s, but they were not recorded (an interrupted run "
                    "of an earlier tradedb left it so): recorded them as applied",
                    path, ", ".join(m.id for m in in_place),
                )
            batch = in_place or todo[:1]  # the unrecorded ones already in place are only recorded
            for migration in batch:
                try:
                    if not in_place:
                        _steps(backend, migration, "apply")
                    _record(backend, migration)
                except Exception as error:  # leaving the block rolls back every migration of this transaction
                    raise _Failed(migration, error) from error
                done.append(migration)
            todo = todo[len(batch):]
        if done or not todo:
            return done
    # Its statements commit one by one; the lock row keeps other runs out meanwhile.
    migration = todo[0]
    try:
        _steps(backend, migration, "apply")
        with _transaction(connection):
            _record(backend, migration)
    except Exception as error:
        raise _Failed(migration, error) from error
    return [migration]


def _record(backend: _Backend, migration: Any) -> None:
    backend.log_migration(migration, "apply")
    backend.mark_one(migration, log=False)


def _in_place_unrecorded(path: Path, backend: _Backend, pending: Sequence[Any]) -> list[Any]:
    """The first pending migrations whose schema is already there, unrecorded; MigrationError for a schema that is neither."""
    applied = applied_ids(Session(backend.connection, 0.0))
    live = read_schema(backend.connection)
    before = differences(live, expected_schema(applied))
    if not before:
        return []
    # Only a transactional migration is all there once its schema is: its data changes committed with it.
    for count in range(1, len(pending) + 1):
        if not pending[count - 1].use_transactions:
            break
        if not differences(live, expected_schema([*applied, *(m.id for m in pending[:count])])):
            return list(pending[:count])
    after = differences(live, expected_schema([*applied, pending[0].id]))
    left_over = _made_by(after, before)
    if all(found.how == "extra" for found in before) and not left_over:
        return []  # objects of the user's own, beside an intact schema: migrate as usual
    shown: list[Difference] = after if left_over else before
    listed = "; ".join(found.text for found in shown[:10]) + ("; ..." if len(shown) > 10 else "")
    raise MigrationError(
        f"{path} cannot be migrated: its schema is not the one migration(s) {', '.join(applied) or '(none)'} "
        f"produce{f', nor the one {pending[0].id} adds to it' if left_over else ''} ({listed}). It was changed "
        f"by hand, or left half-migrated by an interrupted run of an earlier tradedb. Nothing was changed. "
        f"{_how_to_restore(path)}"
    )


def _how_to_restore(path: Path) -> str:
    """What to run to put a database back: its newest tradedb backup, or starting over."""
    backups = sorted((path.parent / "backups").glob(f"{path.stem}-*.db"))
    start_over = (
        "if the file holds nothing you need, delete it (with its -wal, -shm and -journal files) and connect again"
    )
    if not backups:
        return f"No tradedb backup of it is in {path.parent / 'backups'}: restore one you keep elsewhere, or, {start_over}"
    return (
        f"Restore a backup from before the damage: stop every bot, then run "
        f"sqlite3 {path} \".restore {backups[-1]}\" (the newest in {path.parent / 'backups'}; pick an older one "
        f"if that one has the damage too); or, {start_over}"
    )


def _made_by(after: list[Difference], before: list[Difference]) -> list[Difference]:
    """The objects `before` calls extra that the next migration makes (they are not extra `after` it)."""
    still_extra = {(found.kind, found.name) for found in after if found.how == "extra"}
    return [found for found in before if found.how == "extra" and (found.kind, found.name) not in still_extra]


def _undo(
    path: Path, backend: _Backend, failed: Any, done: list[Any], backup: Path | None, version: int, busy_timeout: float
) -> str:
    """Put the database back as it was before this run when that loses no one's writes; say how, and where the backup is."""
    # A failed transactional migration was rolled back with the others of its
    # transaction; only what earlier transactions committed (there is some
    # only with a non-transactional migration) or a non-transactional one's
    # statements remain.
    changed = bool(done) or not failed.use_transactions
    if backup is None:
        # Without a transaction, the statements of the failed migration that ran stay.
        leftover = "" if failed.use_transactions else (
            f" {failed.id} runs without a transaction, so its statements before the failing one were kept; "
            f"the database held no data before, so delete {path} and retry."
        )
        if not done:
            return leftover.strip() or (
                "It was rolled back with any migration applied before it in this run, so the database holds none "
                "of them (it held no data, so no backup was taken)."
            )
        try:
            for migration in reversed(done):
                with _transaction(backend.connection):
                    _steps(backend, migration, "rollback")
                    backend.log_migration(migration, "rollback")
                    backend.unmark_one(migration, log=False)
        except Exception as error:
            return (
                f"Rolling back {', '.join(m.id for m in done)} failed too ({error}); the database held no data "
                f"before, so delete {path} and retry."
            )
        return (
            f"The migration(s) applied before it in this run ({', '.join(m.id for m in done)}) were rolled back; "
            "the database held no data, so no backup was taken." + leftover
        )
    if not changed:
        return (
            "It was rolled back with any migration applied before it in this run (one transaction), so the "
            f"database is as it was. A backup taken just before is at {backup}."
        )
    kept = ", ".join(
        [f"{', '.join(m.id for m in done)} (applied and recorded)"] * bool(done)
        + [f"the statements of {failed.id} before the failing one (it runs without a transaction)"]
        * (not failed.use_transactions)
    )
    try:
        if _data_version(backend.connection) != version:
            # Restoring would drop what the bots committed since: keep it, and say so.
            then = (
                f"The schema is the one the recorded migrations make: fix {failed.id} and migrate again"
                if failed.use_transactions else
                f"Stop every bot, drop by hand what {failed.id} made before it failed (`tradedb migrate` lists it, "
                f"and changes nothing while it is there), fix {failed.id} and migrate again"
            )
            return (
                f"The backup at {backup} was NOT restored: other connections (bots) wrote to {path} after it was "
                f"taken, and restoring it would lose their writes. Kept: {kept}. {then}; or, to undo the whole run, "
                f"stop every bot and run sqlite3 {path} \".restore {backup}\", which loses every write since it was taken."
            )
        # Nothing else committed since the backup, so it holds every write (a window of microseconds remains
        # between this check and the restore taking the write lock).
        restore_database(backup, path, busy_timeout)
    except Exception as error:
        return (
            f"Restoring the backup failed too ({error}): the database may be partly migrated (kept: {kept}). "
            f"Stop every bot, then copy {backup} over {path} (and delete {path.name}-wal and {path.name}-shm)."
        )
    log.warning("migration %s failed; restored %s from %s", failed.id, path, backup)
    return (
        f"The database was restored from the backup taken just before migrating (nothing else had written to it "
        f"since), which is at {backup}."
    )


def rollback_all(path: Path) -> None:
    """Roll back every applied migration (used by tests and by operators starting over)."""
    migrations = known_migrations()
    backend = get_backend(f"sqlite:///{path.resolve()}")
    with backend:
        with backend.lock():
            backend.rollback_migrations(backend.to_rollback(migrations))
