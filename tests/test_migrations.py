"""Migrations: no drift from sql/sqlite/schema.sql, clean rollback, the yoyo CLI, and refusing unknown versions."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import tradedb
from tradedb.migrations import apply_pending, rollback_all, schema_state

ROOT = Path(__file__).resolve().parent.parent
YOYO = str(Path(sys.executable).parent / "yoyo")


def schema_objects(path: Path) -> dict[tuple[str, str], str]:
    """Every table, index, trigger and view except yoyo's, with comment-free, whitespace-normalized SQL."""
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE '%yoyo%'"
        ).fetchall()
    finally:
        connection.close()
    return {(kind, name): " ".join(re.sub(r"--[^\n]*", "", sql).split()) for kind, name, sql in rows}


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_migrations_give_exactly_the_readable_schema(tmp_path):
    migrated, written = tmp_path / "migrated.db", tmp_path / "written.db"
    apply_pending(migrated)
    connection = sqlite3.connect(written)
    connection.executescript((ROOT / "sql" / "sqlite" / "schema.sql").read_text())
    connection.close()
    expected = schema_objects(written)
    assert {kind for kind, _ in expected} == {"table", "index", "trigger", "view"}
    assert schema_objects(migrated) == expected


def test_rolling_back_every_migration_leaves_an_empty_database(tmp_path):
    path = tmp_path / "t.db"
    apply_pending(path)
    rollback_all(path)
    assert schema_objects(path) == {}
    assert schema_state(path).applied == []


def test_every_migration_has_a_rollback_and_a_description():
    forward = sorted(p for p in (ROOT / "migrations" / "sqlite").glob("*.sql") if not p.name.endswith(".rollback.sql"))
    assert forward
    for path in forward:
        assert path.with_name(path.stem + ".rollback.sql").exists(), path
        text = path.read_text()
        assert text.startswith("-- ") and "-- depends:" in text, path


def test_yoyo_cli_applies_the_migrations_from_the_repo_root(tmp_path):
    path = tmp_path / "cli.db"
    result = subprocess.run(
        [YOYO, "apply", "--batch", "--database", f"sqlite:///{path}", "migrations/sqlite"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert schema_state(path).pending == []


async def test_connect_applies_pending_migrations_and_migrate_false_refuses_them(tmp_path):
    fresh = tmp_path / "sub" / "folder" / "fresh.db"
    with pytest.raises(tradedb.MigrationError, match="tradedb migrate"):
        await tradedb.connect(fresh, migrate=False)
    assert not fresh.exists()
    async with tradedb.connect(f"sqlite:///{fresh}") as repo:
        assert await repo.list_bot_instances() == []
    assert schema_state(fresh).pending == []
    async with tradedb.connect(fresh, migrate=False) as repo:
        assert await repo.list_bot_instances() == []


@pytest.mark.parametrize("migrate", [True, False])
async def test_a_database_from_a_newer_tradedb_is_refused_and_untouched(tmp_path, migrate):
    path = tmp_path / "newer.db"
    async with tradedb.connect(path) as repo:
        await repo.create_bot_instance({"id": "b", "type": "paper"})
    connection = sqlite3.connect(path)
    connection.execute(
        "INSERT INTO _yoyo_migration (migration_hash, migration_id, applied_at_utc) "
        "VALUES ('abc', '9999.from-the-future', '2030-01-01 00:00:00')"
    )
    connection.commit()
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    before = file_digest(path)
    with pytest.raises(tradedb.MigrationError, match="9999.from-the-future.*newer tradedb"):
        await tradedb.connect(path, migrate=migrate)
    assert file_digest(path) == before
    assert not path.with_name("newer.db-wal").exists() or path.with_name("newer.db-wal").stat().st_size == 0


async def test_a_file_that_is_not_a_database_is_refused_and_untouched(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not a database\n" * 100)
    before = file_digest(path)
    with pytest.raises(tradedb.TradeDBError, match="not a SQLite database"):
        await tradedb.connect(path)
    assert file_digest(path) == before


@pytest.mark.parametrize(
    "location",
    [":memory:", "mysql://localhost/trades", "sqlite://relative.db", "", "we#ird/t.db", "t.db?mode=ro", "a%20b.db", "."],
)
async def test_locations_that_are_not_plain_files_are_refused(tmp_path, monkeypatch, location):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(tradedb.ValidationError) as caught:
        await tradedb.connect(location)
    assert caught.value.field == "database"
    assert list(tmp_path.iterdir()) == []


async def test_default_location_comes_from_the_environment(tmp_path, monkeypatch):
    target = tmp_path / "env" / "trading.db"
    monkeypatch.setenv("TRADEDB_DATABASE", str(target))
    repo = await tradedb.connect()
    try:
        assert repo.path == target
    finally:
        await repo.close()
    assert target.exists()


async def test_a_database_migrated_by_the_yoyo_cli_has_exactly_the_schema_health_expects(tmp_path):
    path = tmp_path / "cli.db"
    result = subprocess.run(
        [YOYO, "apply", "--batch", "--database", f"sqlite:///{path}", "migrations/sqlite"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    async with tradedb.connect(path, migrate=False) as repo:
        report = await repo.health()
    assert report["ok"] is True, report["problems"]
    connection = sqlite3.connect(path)
    connection.execute("DROP INDEX " + connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND name NOT LIKE '%yoyo%'"
    ).fetchone()[0])
    connection.commit()
    connection.close()
    async with tradedb.connect(path, migrate=False) as repo:
        report = await repo.health()
    assert report["ok"] is False and any("is missing" in problem for problem in report["problems"])


def test_the_yoyo_internals_tradedb_relies_on_are_still_there():
    # tradedb runs yoyo's migrations inside its own transactions (tradedb/migrations.py)
    # by setting two of yoyo's private flags: a yoyo that renamed them would go on
    # without error, committing tradedb's transactions behind its back.
    import inspect

    from yoyo import internalmigrations
    from yoyo.backends.base import DatabaseBackend

    source = inspect.getsource(DatabaseBackend)
    for name in ("_in_transaction", "_internal_schema_updated"):
        assert f"self.{name}" in source and hasattr(DatabaseBackend, name), name
    for method in ("apply_one", "log_migration", "mark_one", "unmark_one", "create_lock_table", "to_apply"):
        assert callable(getattr(DatabaseBackend, method)), method
    assert "log" in inspect.signature(DatabaseBackend.mark_one).parameters
    assert callable(internalmigrations.needs_upgrading) and callable(internalmigrations.upgrade)
