"""Worker processes for the multi-process and crash tests (run as scripts, not collected by pytest),
and the helpers those tests share to read back what the workers left.

A worker's database argument is a SQLite path or a postgresql:// URL: the
workers pass it to tradedb.connect as is; what only SQLite has runs only
for a path. The tests read back with sqlite3 or psycopg (`read`).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import tradedb

# The tests' PostgreSQL server: they create databases of their own on it, and FAIL (never skip) without it.
SERVER_URL = os.environ.get("TRADEDB_TEST_POSTGRESQL_URL", "postgresql://root@127.0.0.1:5432/test")


def is_url(database: str | os.PathLike[str]) -> bool:
    """Whether `database` names a PostgreSQL database rather than a SQLite file."""
    return str(database).startswith(("postgresql://", "postgres://"))


def trade_for(bot_id: str, rng: random.Random) -> dict[str, object]:
    return {
        "bot_id": bot_id,
        "trade_type": "paper",
        "entry_logic_name": "RSIBBVolumeEntryMixin",
        "exit_logic_name": "ATRExitMixin",
        "symbol": rng.choice(["BTCUSDT", "ETHUSDT"]),
        "interval": "1h",
        "direction": rng.choice(["long", "short"]),
        "entry_time": datetime.now(timezone.utc),
        "entry_price": Decimal(rng.randint(1, 10**10)) / 10**5,
        "size": Decimal(rng.randint(1, 10**8)) / 10**8,
        "commission": Decimal(rng.randint(0, 10**6)) / 10**8,
    }


async def lifecycles(path: str, bot_id: str, count: int, seed: int) -> None:
    """Run `count` full lifecycles (start_bot, create, heartbeat, close); print a JSON report."""
    rng = random.Random(seed)
    errors: list[str] = []
    worst = 0.0
    trade_ids = []
    # With $TRADEDB_TEST_REPLICAS (space-separated URLs), reads outside transactions go to those replicas.
    replicas = os.environ.get("TRADEDB_TEST_REPLICAS", "").split()
    async with tradedb.connect(path, busy_timeout=30, replicas=replicas) as repo:
        for _ in range(count):
            try:
                started = time.perf_counter()
                await repo.start_bot({"id": bot_id, "type": "paper"})
                trade = await repo.create_trade(trade_for(bot_id, rng))
                await repo.heartbeat(bot_id)
                async with repo.transaction():  # read then write, in one transaction
                    current = await repo.get_trade_by_id(trade.id)
                    exit_price = current.entry_price * Decimal(rng.randint(90, 110)) / 100
                    await repo.close_trade(trade.id, exit_price=exit_price, commission="0.01")
                # Read-your-writes, outside any transaction (on a replica when there is one).
                if any(t.id == trade.id for t in await repo.get_open_trades(bot_id)):
                    errors.append(f"trade {trade.id} read back as open after it was closed")
                worst = max(worst, (time.perf_counter() - started) / 4)
                trade_ids.append(trade.id)
            except Exception as error:  # counted, and the test asserts there are none
                errors.append(f"{type(error).__name__}: {error}")
    db = repo._db
    replica_reads = sum(state.reads for state in getattr(db, "states", []))
    print(json.dumps({"errors": errors, "worst_seconds": worst, "trades": trade_ids, "replica_reads": replica_reads}))


async def writer(path: str, bot_id: str, seed: int) -> None:
    """Write until killed: resume the bot, close what it had open, open and close more; log each commit."""
    rng = random.Random(seed)
    async with tradedb.connect(path) as repo:
        state = await repo.start_bot({"id": bot_id, "type": "paper", "current_balance": "100000"})
        for trade in state.open_trades[: len(state.open_trades) // 2]:
            await repo.close_trade(trade.id, exit_price=trade.entry_price + 1)
            print("closed", trade.id, flush=True)
        while True:
            trades = await repo.create_trades([trade_for(bot_id, rng) for _ in range(rng.randint(1, 3))])
            for trade in trades:
                print("created", trade.id, flush=True)
            if rng.random() < 0.6:
                closed = await repo.close_trade(trades[0].id, exit_price=trades[0].entry_price * 2, commission="1")
                print("closed", closed.id, flush=True)
            await repo.heartbeat(bot_id)


async def connector() -> None:
    """For each stdin line "<path> <start time>": connect at that moment, read, close; print a JSON report."""
    for line in sys.stdin:
        path, start = line.split()
        time.sleep(max(0.0, float(start) - time.time()))
        try:
            async with tradedb.connect(path) as repo:
                await repo.list_bot_instances()
            error = None
        except Exception as caught:  # reported, and the test asserts there are none
            error = f"{type(caught).__name__}: {caught}"
        print(json.dumps({"error": error}), flush=True)


def die_migrating(path: str, when: str) -> None:
    """Connect to a new database, SIGKILLed by itself while migrating it.

    `when` is a number: after running that many SQL statements of its
    migrations on the database; or "recording": once its first migration's
    statements have run, as it records the migration as applied.
    """
    from yoyo.backends.base import DatabaseBackend
    from yoyo.migrations import MigrationStep

    if when == "recording":
        def die(backend: object, migration: object, operation: str) -> None:
            os.kill(os.getpid(), signal.SIGKILL)

        DatabaseBackend.log_migration = die  # type: ignore[method-assign,assignment]
    else:
        statements = int(when)
        executed = 0
        apply = MigrationStep.apply

        def apply_then_maybe_die(step: MigrationStep, backend: object, force: bool = False) -> None:
            nonlocal executed
            apply(step, backend, force)
            connection = backend.connection  # type: ignore[attr-defined]
            # On SQLite only statements run on the file count, not any run on an in-memory
            # database; on PostgreSQL every statement runs on the database.
            if not isinstance(connection, sqlite3.Connection) or connection.execute("PRAGMA database_list").fetchone()[2]:
                executed += 1
                if executed >= statements:
                    os.kill(os.getpid(), signal.SIGKILL)

        MigrationStep.apply = apply_then_maybe_die  # type: ignore[method-assign]
    asyncio.run(tradedb.connect(path).__aenter__())
    raise SystemExit("the migration finished before it was killed")


def hold_migration_lock(url: str) -> None:
    """Hold tradedb's PostgreSQL migration lock, as a process migrating on another host would; say so, then wait to be killed."""
    import psycopg

    from tradedb.postgresql import MIGRATION_LOCK

    connection = psycopg.connect(url, autocommit=True)
    connection.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
    print("locked", flush=True)
    while True:
        time.sleep(60)


