"""Starting up: bots connecting at once, processes killed while migrating, and files left broken by either;
at the end, the same start-ups on new PostgreSQL databases (which need the test server, and fail without it)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tradedb
import tradedb.migrations
from procs import new_postgresql_database, other_sessions, postgresql_connection, read
from tradedb.migrations import schema_state

WORKER = str(Path(__file__).with_name("procs.py"))
ROOT = Path(__file__).resolve().parent.parent
STARTERS, ROUNDS = 8, 30
# Far below yoyo's 10 s lock timeout: a file left by a killed process opens at once.
AT_ONCE = 5.0


def user_objects(path: Path) -> set[tuple[str, str]]:
    connection = sqlite3.connect(path)
    try:
        return set(connection.execute(
            "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite%' AND name NOT LIKE '%yoyo%'"
        ).fetchall())
    finally:
        connection.close()


async def connects_at_once(path: Path) -> None:
    started = time.monotonic()
    async with tradedb.connect(path) as repo:
        assert await repo.list_bot_instances() == []
    assert time.monotonic() - started < AT_ONCE
    assert schema_state(path).pending == []
    report = await _health(path)
    assert report["ok"], report["problems"]


async def _health(path: Path) -> dict[str, object]:
    async with tradedb.connect(path) as repo:
        return await repo.health()


def lock_row(path: Path, pid: int) -> None:
    """What a process killed while holding yoyo's lock leaves: its row in yoyo_lock."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("CREATE TABLE IF NOT EXISTS yoyo_lock (locked INT DEFAULT 1, ctime TIMESTAMP, pid INT NOT NULL, PRIMARY KEY (locked))")
    connection.execute("INSERT INTO yoyo_lock (locked, ctime, pid) VALUES (1, '2026-01-01T00:00:00', ?)", (pid,))
    connection.close()


