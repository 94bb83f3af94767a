"""What every backend provides: a `Database` the repository awaits, and the `Session` its units of work use.

A backend is one module (tradedb/sqlite.py, tradedb/postgresql.py) plus its
folders sql/<dialect>/ and migrations/<dialect>/. The units of work
(trades.py, bots.py, analytics.py, upkeep.py, ...) see only these two
shapes, and values in their stored forms (see tradedb/values.py): exact
decimal text, UTC time text ending in Z, JSON text, UUID text. Each backend
turns its driver's values into those forms, so no unit of work branches on
the dialect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from .queries import Query

Result = TypeVar("Result")
# health()'s way to run one measurement: returns its result and keeps it in
# the report under `key` (None: not kept), or reports why it failed and returns None.
Check = Callable[[str | None, Callable[[], Any]], Any]


@dataclass(frozen=True)
class Deferred:
    """What a bulk load into a table put off to its end (Session.defer), each object with its own SQL text."""

    indexes: list[tuple[str, str]]  # (name, sql), built again from the text
    # SQLite: (name, sql) of row triggers on insert, whose work is done for every loaded row at once, and the table's
    # largest rowid before the load: the loaded rows are those past it.
    triggers: list[tuple[str, str]] = field(default_factory=list)
    after: int = 0

    def __bool__(self) -> bool:
        return bool(self.indexes or self.triggers)


@dataclass(frozen=True)
class SchemaState:
    """What a database has applied, against what this tradedb knows."""

    applied: list[str]
    pending: list[str]
    unknown: list[str]


class Session(Protocol):
    """The statements a unit of work may run; lives in its connection's thread, inside one transaction."""

    dialect: str
    # Whether a unit that failed may be run again with the same arguments (then it must not use them up).
    reruns_units: bool

    def one(self, query: Query, params: Mapping[str, Any]) -> Any:
        """Run a :one query: its row, or None."""

    def many(self, query: Query, params: Mapping[str, Any]) -> list[Any]:
        """Run a :many query: all its rows."""

    def each(self, query: Query, params: Mapping[str, Any]) -> Iterator[Any]:
        """Run a :many query: its rows one at a time, for results too large to hold at once."""

    def exec(self, query: Query, params: Mapping[str, Any]) -> int:
        """Run an :exec query: the number of rows it changed."""

    def exec_many(self, query: Query, rows: Iterable[Mapping[str, Any]]) -> int:
        """Run an :exec query once per parameter set (an INSERT, for many rows per statement); `rows` may be a
        generator, consumed as the statements are sent (on a server, while it runs those sent before)."""

    def bulk_load(self, table: str, rows: int) -> AbstractContextManager[None]:
        """Around an insert of `rows` new rows into `table` in this transaction: the backend may build the table's
        indexes once at the end rather than row by row (and on SQLite do the work of its row triggers on insert for
        all the rows at once), as long as no other connection can see the table without them."""

    def deferrable_indexes(self, table: str, rows: int) -> list[tuple[str, str]]:
        """The indexes (name, sql) bulk_load would drop for a load of `rows` new rows into `table`, for a load
        spread over several units of one transaction: defer first, catch_up before the commit."""

    def defer(self, table: str, rows: int) -> Deferred:
        """Drop what bulk_load would put off for a load of `rows` new rows into `table` until catch_up, later in this
        transaction; what was dropped (nothing when the backend could not take the table's lock at once)."""

    def catch_up(self, deferred: Deferred) -> None:
        """Build again what defer dropped, and do its triggers' work for the rows loaded meanwhile."""

    def sum_overflowed(self, error: BaseException) -> bool:
        """Whether `error` is the database refusing a sum too large for its integers (then sum in Python)."""

    def check_database(self, check: Check, problems: list[str], full: bool) -> None:
        """health()'s checks of what only this backend knows: its version, files or server, schema, constraints."""

    def shell_literal(self, value: str) -> str:
        """`value` as an SQL string literal to paste into this backend's shell, on one line."""


class Database(Protocol):
    """An open database, shared by every coroutine of one process."""

    dialect: str

    @property
    def location(self) -> str:
        """Where the database is: a file path, or a URL without its password."""

    @property
    def path(self) -> Path | None:
        """The database file (SQLite), or None (a server)."""

    async def close(self) -> None:
        """Close every connection; safe to call twice."""

    async def write(self, unit: Callable[..., Result], *args: Any) -> Result:
        """Run unit(session, *args) as one write transaction, or in the caller's open one."""

    async def read(self, unit: Callable[..., Result], *args: Any) -> Result:
        """Run unit(session, *args) on one snapshot of the last commit, or in the caller's open transaction."""

    async def inspect(self, unit: Callable[..., Result], *args: Any) -> Result:
        """Run unit(session, *args) for health checks: each statement on its own, failures left to the unit."""

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """Group calls atomically; nested use makes a savepoint."""

    def bulk(self) -> AbstractAsyncContextManager[None]:
        """Around many large write transactions in a row (a copy): the backend may trade a longer log for speed."""

    def default_backup_path(self) -> Path:
        """Where a backup goes when no destination is given."""

    def changes(self, interval: float) -> AsyncIterator[int]:
        """Yield a rising counter whenever another connection or process committed, checked about every `interval` seconds."""

    async def backup(self, dest: Path) -> None:
        """Write a backup to the new file `dest`, already checked (upkeep.backup_destination)."""
