"""Upkeep: retention in batches, online backups, backups before migrations, and the health report."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import tradedb
import tradedb.migrations
import tradedb.postgresql
import tradedb.upkeep
from conftest import trade_data
from pg_support import PG_BIN, connect, url_of
from tradedb.migrations import has_data, schema_state

ROOT = Path(__file__).resolve().parent.parent
PG_RESTORE = shutil.which("pg_restore") or f"{PG_BIN}/pg_restore"
UTC = timezone.utc
NOW = datetime.now(UTC)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def finished(exited: datetime, status: str = "closed", bot_id: str = "bot-1") -> dict:
    """A trade imported as closed (or cancelled) that exited at `exited`."""
    data = trade_data(bot_id=bot_id, status=status, entry_time=exited - timedelta(hours=1), exit_time=exited)
    if status == "closed":
        data["exit_price"] = "50100"  # net_pnl +10 on 0.1 BTC
    return data


def rows(database: Path | str, sql: str) -> list[tuple[Any, ...]]:
    """The rows of `sql` on the SQLite file or PostgreSQL URL `database`, from a connection of its own."""
    if isinstance(database, str):
        with connect(database) as connection:
            return connection.execute(sql).fetchall()
    connection = sqlite3.connect(database)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def scalar(database: Path | str, sql: str) -> Any:
    return rows(database, sql)[0][0]


# Retention ---------------------------------------------------------------


@pytest.fixture
async def history(repo, bot):
    """Trades and metrics of every age and status around the default cutoffs."""
    await repo.create_trades(
        [finished(days_ago(100)), finished(days_ago(100), "cancelled"), finished(days_ago(95)),
         finished(days_ago(10)), finished(days_ago(10), "cancelled")]
        # Open trades are never deleted, however old, even with an exit_time set by hand.
        + [trade_data(entry_time=days_ago(400)), trade_data(entry_time=days_ago(400), exit_time=days_ago(300))]
    )
    for age in (400, 370, 100, 10):
        await repo.create_performance_metrics({"bot_id": "bot-1", "calculated_at": days_ago(age)})
    return await repo.get_bot_instance("bot-1")


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({}, {"trades": 3, "performance_metrics": 2}),  # the defaults: 90 and 365 days
        ({"days_to_keep": 96}, {"trades": 2, "performance_metrics": 2}),  # the trade that exited 95 days ago stays
        ({"days_to_keep": 5, "metrics_days_to_keep": 5}, {"trades": 5, "performance_metrics": 4}),
        ({"days_to_keep": 500, "metrics_days_to_keep": 500}, {"trades": 0, "performance_metrics": 0}),
        ({"days_to_keep": 0, "metrics_days_to_keep": 0}, {"trades": 5, "performance_metrics": 4}),
        ({"days_to_keep": 10**9, "metrics_days_to_keep": 10**9}, {"trades": 0, "performance_metrics": 0}),
    ],
)
@pytest.mark.parametrize("dry_run", [True, False])
async def test_cleanup_deletes_finished_trades_and_metrics_before_the_cutoffs(
    repo, history, database, kwargs, expected, dry_run
):
    assert await repo.cleanup_old_data(**kwargs, dry_run=dry_run) == expected
    deleted = {"trades": 0, "performance_metrics": 0} if dry_run else expected
    assert scalar(database, "SELECT count(*) FROM trades") == 7 - deleted["trades"]
    assert scalar(database, "SELECT count(*) FROM performance_metrics") == 4 - deleted["performance_metrics"]
    assert len(await repo.get_open_trades("bot-1")) == 2
    # Retention removes history, never the bot or its books (updated_at moves: its archived_pnl counts what went).
    assert replace(await repo.get_bot_instance("bot-1"), updated_at=history.updated_at) == history


@pytest.mark.parametrize("batch_size, batches", [(1, 8), (2, 4), (3, 3), (7, 2), (8, 1), (500, 1)])
async def test_cleanup_works_in_batches_until_a_short_one(repo, bot, monkeypatch, batch_size, batches):
    await repo.create_trades([finished(days_ago(100 + i)) for i in range(7)] + [finished(days_ago(1))])
    calls = []
    delete = tradedb.upkeep.delete_old_trades

    def spy(session, cutoff, size):
        calls.append(size)
        return delete(session, cutoff, size)

    monkeypatch.setattr(tradedb.upkeep, "delete_old_trades", spy)
    assert await repo.cleanup_old_data(batch_size=batch_size) == {"trades": 7, "performance_metrics": 0}
    assert calls == [batch_size] * batches
    assert len(await repo.get_closed_trades()) == 1


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"days_to_keep": -1}, "days_to_keep"),
        ({"days_to_keep": 1.5}, "days_to_keep"),
        ({"days_to_keep": "90"}, "days_to_keep"),
        ({"days_to_keep": True}, "days_to_keep"),
        ({"metrics_days_to_keep": None}, "metrics_days_to_keep"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
async def test_cleanup_refuses_bad_arguments_and_deletes_nothing(repo, history, database, kwargs, field):
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.cleanup_old_data(**kwargs)
    assert caught.value.field == field
    assert scalar(database, "SELECT count(*) FROM trades") == 7


async def test_cleanup_lets_other_coroutines_write_between_batches(repo, bot, monkeypatch):
    await repo.create_trades([finished(days_ago(100)) for _ in range(100)])
    events: list[str] = []
    delete = tradedb.upkeep.delete_old_trades

    def spy(session, cutoff, size):
        events.append("batch")
        return delete(session, cutoff, size)

    monkeypatch.setattr(tradedb.upkeep, "delete_old_trades", spy)
    stop = asyncio.Event()
    written: list[str] = []

    async def bot_writing():
        while not stop.is_set():
            trade = await repo.create_trade(trade_data(symbol="ETHUSDT"))
            await repo.close_trade(trade.id, exit_price="50050")
            written.append(trade.id)
            events.append("write")

    writer = asyncio.create_task(bot_writing())
    while not written:
        await asyncio.sleep(0)
    result = await repo.cleanup_old_data(batch_size=10)
    stop.set()
    await writer
    assert result == {"trades": 100, "performance_metrics": 0}
    first, last = events.index("batch"), len(events) - 1 - events[::-1].index("batch")
    assert events.count("batch") == 11
    # The bot's writes went in between the batches, not after the whole cleanup.
    assert events[first:last].count("write") >= 5
    assert {t.id for t in await repo.get_closed_trades(symbol="ETHUSDT")} == set(written)
    assert (await repo.get_bot_instance("bot-1")).total_pnl == Decimal(1000) + Decimal(5) * len(written)


WRITER = textwrap.dedent(
    """
    import asyncio, sys, tradedb

    async def main(path, bot_id, stop_file):
        async with tradedb.connect(path) as repo:
            await repo.create_bot_instance({"id": bot_id, "type": "paper", "current_balance": "1000"})
            written = 0
            while True:
                trade = await repo.create_trade({
                    "bot_id": bot_id, "trade_type": "paper", "entry_logic_name": "e", "exit_logic_name": "x",
                    "symbol": "BTCUSDT", "interval": "1h", "direction": "long",
                    "entry_price": "100", "size": "1",
                })
                await repo.close_trade(trade.id, exit_price="101")
                written += 1
                if written == 1:
                    print("ready", flush=True)
                if written >= 5 and __import__("os").path.exists(stop_file):
                    break
            print(written, flush=True)

    asyncio.run(main(*sys.argv[1:]))
    """
)


async def start_writer(database: Path | str, bot_id: str, folder: Path) -> tuple[asyncio.subprocess.Process, Path]:
    """Another process writing trades to the same database until told to stop; returns once it has written one."""
    stop_file = folder / f"stop-{bot_id}"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WRITER, str(database), bot_id, str(stop_file),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
    assert line == b"ready\n", (line, await process.stderr.read())
    return process, stop_file


async def stop_writer(process: asyncio.subprocess.Process, stop_file: Path) -> int:
    """Stop the other process; it must have had no error. How many trades it wrote."""
    stop_file.touch()
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0 and err == b"", err.decode()
    return int(out)


async def test_cleanup_while_another_process_writes(repo, bot, database, tmp_path):
    await repo.create_trades([finished(days_ago(100)) for _ in range(2000)])
    process, stop_file = await start_writer(database, "other-process", tmp_path)
    before = scalar(database, "SELECT count(*) FROM trades WHERE bot_id = 'other-process'")
    result = await repo.cleanup_old_data(batch_size=20)
    during = scalar(database, "SELECT count(*) FROM trades WHERE bot_id = 'other-process'")
    written = await stop_writer(process, stop_file)
    assert result == {"trades": 2000, "performance_metrics": 0}
    # The other process kept writing while the cleanup ran, and lost nothing.
    assert during > before
    assert scalar(database, "SELECT count(*) FROM trades WHERE bot_id = 'other-process' AND status = 'closed'") == written
    assert (await repo.get_bot_instance("other-process")).total_pnl == written
    assert scalar(database, "SELECT count(*) FROM trades WHERE bot_id = 'bot-1'") == 0


# Backups -----------------------------------------------------------------


def integrity(path: Path) -> str:
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return "; ".join(row[0] for row in connection.execute("PRAGMA integrity_check"))
    finally:
        connection.close()


def books_match_trades(database: Path | str) -> dict[str, Decimal]:
    """Each bot's total_pnl, after checking it is the exact sum of its closed trades' net_pnl."""
    books = {bot_id: Decimal(total) for bot_id, total in rows(database, "SELECT id, total_pnl FROM bot_instances")}
    sums = {bot_id: Decimal(0) for bot_id in books}
    for bot_id, net in rows(database, "SELECT bot_id, net_pnl FROM trades WHERE status = 'closed'"):
        sums[bot_id] += Decimal(net)
    assert books == sums
    return books


BACKED_UP_TABLES = ("bot_instances", "trades", "performance_metrics")


@pytest.fixture
def open_backup(backend, request):
    """What to connect to, to read a backup: SQLite's file itself (checked whole), or PostgreSQL's dump restored.

    A pg_dump file is restored (its rows, verbatim: triggers off) into a database of the test server
    that has the schema already, as `pg_restore --data-only` does after `tradedb migrate`.
    """
    taken: list[str] = []

    def open_(path: Path) -> Path | str:
        if backend == "sqlite":
            assert integrity(path) == "ok"
            return path
        databases = request.getfixturevalue("pg_databases")
        name = databases.acquire()
        taken.append(name)
        done = subprocess.run(
            [PG_RESTORE, "--data-only", "--disable-triggers", "--exit-on-error",
             *(f"--table={table}" for table in BACKED_UP_TABLES), f"--dbname={url_of(name)}", str(path)],
            capture_output=True, text=True, timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return url_of(name)

    yield open_
    for name in taken:
        request.getfixturevalue("pg_databases").release(name)


def assert_backup_file(path: Path, backend: str) -> None:
    """A whole backup: SQLite's file passes integrity_check and needs no -wal; pg_restore reads PostgreSQL's dump."""
    if backend == "sqlite":
        assert integrity(path) == "ok"
        assert scalar(path, "PRAGMA journal_mode") == "delete"
        return
    listed = subprocess.run([PG_RESTORE, "--list", str(path)], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert all(f"TABLE DATA public {table} " in listed.stdout for table in BACKED_UP_TABLES), listed.stdout


async def test_backup_goes_to_the_backups_folder_by_default(repo, bot, backend, database, tmp_path, monkeypatch, open_backup):
    monkeypatch.chdir(tmp_path)  # PostgreSQL's default folder is backups/ in the current folder; SQLite's, beside the file
    trade = await repo.create_trade(trade_data())
    path = await repo.backup()
    assert path.resolve().parent == tmp_path / "backups"
    if backend == "sqlite":
        assert re.fullmatch(r"trading-\d{8}T\d{6}\.\d{6}Z\.db", path.name), path.name
    else:
        name = database.rsplit("/", 1)[1]
        assert re.fullmatch(rf"{name}-\d{{8}}T\d{{6}}(\.\d{{6}})?Z\.dump", path.name), path.name
    async with tradedb.connect(open_backup(path), migrate=False) as copy:
        assert await copy.get_trade_by_id(trade.id) == trade
        assert await copy.get_bot_instance("bot-1") == bot
    # Each backup is a new file.
    assert await repo.backup() != path


@pytest.mark.parametrize("as_text", [True, False])
async def test_backup_to_a_given_file_creates_its_folders(repo, bot, backend, tmp_path, as_text):
    dest = tmp_path / "deep" / "er" / "copy.db"
    assert await repo.backup(str(dest) if as_text else dest) == dest
    assert_backup_file(dest, backend)
    assert not list(dest.parent.glob("*.partial")) and not list(dest.parent.glob(".*"))


async def test_backup_refuses_to_overwrite(repo, bot, backend, tmp_path, database):
    dest = tmp_path / "taken.db"
    dest.write_text("keep me")
    with pytest.raises(tradedb.ConflictError, match="taken.db exists"):
        await repo.backup(dest)
    assert dest.read_text() == "keep me"
    if backend == "sqlite":  # the database file itself
        with pytest.raises(tradedb.ConflictError):
            await repo.backup(database)


@pytest.mark.parametrize("dest", ["", 42])
async def test_backup_refuses_a_destination_that_is_no_path(repo, dest):
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.backup(dest)
    assert caught.value.field == "dest"


async def test_backup_of_a_closed_repository_says_so(database, tmp_path):
    repo = await tradedb.connect(database)
    await repo.close()
    with pytest.raises(tradedb.TradeDBError, match="closed"):
        await repo.backup(tmp_path / "x.db")
    assert not (tmp_path / "x.db").exists()


async def test_backup_taken_while_bots_write_is_consistent(repo, bot, database, tmp_path, open_backup):
    await repo.create_trades([finished(days_ago(1)) for _ in range(3000)])
    process, stop_file = await start_writer(database, "other-process", tmp_path)
    stop = asyncio.Event()

    async def bot_writing():
        while not stop.is_set():
            trade = await repo.create_trade(trade_data())
            await repo.close_trade(trade.id, exit_price="50050")

    writer = asyncio.create_task(bot_writing())
    await asyncio.sleep(0.05)
    low = scalar(database, "SELECT count(*) FROM trades")
    path = await repo.backup(tmp_path / "during.db")
    high = scalar(database, "SELECT count(*) FROM trades")
    stop.set()
    await writer
    await stop_writer(process, stop_file)
    copy = open_backup(path)
    # A snapshot of one commit: every bot's books equal its trades, in the copy too.
    books = books_match_trades(copy)
    assert set(books) == {"bot-1", "other-process"}
    assert low <= scalar(copy, "SELECT count(*) FROM trades") <= high
    books_match_trades(database)


# Backups before migrations -----------------------------------------------


@pytest.fixture
def migrations_dir(tmp_path, monkeypatch, request):
    """A copy of the backend's migrations that tests can add to (SQLite's unless the test runs on a backend)."""
    backend = request.getfixturevalue("backend") if "backend" in request.fixturenames else "sqlite"
    folder = tmp_path / "migrations"
    folder.mkdir()
    for path in (ROOT / "migrations" / backend).glob("*.sql"):
        shutil.copy(path, folder)
    if backend == "sqlite":
        monkeypatch.setattr(tradedb.migrations, "migrations_folder", lambda: folder)
    else:
        monkeypatch.setattr(tradedb.postgresql, "migrations_folder", lambda: folder)
        tradedb.postgresql.known_ids.cache_clear()  # cached per process: read this folder's, then the real one's again
        request.addfinalizer(tradedb.postgresql.known_ids.cache_clear)
    return folder


def add_migration(folder: Path, migration_id: str, sql: str, depends: str = "0001.initial-schema",
                  transactional: bool = True) -> None:
    header = f"-- A test migration.\n-- depends: {depends}\n"
    if not transactional:
        header += "-- transactional: false\n"
    (folder / f"{migration_id}.sql").write_text(header + sql)


def dump(path: Path) -> list[str]:
    connection = sqlite3.connect(path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


@pytest.fixture
async def database_with_data(db_path, migrations_dir):
    async with tradedb.connect(db_path) as repo:
        await repo.create_bot_instance({"id": "bot-1", "type": "paper", "current_balance": "1000"})
        trade = await repo.create_trade(trade_data())
        await repo.close_trade(trade.id, exit_price="50100")
    return dump(db_path)


@pytest.mark.sqlite_only("SQLite's migrations: the backup file taken before migrating, copied back on failure")
async def test_migrating_a_database_with_data_backs_it_up_first_and_logs_where(
    db_path, migrations_dir, database_with_data, caplog
):
    add_migration(migrations_dir, "0002.symbol-index", "CREATE INDEX idx_test_symbol ON trades (symbol);\n")
    with caplog.at_level(logging.INFO, logger="tradedb.migrations"):
        async with tradedb.connect(db_path) as repo:
            assert (await repo.get_bot_instance("bot-1")).total_pnl == 10
    (backup,) = (db_path.parent / "backups").iterdir()
    assert re.fullmatch(r"trading-\d{8}T\d{6}\.\d{6}Z-before-0002\.symbol-index\.db", backup.name)
    assert dump(backup) == database_with_data
    assert any(str(backup) in record.getMessage() for record in caplog.records)
    assert schema_state(db_path).applied == [
        "0001.initial-schema", "0002.books-and-views", "0003.closed-trade-stats", "0004.archived-pnl", "0005.faster-stats-triggers",
        "0006.closed-trade-sort-indexes", "0002.symbol-index"
    ]


@pytest.mark.sqlite_only("SQLite's migrations: the backup file taken before migrating, copied back on failure")
async def test_a_new_database_or_one_without_pending_migrations_is_not_backed_up(db_path, migrations_dir):
    async with tradedb.connect(db_path) as repo:
        await repo.create_bot_instance({"id": "bot-1", "type": "paper"})
    async with tradedb.connect(db_path):
        pass
    assert not (db_path.parent / "backups").exists()


BROKEN = "CREATE TABLE trades (x INTEGER);\n"  # trades exists: fails


@pytest.mark.sqlite_only("SQLite's migrations: the backup file taken before migrating, copied back on failure")
@pytest.mark.parametrize(
    "migrations, failing, outcome",
    [
        # yoyo rolls the failed migration back itself.
        ([("0002.broken", BROKEN, "0001.initial-schema", True)], "0002.broken", "rolled back"),
        # 0002 and 0003 share one transaction: both are rolled back, no restore.
        ([("0002.good", "CREATE TABLE extra (x INTEGER);\nINSERT INTO extra VALUES (1);\n", "0001.initial-schema", True),
          ("0003.broken", BROKEN, "0002.good", True)], "0003.broken", "rolled back with any migration applied before it"),
        # Without a transaction its first statement stays: the backup is copied back.
        ([("0002.untransacted", "CREATE TABLE extra (x INTEGER);\n" + BROKEN, "0001.initial-schema", False)],
         "0002.untransacted", "restored from the backup"),
    ],
    ids=["one-transactional", "second-of-two", "non-transactional"],
)
async def test_a_failing_migration_leaves_the_database_exactly_as_it_was(
    db_path, migrations_dir, database_with_data, migrations, failing, outcome
):
    for migration_id, sql, depends, transactional in migrations:
        add_migration(migrations_dir, migration_id, sql, depends, transactional)
    with pytest.raises(tradedb.MigrationError) as caught:
        await tradedb.connect(db_path)
    (backup,) = (db_path.parent / "backups").iterdir()
    message = str(caught.value)
    assert f"migration {failing} failed on {db_path}" in message
    assert outcome in message and str(backup) in message
    assert dump(db_path) == database_with_data
    assert dump(backup) == database_with_data
    assert integrity(db_path) == "ok"


@pytest.mark.sqlite_only("SQLite's migrations: the backup file taken before migrating, copied back on failure")
async def test_a_failing_migration_on_a_new_database_rolls_back_what_it_applied(db_path, migrations_dir):
    add_migration(migrations_dir, "0002.broken", BROKEN)
    with pytest.raises(tradedb.MigrationError, match="migration 0002.broken failed.*rolled back.*no backup"):
        await tradedb.connect(db_path)
    assert not has_data(db_path)
    assert schema_state(db_path).applied == []
    assert not (db_path.parent / "backups").exists()


@pytest.mark.sqlite_only("SQLite's migrations: the backup file taken before migrating, copied back on failure")
async def test_a_failing_untransacted_migration_on_a_new_database_says_what_it_left(db_path, migrations_dir):
    add_migration(migrations_dir, "0002.untransacted", "CREATE TABLE extra (x INTEGER);\n" + BROKEN,
                  "0001.initial-schema", False)
    with pytest.raises(tradedb.MigrationError) as caught:
        await tradedb.connect(db_path)
    message = str(caught.value)
    assert "(0001.initial-schema, 0002.books-and-views) were rolled back" in message
    assert "0002.untransacted runs without a transaction, so its statements before the failing one were kept" in message
    assert f"delete {db_path} and retry" in message
    connection = sqlite3.connect(db_path)
    assert connection.execute("SELECT name FROM sqlite_master WHERE name = 'extra'").fetchall() == [("extra",)]
    connection.close()


# Health ------------------------------------------------------------------


async def test_health_of_a_healthy_database(repo, history, backend, database):
    report = await repo.health()
    if backend == "postgresql":
        with connect(database) as connection:
            major = connection.info.server_version // 10000
        assert report.pop("server_version").startswith(f"{major}.")
        assert report.pop("database_size_bytes") > 0
        assert report == {
            "ok": True,
            "database": repo.location,
            "applied_migrations": ["0001.initial-schema", "0002.books-and-views", "0003.closed-trade-stats", "0004.archived-pnl",
                                   "0005.faster-stats-triggers", "0006.closed-trade-sort-indexes"],
            "pending_migrations": [],
            "foreign_key_violations": 0,
            "row_counts": {"bot_instances": 1, "trades": 7, "performance_metrics": 4},
            "stale_bots": 0,
            "closed_trades_without_pnl": 0,
            "trades_of_another_type": 0,
            "bots_with_wrong_books": 0,
            "problems": [],
        }
        assert (await repo.health(full=True))["ok"] is True
        return
    db_path = database
    wal = db_path.with_name(db_path.name + "-wal")
    # Other processes write to this file system meanwhile: the figure is checked, not matched.
    assert 1 << 20 <= report.pop("free_disk_bytes") <= shutil.disk_usage(db_path.parent).total
    assert report == {
        "ok": True,
        "database": str(db_path),
        "sqlite_version": sqlite3.sqlite_version,
        "journal_mode": "wal",
        "applied_migrations": ["0001.initial-schema", "0002.books-and-views", "0003.closed-trade-stats", "0004.archived-pnl",
                                   "0005.faster-stats-triggers", "0006.closed-trade-sort-indexes"],
        "pending_migrations": [],
        "integrity": "ok",
        "foreign_key_violations": 0,
        "row_counts": {"bot_instances": 1, "trades": 7, "performance_metrics": 4},
        "file_size_bytes": db_path.stat().st_size + wal.stat().st_size,
        "stale_bots": 0,
        "closed_trades_without_pnl": 0,
        "trades_of_another_type": 0,
        "bots_with_wrong_books": 0,
        "problems": [],
    }
    assert (await repo.health(full=True))["integrity"] == "ok"


@pytest.mark.parametrize(
    "stale_after, stale",
    # timedelta.max reaches back past year 1: only the bot with neither time is stale.
    [(timedelta(minutes=5), 3), (timedelta(minutes=15), 1), (timedelta(0), 4), (timedelta.max, 1)],
)
async def test_health_counts_stale_bots_without_calling_the_database_unhealthy(repo, raw_sql, stale_after, stale):
    now = datetime.now(UTC)
    beat = lambda minutes: now - timedelta(minutes=minutes)  # noqa: E731
    await repo.create_bot_instance({"id": "beat-10-min-ago", "type": "paper", "last_heartbeat": beat(10)})
    await repo.create_bot_instance({"id": "beat-1-min-ago", "type": "paper", "last_heartbeat": beat(1)})
    await repo.create_bot_instance({"id": "started-10-min-ago", "type": "paper", "started_at": beat(10)})
    await repo.create_bot_instance({"id": "stopped", "type": "paper", "status": "stopped", "last_heartbeat": beat(60)})
    await repo.create_bot_instance({"id": "neither", "type": "paper"})
    raw_sql.execute("UPDATE bot_instances SET started_at = NULL WHERE id = 'neither'")
    report = await repo.health(stale_after=stale_after)
    assert report["stale_bots"] == stale
    assert report["ok"] is True


async def test_health_reports_foreign_key_violations(repo, bot, raw_sql):
    # Only a damaged database gets here. SQLite: the schema's triggers guard the keys even with the
    # pragma off, so one is dropped. PostgreSQL: a hand edit dropped the foreign key.
    if raw_sql.backend == "sqlite":
        raw_sql.execute("PRAGMA foreign_keys = OFF")
        raw_sql.execute("DROP TRIGGER bot_instances_keep_referenced_on_delete")
    else:
        raw_sql.execute("ALTER TABLE trades DROP CONSTRAINT trades_bot_id_fkey")
    raw_sql.execute("INSERT INTO bot_instances (id, type) VALUES ('gone', 'paper')")
    await repo.create_trade(trade_data(bot_id="gone"))
    raw_sql.execute("DELETE FROM bot_instances WHERE id = 'gone'")
    report = await repo.health()
    assert report["foreign_key_violations"] == 1
    assert report["ok"] is False
    said = "foreign_key_check" if raw_sql.backend == "sqlite" else "refer to a missing bot"
    assert any(said in problem for problem in report["problems"]), report["problems"]


async def test_health_reports_pending_migrations(repo, migrations_dir):
    add_migration(migrations_dir, "0002.later", "CREATE INDEX idx_later ON trades (symbol);\n")
    report = await repo.health()
    assert report["pending_migrations"] == ["0002.later"]
    assert report["ok"] is False and "0002.later" in report["problems"][0]


@pytest.mark.sqlite_only("garbage written into a page of SQLite's file")
@pytest.mark.parametrize("full", [False, True])
async def test_health_reports_a_damaged_file_instead_of_raising(db_path, full):
    async with tradedb.connect(db_path) as repo:
        await repo.create_bot_instance({"id": "bot-1", "type": "paper"})
        await repo.create_trades([trade_data() for _ in range(50)])
    connection = sqlite3.connect(db_path)
    page = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = 'idx_symbol_status'").fetchone()[0]
    size = connection.execute("PRAGMA page_size").fetchone()[0]
    connection.close()
    with db_path.open("r+b") as file:
        file.seek((page - 1) * size)
        file.write(b"\xff" * 64)  # the index page's header: garbage
    async with tradedb.connect(db_path) as repo:
        report = await repo.health(full=full)
    assert report["ok"] is False
    assert report["integrity"] != "ok" and len(report["integrity"]) >= 1
    assert any("check found" in problem for problem in report["problems"])


@pytest.mark.parametrize("stale_after", [timedelta(minutes=-1), 300, None])
async def test_health_refuses_a_bad_stale_after(repo, stale_after):
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.health(stale_after=stale_after)
    assert caught.value.field == "stale_after"
