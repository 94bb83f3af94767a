"""Shared fixtures: every test about the API runs on both backends, each in a fresh, migrated database.

`backend` is "sqlite" or "postgresql": every test that uses `repo` (or `database`,
`raw_sql`, `backend`) runs once on each. On SQLite the database is a file in the
test's temporary folder; on PostgreSQL it is a database of its own on the server
named by TRADEDB_TEST_POSTGRESQL_URL (see tests/pg_support.py), and when that server
cannot be reached those runs FAIL, saying so (never skip).

A test about SQLite's file (WAL, PRAGMA, the sqlite3 shell, file paths) is marked
`@pytest.mark.sqlite_only("why")` and runs on SQLite only; `db_path` and `raw` are
SQLite's and fail a PostgreSQL run that asks for them.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import tradedb
from cli_support import populate
from pg_support import Databases, connect, url_of

ENTRY_TIME = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only(reason): a test about SQLite's file; runs on the SQLite backend only")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses the backend runs on each; a sqlite_only test on SQLite alone."""
    if "backend" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("sqlite_only")
    if marker is not None and not (marker.args or marker.kwargs.get("reason")):
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: sqlite_only needs its reason")
    metafunc.parametrize("backend", ["sqlite"] if marker else list(BACKENDS), indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The backend this run of the test uses: "sqlite" or "postgresql"."""
    return request.param


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[Databases]:
    """This run's template database and its copies on the PostgreSQL test server."""
    databases = Databases()
    yield databases
    databases.finish()


def _sqlite_only(request: pytest.FixtureRequest, what: str) -> None:
    if "backend" in request.fixturenames and request.getfixturevalue("backend") != "sqlite":
        pytest.fail(
            f"{what} is SQLite's: on PostgreSQL use `database`/`raw_sql`/`raw_pg`, "
            "or mark the test @pytest.mark.sqlite_only(\"why\")",
            pytrace=False,
        )


@pytest.fixture
def db_path(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """Where this test's SQLite database lives (not yet created)."""
    _sqlite_only(request, "db_path")
    return tmp_path / "trading.db"


@pytest.fixture
def database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path | str]:
    """What to pass to tradedb.connect: the SQLite file's path, or the URL of a fresh PostgreSQL database."""
    if backend == "sqlite":
        yield tmp_path / "trading.db"
        return
    databases: Databases = request.getfixturevalue("pg_databases")
    name = databases.acquire()
    try:
        yield url_of(name)
    finally:
        databases.release(name)


@pytest.fixture
async def repo(database: Path | str) -> AsyncIterator[tradedb.Repository]:
    """A repository on a fresh, migrated database (of each backend)."""
    async with tradedb.connect(database) as repository:
        yield repository


@pytest.fixture
async def bot(repo: tradedb.Repository) -> tradedb.BotInstance:
    """A paper bot with a balance of 1000."""
    return await repo.create_bot_instance({"id": "bot-1", "type": "paper", "current_balance": "1000"})


@pytest.fixture
def raw(db_path: Path, repo: tradedb.Repository) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection to the test database, as the sqlite3 shell would have (SQLite only)."""
    connection = sqlite3.connect(db_path, isolation_level=None)
    connection.execute("PRAGMA foreign_keys = ON")
    yield connection
    connection.close()


@pytest.fixture
def raw_pg(database: Path | str, backend: str, repo: tradedb.Repository) -> Iterator[Any]:
    """A plain psycopg connection (autocommit) to the test database, as psql would have (PostgreSQL only)."""
    if backend != "postgresql":
        pytest.fail("raw_pg is PostgreSQL's: use raw or raw_sql on SQLite", pytrace=False)
    with connect(str(database)) as connection:
        yield connection


class RawSQL:
    """A few plain statements on either backend, as its shell would send them: `?` parameters, tuples back."""

    def __init__(self, backend: str, connection: Any) -> None:
        self.backend = backend
        self.connection = connection

    def execute(self, statement: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
        if self.backend == "sqlite":
            return self.connection.execute(statement, params)
        return self.connection.execute(statement.replace("%", "%%").replace("?", "%s"), params)

    def value(self, statement: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
        """The first column of the first row."""
        return self.execute(statement, params).fetchone()[0]


@pytest.fixture
def raw_sql(database: Path | str, backend: str, repo: tradedb.Repository) -> Iterator[RawSQL]:
    """Plain SQL on the test database of either backend (write what both dialects read; `?` parameters)."""
    if backend == "sqlite":
        connection = sqlite3.connect(database, isolation_level=None)
        connection.execute("PRAGMA foreign_keys = ON")
        try:
            yield RawSQL(backend, connection)
        finally:
            connection.close()
    else:
        with connect(str(database)) as connection:
            yield RawSQL(backend, connection)


def trade_data(**overrides: Any) -> dict[str, Any]:
    """A valid open long trade for bot-1, changed by `overrides`."""
    data: dict[str, Any] = {
        "bot_id": "bot-1",
        "trade_type": "paper",
        "entry_logic_name": "RSIBBVolumeEntryMixin",
        "exit_logic_name": "ATRExitMixin",
        "symbol": "BTCUSDT",
        "interval": "1h",
        "direction": "long",
        "entry_time": ENTRY_TIME,
        "entry_price": "50000",
        "size": "0.1",
    }
    data.update(overrides)
    return data


# For the CLI tests (tests/test_cli*.py): a populated database, built once.


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A populated database, built once; tests that write use a copy (see `db`)."""
    path = tmp_path_factory.mktemp("sample") / "sample.db"
    asyncio.run(populate(path))
    return path


@pytest.fixture
def db(sample: Path, tmp_path: Path) -> Path:
    """This test's own copy of the sample database."""
    copy = tmp_path / "trading.db"
    shutil.copyfile(sample, copy)
    return copy




@pytest.fixture
def small_loads(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Loads of 100 rows count as bulk loads (10,000 otherwise: Session.bulk_load), so that tests stay small; the
    names of the indexes dropped by each load that meant to drop some, in order."""
    import tradedb.postgresql as postgresql_backend
    import tradedb.sqlite as sqlite_backend

    dropped: list[list[str]] = []
    for module in (sqlite_backend, postgresql_backend):
        monkeypatch.setattr(module, "DEFERRED_INDEX_ROWS", 100)
        defer = module.Session.defer

        def spy(session: Any, table: str, rows: int, defer: Any = defer) -> Any:
            meant = session.deferrable_indexes(table, rows)
            done = defer(session, table, rows)
            if meant:  # a load that meant to drop some
                dropped.append(sorted(name for name, _ in done.indexes))
            return done

        monkeypatch.setattr(module.Session, "defer", spy)
    return dropped