def gone_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def test_eight_processes_starting_together_on_new_files_all_succeed(tmp_path):
    starters = [
        subprocess.Popen([sys.executable, WORKER, "connector"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(STARTERS)
    ]
    errors: list[str] = []
    try:
        for round_ in range(ROUNDS):
            path = tmp_path / f"round-{round_}" / "trading.db"
            start = time.time() + (1.5 if round_ == 0 else 0.3)  # the first round waits for the imports
            for starter in starters:
                starter.stdin.write(f"{path} {start}\n")
                starter.stdin.flush()
            for starter in starters:
                line = await asyncio.wait_for(asyncio.to_thread(starter.stdout.readline), timeout=120)
                assert line, starter.stderr.read()
                error = json.loads(line)["error"]
                if error:
                    errors.append(f"round {round_}: {error}")
            assert schema_state(path).pending == [], round_
    finally:
        for starter in starters:
            starter.stdin.close()
            try:
                starter.wait(timeout=60)
            except subprocess.TimeoutExpired:
                starter.kill()
                starter.wait()
            starter.stdout.close()
            starter.stderr.close()
    assert errors == []


async def test_connects_of_one_process_starting_together_on_a_new_file_all_succeed(db_path):
    async def start() -> None:
        async with tradedb.connect(db_path) as repo:
            await repo.list_bot_instances()

    await asyncio.gather(*(start() for _ in range(6)))
    assert schema_state(db_path).pending == []


@pytest.mark.parametrize("statements", [1, 5, 20])
async def test_a_process_killed_during_its_first_migration_leaves_a_file_the_next_connect_opens_at_once(
    db_path, statements
):
    killed = subprocess.run([sys.executable, WORKER, "die-migrating", str(db_path), str(statements)],
                            capture_output=True, text=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    await connects_at_once(db_path)


async def test_processes_killed_at_random_moments_of_their_first_connect_never_brick_the_file(tmp_path):
    rng = random.Random(20261202)
    for round_ in range(8):
        path = tmp_path / f"kill-{round_}.db"
        child = subprocess.Popen([sys.executable, WORKER, "die-migrating", str(path), "1000000"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Until the file exists the child is still importing; then kill it within its first 0.1 s of work.
        deadline = time.monotonic() + 30
        while not path.exists() and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.1))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        await connects_at_once(path)


async def test_a_hot_journal_left_by_a_killed_first_transaction_is_rolled_back_by_connect(db_path):
    killed = subprocess.run([sys.executable, WORKER, "die-in-first-transaction", str(db_path)],
                            capture_output=True, text=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert db_path.with_name(db_path.name + "-journal").stat().st_size > 0
    await connects_at_once(db_path)


async def test_a_lock_left_by_a_process_that_is_gone_is_taken_over_and_logged(db_path, caplog):
    pid = gone_pid()
    lock_row(db_path, pid)
    with caplog.at_level(logging.WARNING, logger="tradedb.migrations"):
        await connects_at_once(db_path)
    assert any(f"process {pid}" in record.getMessage() and record.levelno == logging.WARNING
               for record in caplog.records)


async def test_a_stale_lock_on_a_migrated_file_does_not_stop_the_next_migration(db_path, migrations_dir):
    async with tradedb.connect(db_path) as repo:
        await repo.create_bot_instance({"id": "b", "type": "paper"})
    lock_row(db_path, gone_pid())
    (migrations_dir / "0099.extra-index.sql").write_text(
        f"-- A test migration.\n-- depends: {schema_state(db_path).applied[-1]}\n"
        "CREATE INDEX idx_extra ON bot_instances (type);\n"
    )
    async with tradedb.connect(db_path) as repo:
        assert (await repo.get_bot_instance("b")) is not None
    assert schema_state(db_path).pending == []
    (backup,) = (db_path.parent / "backups").iterdir()
    connection = sqlite3.connect(backup)
    # The backup is of the database as the bots left it: no lock of the run that took it.
    assert connection.execute("SELECT count(*) FROM yoyo_lock").fetchone()[0] == 0
    connection.close()


async def test_a_lock_held_by_a_live_process_is_waited_for_then_refused_with_what_to_run(db_path, monkeypatch):
    monkeypatch.setattr(tradedb.migrations, "MIGRATION_WAIT", 1.0)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock_row(db_path, holder.pid)
        started = time.monotonic()
        with pytest.raises(tradedb.MigrationError) as caught:
            await tradedb.connect(db_path, busy_timeout=0.5)
        assert 0.9 < time.monotonic() - started < AT_ONCE
    finally:
        holder.kill()
        holder.wait()
    message = str(caught.value)
    assert f"process {holder.pid}" in message and "yoyo break-lock" in message and str(db_path) in message
    # The holder is gone now: the next connect takes the lock over.
    await connects_at_once(db_path)


async def test_a_schema_created_but_not_recorded_is_recorded_by_the_next_connect(db_path, caplog):
    # What an interrupted migration of an earlier tradedb left: the tables, no record, yoyo's lock row.
    async with tradedb.connect(db_path):
        pass
    applied = schema_state(db_path).applied
    connection = sqlite3.connect(db_path, isolation_level=None)
    connection.execute("DELETE FROM _yoyo_migration")
    connection.close()
    lock_row(db_path, gone_pid())
    with caplog.at_level(logging.WARNING, logger="tradedb.migrations"):
        await connects_at_once(db_path)
    assert schema_state(db_path).applied == applied
    assert any("recorded" in record.getMessage() for record in caplog.records)


async def test_a_partly_created_schema_is_refused_with_what_to_do(db_path):
    async with tradedb.connect(db_path):
        pass
    connection = sqlite3.connect(db_path, isolation_level=None)
    connection.execute("DELETE FROM _yoyo_migration")
    connection.execute("DROP TABLE performance_metrics")
    connection.close()
    for _ in range(2):
        with pytest.raises(tradedb.MigrationError) as caught:
            await tradedb.connect(db_path)
    message = str(caught.value)
    assert str(db_path) in message and "table performance_metrics is missing" in message
    assert "backup" in message
    # Refused before backing up: retrying does not fill the folder with copies of a damaged file.
    assert not (db_path.parent / "backups").exists()


@pytest.fixture
def migrations_dir(tmp_path, monkeypatch):
    """A copy of the migrations that tests can add to."""
    folder = tmp_path / "migrations"
    folder.mkdir()
    for path in (ROOT / "migrations" / "sqlite").glob("*.sql"):
        (folder / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(tradedb.migrations, "migrations_folder", lambda: folder)
    return folder


# Health: the schema is the one the applied migrations produce ------------------


async def damaged(db_path: Path, *statements: str) -> dict[str, object]:
    async with tradedb.connect(db_path) as repo:
        await repo.create_bot_instance({"id": "b", "type": "paper"})
    connection = sqlite3.connect(db_path, isolation_level=None)
    for statement in statements:
        connection.execute(statement)
    connection.close()
    return await _health(db_path)


def trigger_names(db_path: Path) -> list[str]:
    connection = sqlite3.connect(db_path)
    try:
        return [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")]
    finally:
        connection.close()


async def test_health_reports_each_dropped_trigger(db_path):
    async with tradedb.connect(db_path):
        pass
    names = trigger_names(db_path)
    assert len(names) >= 2
    report = await damaged(db_path, *(f"DROP TRIGGER {name}" for name in names[:2]))
    assert report["ok"] is False
    for name in names[:2]:
        assert any(f"trigger {name} is missing" in problem and "backup" in problem for problem in report["problems"])


async def test_health_reports_a_column_dropped_through_a_table_rebuild(db_path):
    report = await damaged(
        db_path,
        "PRAGMA foreign_keys = OFF",
        "PRAGMA legacy_alter_table = ON",  # the shell's usual rebuild: triggers and views are not re-checked
        "CREATE TABLE perf_new AS SELECT id, bot_id FROM performance_metrics",
        "DROP TABLE performance_metrics",
        "ALTER TABLE perf_new RENAME TO performance_metrics",
    )
    assert report["ok"] is False
    assert any(p.startswith("table performance_metrics differs") and "column calculated_at is missing" in p
               for p in report["problems"]), report["problems"]


async def test_health_reports_objects_the_migrations_do_not_make(db_path):
    report = await damaged(
        db_path,
        "CREATE INDEX my_own_index ON trades (symbol)",
        "CREATE VIEW my_own_view AS SELECT id FROM trades",
    )
    problems = report["problems"]
    assert any("index my_own_index" in p and "not made by the migrations" in p for p in problems), problems
    assert any("view my_own_view" in p for p in problems), problems
    assert report["ok"] is False


async def test_health_of_an_undamaged_database_reports_no_schema_problem(db_path):
    report = await damaged(db_path)
    assert report["ok"] is True, report["problems"]


async def test_connect_to_an_up_to_date_file_takes_a_stale_lock_away(db_path):
    async with tradedb.connect(db_path):
        pass
    lock_row(db_path, gone_pid())
    async with tradedb.connect(db_path):
        pass
    connection = sqlite3.connect(db_path)
    # yoyo's own CLI would otherwise wait 10 s and fail, every time.
    assert connection.execute("SELECT count(*) FROM yoyo_lock").fetchone()[0] == 0
    connection.close()


async def test_a_migration_yoyo_cannot_order_gives_a_migration_error_not_yoyos_own(db_path, migrations_dir):
    (migrations_dir / "0099.orphan.sql").write_text("-- A test migration.\n-- depends: 0098.missing\nCREATE TABLE z (x);\n")
    with pytest.raises(tradedb.MigrationError, match="cannot read the migrations.*0099.orphan"):
        await tradedb.connect(db_path)


async def test_a_failed_migration_leaves_no_lock_and_the_next_connect_migrates(db_path, migrations_dir):
    async with tradedb.connect(db_path):
        pass
    last = schema_state(db_path).applied[-1]
    broken = migrations_dir / "0099.broken.sql"
    broken.write_text(f"-- A test migration.\n-- depends: {last}\nCREATE TABLE extra (x INTEGER);\nCREATE TABLE trades (x);\n")
    with pytest.raises(tradedb.MigrationError, match="0099.broken failed"):
        await tradedb.connect(db_path)
    connection = sqlite3.connect(db_path)
    assert connection.execute("SELECT count(*) FROM yoyo_lock").fetchone()[0] == 0
    connection.close()
    broken.write_text(f"-- A test migration.\n-- depends: {last}\nCREATE TABLE extra (x INTEGER);\n")
    await connects_at_once(db_path)


async def test_a_migration_without_transaction_cut_short_is_refused_with_what_is_missing(db_path, migrations_dir):
    async with tradedb.connect(db_path) as repo:
        await repo.create_bot_instance({"id": "b", "type": "paper"})
    last = schema_state(db_path).applied[-1]
    (migrations_dir / "0099.two-tables.sql").write_text(
        f"-- A test migration.\n-- depends: {last}\n-- transactional: false\n"
        "CREATE TABLE extra (x INTEGER);\nCREATE TABLE extra2 (y INTEGER);\n"
    )
    # What a process killed between its two statements leaves: the first table and its lock.
    connection = sqlite3.connect(db_path, isolation_level=None)
    connection.execute("CREATE TABLE extra (x INTEGER)")
    connection.close()
    lock_row(db_path, gone_pid())
    with pytest.raises(tradedb.MigrationError) as caught:
        await tradedb.connect(db_path)
    message = str(caught.value)
    assert "0099.two-tables" in message and "table extra2 is missing" in message and "half-migrated" in message
    assert "backup" in message


async def test_a_run_failing_on_its_second_migration_keeps_every_trade_a_running_bot_committed(db_path, migrations_dir):
    # The reviewer's case: a bot writes all through a run whose first migration
    # is good and whose second fails; a restore of the backup taken before the
    # run used to drop the trades the bot committed in between.
    async with tradedb.connect(db_path):
        pass
    last = schema_state(db_path).applied[-1]
    # The writer reads the installed migrations (the ones db_path has): only this process sees the new two.
    writer = subprocess.Popen([sys.executable, WORKER, "writer", str(db_path), "bot-w", "7"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    reading = asyncio.create_task(asyncio.to_thread(lambda: lines.extend(writer.stdout)))
    try:
        deadline = time.monotonic() + 60
        while len(lines) < 200 and time.monotonic() < deadline and writer.poll() is None:
            await asyncio.sleep(0.01)
        assert len(lines) >= 200, writer.stderr.read() if writer.poll() is not None else "the writer is too slow"
        (migrations_dir / "0098.good.sql").write_text(
            f"-- A test migration.\n-- depends: {last}\nCREATE TABLE extra (x INTEGER);\nINSERT INTO extra VALUES (1);\n"
        )
        (migrations_dir / "0099.fail.sql").write_text("-- A test migration.\n-- depends: 0098.good\nCREATE TABLE trades (x);\n")
        with pytest.raises(tradedb.MigrationError, match="0099.fail failed"):
            await asyncio.to_thread(tradedb.migrations.apply_migrations, db_path)
        await asyncio.sleep(0.3)  # the bot carries on writing after the failed run
    finally:
        writer.terminate()
        writer.wait(timeout=30)
        await reading
        writer.stdout.close()
        writer.stderr.close()
    # The last line can be cut short by the terminate: only whole "<what> <id>" lines count.
    logged = [parts for parts in map(str.split, lines) if len(parts) == 2]
    created = {trade_id for what, trade_id in logged if what == "created"}
    closed = {trade_id for what, trade_id in logged if what == "closed"}
    connection = sqlite3.connect(db_path)
    try:
        stored = dict(connection.execute("SELECT id, status FROM trades").fetchall())
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        connection.close()
    assert sorted(created - stored.keys()) == []
    assert sorted(t for t in closed if stored.get(t) != "closed") == []
    assert "extra" not in tables and "0098.good" not in schema_state(db_path).applied


async def test_a_migration_another_run_applied_meanwhile_is_not_applied_again(db_path, migrations_dir, monkeypatch):
    # Another run (say, in a container whose pid check wrongly found this run's
    # process gone) applies the migration after this run listed it as pending.
    async with tradedb.connect(db_path) as repo:
        await repo.create_bot_instance({"id": "b", "type": "paper"})
    (migrations_dir / "0099.extra.sql").write_text(
        f"-- A test migration.\n-- depends: {schema_state(db_path).applied[-1]}\n"
        "CREATE TABLE extra (x INTEGER);\nINSERT INTO extra VALUES (1);\n"
    )
    copy = tradedb.migrations.copy_database

    def copy_then_other_run_applies(source, dest, busy_timeout):
        copy(source, dest, busy_timeout)
        connection = sqlite3.connect(db_path, isolation_level=None)
        other = tradedb.migrations._Backend(connection, db_path)
        other._internal_schema_updated = True  # its tables are there; yoyo's own check would wait for the lock row
        (migration,) = other.to_apply(tradedb.migrations.known_migrations(loaded=True))
        with tradedb.migrations._transaction(connection):
            tradedb.migrations._steps(other, migration, "apply")
            tradedb.migrations._record(other, migration)
        connection.close()

    monkeypatch.setattr(tradedb.migrations, "copy_database", copy_then_other_run_applies)
    run = await asyncio.to_thread(tradedb.migrations.apply_migrations, db_path)
    assert run.applied == []
    connection = sqlite3.connect(db_path)
    assert connection.execute("SELECT count(*) FROM extra").fetchone()[0] == 1
    connection.close()
    assert schema_state(db_path).pending == []


async def test_a_truncated_file_is_reported_as_damaged_with_what_to_do(tmp_path):
    path = tmp_path / "trading.db"
    async with tradedb.connect(path) as repo:
        await repo.create_bot_instance({"id": "bot-1", "type": "paper", "extra_metadata": {"pad": "x" * 20000}})
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode = DELETE")  # one self-contained file to cut short
    connection.close()
    os.truncate(path, path.stat().st_size - 8192)
    with pytest.raises(tradedb.DatabaseDamaged) as caught:
        await tradedb.connect(path)
    message = str(caught.value)
    assert "damaged" in message and ".restore" in message and ".recover" in message


# PostgreSQL: the same start-ups on a new database of the test server --------
#
# Migrations there run under a session-level advisory lock (tradedb.postgresql.
# prepare): a second host waits for it, and one that dies holding it releases
# it with its session. yoyo's lock row is not used. These tests FAIL, never
# skip, without the server (TRADEDB_TEST_POSTGRESQL_URL, by default
# postgresql://root@127.0.0.1:5432/test); each makes databases of its own and
# drops them.

PG_ROUNDS = 10  # each round a new database; 8 processes on each


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database's URL."""
    with new_postgresql_database() as url:
        yield url


def recorded_once(url: str) -> None:
    """Every migration of this version applied, recorded and logged exactly once; no yoyo lock row."""
    from tradedb.postgresql import known_ids

    once = dict.fromkeys(known_ids(), 1)
    assert dict(read(url, "SELECT migration_id, count(*) FROM _yoyo_migration GROUP BY migration_id")) == once
    assert dict(read(
        url, "SELECT migration_id, count(*) FROM _yoyo_log WHERE operation = 'apply' GROUP BY migration_id"
    )) == once
    if read(url, "SELECT to_regclass('yoyo_lock') IS NOT NULL") == [(True,)]:
        assert read(url, "SELECT count(*) FROM yoyo_lock") == [(0,)]


async def pg_connects_at_once(url: str) -> None:
    started = time.monotonic()
    async with tradedb.connect(url) as repo:
        assert await repo.list_bot_instances() == []
        report = await repo.health()
    assert time.monotonic() - started < AT_ONCE
    recorded_once(url)
    assert report["ok"], report["problems"]


def migration_lock_waiters(url: str) -> int:
    """How many sessions wait for tradedb's migration lock on the database at `url`."""
    from tradedb.postgresql import MIGRATION_LOCK

    # pg_locks shows a bigint advisory key as its high (classid) and low (objid) 32 bits.
    high, low = MIGRATION_LOCK >> 32, MIGRATION_LOCK & 0xFFFFFFFF
    return read(
        url,
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database() "
        "AND l.classid::bigint = ? AND l.objid::bigint = ?",
        (high, low),
    )[0][0]


async def wait_for_waiter(url: str, connecting: asyncio.Task[Any]) -> None:
    """Until `connecting` waits for the migration lock (and has not finished meanwhile)."""
    deadline = time.monotonic() + 30
    while not migration_lock_waiters(url):
        assert not connecting.done(), connecting.result()
        assert time.monotonic() < deadline, "the connect never waited for the migration lock"
        await asyncio.sleep(0.05)


async def test_eight_processes_starting_together_on_new_postgresql_databases_all_succeed():
    starters = [
        subprocess.Popen([sys.executable, WORKER, "connector"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(STARTERS)
    ]
    errors: list[str] = []
    try:
        for round_ in range(PG_ROUNDS):
            with new_postgresql_database() as url:
                start = time.time() + (1.5 if round_ == 0 else 0.3)  # the first round waits for the imports
                for starter in starters:
                    starter.stdin.write(f"{url} {start}\n")
                    starter.stdin.flush()
                for starter in starters:
                    line = await asyncio.wait_for(asyncio.to_thread(starter.stdout.readline), timeout=120)
                    assert line, starter.stderr.read()
                    error = json.loads(line)["error"]
                    if error:
                        errors.append(f"round {round_}: {error}")
                recorded_once(url)
    finally:
        for starter in starters:
            starter.stdin.close()
            try:
                starter.wait(timeout=60)
            except subprocess.TimeoutExpired:
                starter.kill()
                starter.wait()
            starter.stdout.close()
            starter.stderr.close()
    assert errors == []


async def test_connects_of_one_process_starting_together_on_a_new_postgresql_database_all_succeed(pg_url):
    async def start() -> None:
        async with tradedb.connect(pg_url) as repo:
            await repo.list_bot_instances()

    await asyncio.gather(*(start() for _ in range(6)))
    recorded_once(pg_url)


# 0001 and 0002 have 17 statements each, each migration in one transaction:
# killed in 0001's first statement, its last one (before its commit), 0002's
# first (0001 committed), 0002's last; and once 0001's statements have run,
# as it is recorded.
@pytest.mark.parametrize("when", ["1", "17", "18", "34", "recording"])
async def test_a_process_killed_during_its_first_migration_leaves_a_postgresql_database_the_next_connect_opens_at_once(
    pg_url, when
):
    killed = subprocess.run([sys.executable, WORKER, "die-migrating", pg_url, when],
                            capture_output=True, text=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    await pg_connects_at_once(pg_url)


async def test_processes_killed_at_random_moments_of_their_first_connect_never_brick_a_postgresql_database():
    rng = random.Random(20261202)
    for _ in range(8):
        with new_postgresql_database() as url:
            child = subprocess.Popen([sys.executable, WORKER, "die-migrating", url, "1000000"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # Until it has a session on the database the child is still importing; then kill it
            # within its first 0.1 s of work (a migration takes about 0.2 s).
            deadline = time.monotonic() + 30
            while not other_sessions(url) and time.monotonic() < deadline and child.poll() is None:
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.1))
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
            await pg_connects_at_once(url)


async def test_a_connect_waits_for_another_hosts_postgresql_migration_and_does_not_apply_it_again(pg_url):
    from tradedb.postgresql import MIGRATION_LOCK, apply_migrations

    with postgresql_connection(pg_url) as other_host:
        other_host.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
        connecting = asyncio.create_task(pg_connects_at_once(pg_url))
        await wait_for_waiter(pg_url, connecting)
        await asyncio.sleep(1.0)
        assert not connecting.done()  # however long the other host takes
        # The other host migrates, then lets go of the lock.
        await asyncio.to_thread(apply_migrations, pg_url, "the other host")
        other_host.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK])
        await asyncio.wait_for(connecting, AT_ONCE)
    recorded_once(pg_url)


async def test_a_host_that_dies_holding_the_postgresql_migration_lock_never_blocks_the_next(pg_url):
    holder = subprocess.Popen([sys.executable, WORKER, "hold-migration-lock", pg_url],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = await asyncio.wait_for(asyncio.to_thread(holder.stdout.readline), timeout=60)
        assert line == "locked\n", holder.stderr.read()
        connecting = asyncio.create_task(pg_connects_at_once(pg_url))
        await wait_for_waiter(pg_url, connecting)
        await asyncio.sleep(0.5)
        assert not connecting.done()
        holder.send_signal(signal.SIGKILL)
        # The server ends the dead process's session, and its lock with it, at once.
        await asyncio.wait_for(connecting, AT_ONCE)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
        holder.stderr.close()
    recorded_once(pg_url)