def die_in_first_transaction(path: str) -> None:
    """Leave a hot journal: SIGKILLed in the middle of a new file's first write transaction (rollback journal)."""
    if is_url(path):
        raise SystemExit("a hot journal is SQLite's: give a file path")
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA cache_size = 1")  # pages spill to the file before COMMIT, as in a big migration
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("CREATE TABLE bot_instances (id TEXT PRIMARY KEY, filler TEXT)")
    connection.executemany("INSERT INTO bot_instances VALUES (?, ?)", ((str(n), "x" * 500) for n in range(2000)))
    os.kill(os.getpid(), signal.SIGKILL)


# Helpers of the tests (imported by them; none runs in a worker) ---------------


def read(database: str | os.PathLike[str], sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The rows of `sql` (with ? placeholders) on the database, read with sqlite3 or psycopg as a shell would."""
    if not is_url(database):
        connection = sqlite3.connect(database)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()
    with postgresql_connection(str(database)) as connection:
        return connection.execute(sql.replace("?", "%s"), params).fetchall()


def without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


def postgresql_connection(url: str) -> Any:
    """A psycopg connection (autocommit), or a FAILED test saying the server is unreachable: never a skip."""
    import pytest

    try:
        import psycopg
    except ModuleNotFoundError:
        pytest.fail("psycopg 3 is missing: .venv/bin/pip install -e '.[test,postgresql]'", pytrace=False)
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        pytest.fail(
            f"PostgreSQL is unreachable at {without_password(url)} ({reason}). These tests need a server: "
            "set TRADEDB_TEST_POSTGRESQL_URL to one, or start the local one with "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            pytrace=False,
        )


_made = 0


@contextmanager
def new_postgresql_database() -> Iterator[str]:
    """The URL of a new, empty database (tdproc_<pid>_<n>) on the test server, dropped afterwards."""
    global _made
    _made += 1
    name = f"tdproc_{os.getpid()}_{_made}"
    with postgresql_connection(SERVER_URL) as server:
        server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # left by a killed run whose pid was this one's
        server.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(urlsplit(SERVER_URL)._replace(path=f"/{name}"))
    finally:
        with postgresql_connection(SERVER_URL) as server:
            server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def other_sessions(url: str) -> int:
    """How many sessions other than this one the server has open on the database at `url`."""
    with postgresql_connection(url) as connection:
        return connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]


def wait_for_sessions_to_end(url: str, timeout: float = 10.0) -> None:
    """Wait until the server has ended every other session on the database (those of a killed process).

    A COMMIT a process sent just before it was killed is still carried out by
    the server; once its sessions are gone, what is stored no longer changes.
    """
    deadline = time.monotonic() + timeout
    while other_sessions(url):
        if time.monotonic() > deadline:
            raise AssertionError(f"sessions of a killed process stayed open on {without_password(url)} for {timeout} s")
        time.sleep(0.01)


if __name__ == "__main__":
    job, *args = sys.argv[1:]
    if job == "lifecycles":
        asyncio.run(lifecycles(args[0], args[1], int(args[2]), int(args[3])))
    elif job == "writer":
        asyncio.run(writer(args[0], args[1], int(args[2])))
    elif job == "connector":
        asyncio.run(connector())
    elif job == "die-migrating":
        die_migrating(args[0], args[1])
    elif job == "die-in-first-transaction":
        die_in_first_transaction(args[0])
    elif job == "hold-migration-lock":
        hold_migration_lock(args[0])
    else:
        raise SystemExit(f"unknown job {job!r}")
