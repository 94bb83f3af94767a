"""Schema versions: which migrations a database has, and applying the missing ones with yoyo.

Synchronous (yoyo is); the async callers run these with asyncio.to_thread.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from yoyo import get_backend, read_migrations
from yoyo.migrations import MigrationList

from .errors import MigrationError, TradeDBError
from .resources import resource_dir

log = logging.getLogger("tradedb.migrations")


@dataclass(frozen=True)
class SchemaState:
    """What a database has applied, against what this tradedb knows."""

    applied: list[str]
    pending: list[str]
    unknown: list[str]


def known_migrations() -> MigrationList:
    """This version's migrations, from migrations/."""
    return read_migrations(str(resource_dir("migrations")))


def applied_migration_ids(path: Path) -> list[str]:
    """Ids of the migrations applied to the database at `path`, read without writing to it."""
    if not path.exists():
        return []
    try:
        # mode=ro: looking must never write, not even yoyo's bookkeeping tables.
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise TradeDBError(f"cannot open {path}: {error}") from error
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "_yoyo_migration" not in tables:
            return []
        rows = connection.execute("SELECT migration_id FROM _yoyo_migration ORDER BY applied_at_utc")
        return [row[0] for row in rows]
    except sqlite3.DatabaseError as error:
        raise TradeDBError(f"{path} is not a SQLite database ({error}); check the path") from error
    finally:
        connection.close()


def schema_state(path: Path) -> SchemaState:
    """Compare the database's applied migrations with the known ones."""
    known = [migration.id for migration in known_migrations()]
    applied = applied_migration_ids(path)
    return SchemaState(
        applied=applied,
        pending=[m for m in known if m not in applied],
        unknown=[m for m in applied if m not in known],
    )


def refuse_unknown(path: Path, state: SchemaState) -> None:
    """Raise MigrationError for a database written by a newer tradedb."""
    if state.unknown:
        raise MigrationError(
            f"{path} has migration(s) {', '.join(state.unknown)} applied, which this version of tradedb "
            "does not know: it was written by a newer tradedb. Upgrade tradedb; the database was not touched."
        )


def prepare(path: Path, *, migrate: bool) -> SchemaState:
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
    apply_pending(path)
    return schema_state(path)


def apply_pending(path: Path) -> list[str]:
    """Apply every pending migration under yoyo's lock; the ids applied."""
    path.parent.mkdir(parents=True, exist_ok=True)
    migrations = known_migrations()
    backend = get_backend(f"sqlite:///{path.resolve()}")
    with backend:
        with backend.lock():
            pending = backend.to_apply(migrations)
            ids = [migration.id for migration in pending]
            if ids:
                log.info("applying migration(s) %s to %s", ", ".join(ids), path)
                try:
                    backend.apply_migrations(pending)
                except Exception as error:
                    raise MigrationError(f"a migration failed on {path}: {error}") from error
    return ids


def rollback_all(path: Path) -> None:
    """Roll back every applied migration (used by tests and by operators starting over)."""
    migrations = known_migrations()
    backend = get_backend(f"sqlite:///{path.resolve()}")
    with backend:
        with backend.lock():
            backend.rollback_migrations(backend.to_rollback(migrations))
