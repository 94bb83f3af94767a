"""Schema versions: which migrations a database has, and applying the missing ones with yoyo.

A database that already holds data is backed up (SQLite's online backup)
before any migration touches it, and a migration that fails leaves the
database as it was: yoyo rolls back a failed transactional migration, and
when more than that changed (earlier migrations of the same run, or a
non-transactional one), the backup is copied back.

Synchronous (yoyo is); the async callers run these with asyncio.to_thread.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yoyo import get_backend, read_migrations
from yoyo.migrations import MigrationList

from .errors import MigrationError, TradeDBError
from .queries import QUERIES
from .resources import resource_dir
from .sqlite import Session, copy_database, restore_database
from .values import utc_now

log = logging.getLogger("tradedb.migrations")

COUNT_USER_TABLES = QUERIES["count_user_tables"]
HAS_MIGRATION_TABLE = QUERIES["has_yoyo_migration_table"]
APPLIED_IDS = QUERIES["applied_migration_ids"]


@dataclass(frozen=True)
class SchemaState:
    """What a database has applied, against what this tradedb knows."""

    applied: list[str]
    pending: list[str]
    unknown: list[str]


@dataclass(frozen=True)
class MigrationRun:
    """What applying migrations did: the ids applied, and the backup taken first (None for a new database)."""

    applied: list[str]
    backup: Path | None


def migrations_folder() -> Path:
    """The folder of this version's migrations."""
    return resource_dir("migrations")


def known_migrations() -> MigrationList:
    """This version's migrations, from migrations/."""
    return read_migrations(str(migrations_folder()))


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


@contextmanager
def _looking(path: Path) -> Iterator[Session]:
    try:
        # mode=ro: looking must never write, not even yoyo's bookkeeping tables.
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=LOOKING_TIMEOUT)
    except sqlite3.Error as error:
        raise TradeDBError(f"cannot open {path}: {error}") from error
    try:
        yield Session(connection, LOOKING_TIMEOUT)
    except sqlite3.DatabaseError as error:
        if "not a database" in str(error):
            raise TradeDBError(f"{path} is not a SQLite database ({error}); check the path") from error
        # For example a WAL database in a folder this user cannot write: reading needs its -shm file.
        raise TradeDBError(f"cannot read {path}: {error}; check the file's and its folder's permissions") from error
    finally:
        connection.close()


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
    """Make sure the database at `path` has this version's schema, applying migrations if `migrate`."""
    state = schema_state(path)
    refuse_unknown(path, state)
    if not state.pending:
        return state
    if not migrate:
        raise MigrationError(
            f"{path} lacks migration(s) {', '.join(state.pending)}: apply them with `tradedb migrate`, "
            "`yoyo apply`, or connect(..., migrate=True)"
        )
    apply_migrations(path, busy_timeout)
    state = schema_state(path)
    if state.pending:
        raise MigrationError(f"{path}: migration(s) {', '.join(state.pending)} were applied but are not recorded")
    return state


def apply_pending(path: Path) -> list[str]:
    """Apply every pending migration (backing up a database with data first); the ids applied."""
    return apply_migrations(path).applied


def apply_migrations(path: Path, busy_timeout: float = 5.0) -> MigrationRun:
    """Apply every pending migration under yoyo's lock, backing up first a database that has data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    migrations = known_migrations()
    # Looked at before yoyo adds its own tables to a new file.
    worth_a_backup = has_data(path)
    backend = get_backend(f"sqlite:///{path.resolve()}")
    with backend:
        pending = backend.to_apply(migrations)
        if not pending:
            return MigrationRun([], None)
        backup = None
        if worth_a_backup:
            # Taken before yoyo's lock, so that the copy holds no lock row: a
            # restored backup must not look locked by this process.
            backup = default_backup_path(path, f"before-{pending[0].id}")
            backup.parent.mkdir(parents=True, exist_ok=True)
            copy_database(path, backup, busy_timeout)
            log.info("backed up %s to %s before applying migration(s)", path, backup)
        with backend.lock():
            # Again under the lock: another process may have migrated meanwhile.
            pending = backend.to_apply(migrations)
            ids = [migration.id for migration in pending]
            if not ids:
                return MigrationRun([], backup)
            log.info("applying migration(s) %s to %s", ", ".join(ids), path)
            done: list[Any] = []
            for migration in pending:
                try:
                    backend.apply_one(migration)
                except Exception as error:
                    outcome = _undo(path, backend, migration, done, backup, busy_timeout)
                    raise MigrationError(
                        f"migration {migration.id} failed on {path}: {error}. {outcome}"
                    ) from error
                done.append(migration)
            backend.run_post_apply(pending)
    return MigrationRun(ids, backup)


def _undo(path: Path, backend: Any, failed: Any, done: list[Any], backup: Path | None, busy_timeout: float) -> str:
    """Put the database back as it was before this run; say how, and where the backup is."""
    # yoyo has already rolled back a failed transactional migration; only
    # what was committed before it (or by a non-transactional one) is left.
    changed = bool(done) or not failed.use_transactions
    if backup is None:
        # Without a transaction, the statements of the failed migration that ran stay.
        leftover = "" if failed.use_transactions else (
            f" {failed.id} runs without a transaction, so its statements before the failing one were kept; "
            f"the database held no data before, so delete {path} and retry."
        )
        if not done:
            return leftover.strip() or "Nothing was changed (the database held no data, so no backup was taken)."
        try:
            for migration in reversed(done):
                backend.rollback_one(migration)
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
        return f"It was rolled back, so the database is as it was. A backup taken just before is at {backup}."
    try:
        restore_database(backup, path, busy_timeout)
    except Exception as error:
        return (
            f"Restoring the backup failed too ({error}): the database may be partly migrated. "
            f"Stop every bot, then copy {backup} over {path} (and delete {path.name}-wal and {path.name}-shm)."
        )
    log.warning("migration %s failed; restored %s from %s", failed.id, path, backup)
    return f"The database was restored from the backup taken just before migrating, which is at {backup}."


def rollback_all(path: Path) -> None:
    """Roll back every applied migration (used by tests and by operators starting over)."""
    migrations = known_migrations()
    backend = get_backend(f"sqlite:///{path.resolve()}")
    with backend:
        with backend.lock():
            backend.rollback_migrations(backend.to_rollback(migrations))
