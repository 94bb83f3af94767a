"""Paths users give: a backup, an export or a --database never lands on a database or the files SQLite keeps beside it."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tradedb
from cli_support import assert_one_line_error, cli, digest
from conftest import trade_data

pytestmark = pytest.mark.sqlite_only("paths against a SQLite file and its side files (backups on PostgreSQL: tests/test_cli_postgresql.py, test_upkeep.py)")

WORKER = str(Path(__file__).with_name("procs.py"))
SIDE = ["-wal", "-shm", "-journal"]


def ways_to_name(target: Path, scratch: Path) -> list[Path]:
    """`target` reached through a missing folder and `..`, through a symlink, and through a symlinked folder."""
    link = scratch / f"link-to-{target.name}"
    link.symlink_to(target)
    folder_link = scratch / f"folder-of-{target.name}"
    folder_link.symlink_to(target.parent, target_is_directory=True)
    return [target.parent / "nosuch" / ".." / target.name, link, folder_link / target.name]


@pytest.mark.parametrize("suffix", ["", *SIDE])
async def test_a_backup_never_lands_on_the_database_or_its_side_files(repo, bot, db_path, tmp_path, suffix):
    await repo.create_trade(trade_data())
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    before = digest(db_path)
    for dest in ways_to_name(db_path.with_name(db_path.name + suffix), scratch):
        with pytest.raises(tradedb.ConflictError, match="refusing to write over the database"):
            await repo.backup(dest)
        with pytest.raises(tradedb.ConflictError):
            await repo.backup(str(dest))
    assert digest(db_path) == before
    assert not (tmp_path / "nosuch").exists()  # refused before any folder was made
    assert len(await repo.get_open_trades()) == 1


async def test_a_hard_link_to_the_database_is_the_database(repo, bot, db_path, tmp_path):
    twin = tmp_path / "twin.db"
    os.link(db_path, twin)
    with pytest.raises(tradedb.ConflictError, match="refusing to write over the database"):
        await repo.backup(twin)


async def test_a_backup_is_never_the_side_file_of_another_database(repo, bot, tmp_path):
    other = tmp_path / "other" / "books.db"
    other.parent.mkdir()
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    for suffix in SIDE:
        with pytest.raises(tradedb.ConflictError, match=f"of the SQLite database {other}"):
            await repo.backup(tmp_path / "other" / f"books.db{suffix}")
    assert sorted(p.name for p in other.parent.iterdir()) == ["books.db"]


@pytest.mark.parametrize("suffix", SIDE)
async def test_a_backup_is_refused_where_leftover_side_files_would_join_it(repo, bot, tmp_path, suffix):
    dest = tmp_path / "old.db"
    leftover = tmp_path / f"old.db{suffix}"
    leftover.write_bytes(b"left behind by a database that was deleted")
    with pytest.raises(tradedb.ConflictError, match="SQLite would read it as part of the new database"):
        await repo.backup(dest)
    assert not dest.exists()


async def test_a_dangling_symlink_a_folder_or_a_device_is_refused(repo, bot, tmp_path):
    dangling = tmp_path / "dangling.db"
    dangling.symlink_to(tmp_path / "gone" / "x.db")
    for dest, words in ((dangling, "does not exist"), (tmp_path, "is a folder"), (Path("/dev/null"), "not a regular file")):
        with pytest.raises(tradedb.ValidationError, match=words) as caught:
            await repo.backup(dest)
        assert caught.value.field == "dest"
    assert not (tmp_path / "gone").exists()


async def test_a_backup_through_a_symlink_to_a_new_name_lands_where_the_link_leads(repo, bot, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "via").symlink_to(real, target_is_directory=True)
    written = await repo.backup(tmp_path / "via" / "copy.db")
    assert written == real / "copy.db" and (real / "copy.db").is_file()


async def test_the_default_and_relative_destinations_still_work(repo, bot, db_path, tmp_path, monkeypatch):
    default = await repo.backup()
    assert default.parent == db_path.parent.resolve() / "backups"
    monkeypatch.chdir(tmp_path)
    assert await repo.backup("sub/../rel.db") == tmp_path.resolve() / "rel.db"
    assert not (tmp_path / "sub").exists()


def test_publish_never_replaces_what_appeared_meanwhile(tmp_path):
    import tradedb.paths

    database = tmp_path / "trading.db"
    database.write_bytes(b"live")
    partial = tmp_path / "partial"
    partial.write_bytes(b"copy")
    dest = tmp_path / "dest.db"
    dest.write_bytes(b"arrived after the check")
    with pytest.raises(tradedb.ConflictError, match="exists already"):
        tradedb.paths.publish(partial, dest, database=database)
    assert dest.read_bytes() == b"arrived after the check"
    # A folder on the way that became a symlink to the database's folder.
    moved = tmp_path / "moved"
    moved.symlink_to(tmp_path, target_is_directory=True)
    for name in ("trading.db", "trading.db-wal"):
        with pytest.raises(tradedb.ConflictError, match="leads to the database"):
            tradedb.paths.publish(partial, moved / name, database=database, overwrite=True)
    assert database.read_bytes() == b"live" and not (tmp_path / "trading.db-wal").exists()


@pytest.mark.parametrize("suffix", SIDE)
async def test_a_side_file_is_refused_as_a_database(repo, db_path, suffix):
    side = db_path.with_name(db_path.name + suffix)
    side.touch(exist_ok=True)
    with pytest.raises(tradedb.ValidationError, match=f"give {db_path} itself") as caught:
        await tradedb.connect(side)
    assert caught.value.field == "database"


def test_a_device_is_refused_as_a_database():
    with pytest.raises(tradedb.ValidationError, match="not a regular file"):
        tradedb.repository.resolve_database("/dev/null")


# The bug as reported: `tradedb backup nosuch/../trading.db` while a bot writes.


def start_writer(path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, WORKER, "writer", str(path), "writer", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_cli_backup_onto_the_database_while_another_process_writes_is_refused_and_loses_nothing(db, tmp_path):
    writer = start_writer(db)
    assert writer.stdout is not None
    try:
        assert writer.stdout.readline().startswith(("created", "closed"))  # it is writing
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        (scratch / "folder").symlink_to(tmp_path, target_is_directory=True)
        for suffix in ("", *SIDE):
            (scratch / f"link{suffix}").symlink_to(db.with_name(db.name + suffix))
            for dest in (f"nosuch/../trading.db{suffix}", f"scratch/link{suffix}", f"scratch/folder/trading.db{suffix}"):
                result = cli("backup", dest, "--database", "trading.db", cwd=tmp_path)
                assert_one_line_error(result, "refusing to write over the database")
                assert result.code == 1
        time.sleep(0.2)
    finally:
        writer.send_signal(signal.SIGKILL)
        out, err = writer.communicate(timeout=60)
    # Whole lines only: the kill may cut the last one short.
    committed = [line.split()[1] for line in out.split("\n")[:-1] if line.startswith("created")]
    assert committed and "Traceback" not in err
    connection = sqlite3.connect(db)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = {row[0] for row in connection.execute("SELECT id FROM trades")}
    finally:
        connection.close()
    assert set(committed) <= stored
    assert not (tmp_path / "nosuch").exists()


def test_cli_refuses_a_side_file_as_the_database(db, tmp_path):
    before = digest(db)
    wal = db.with_name(db.name + "-journal")
    wal.touch()
    result = cli("bots", "--database", str(wal), cwd=tmp_path)
    assert_one_line_error(result, "rollback journal", f"give {db} itself")
    assert digest(db) == before and wal.read_bytes() == b""


class _Fussy(str):
    """A str subclass whose own comparison must never be called."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("__eq__ called")

    __hash__ = str.__hash__


class _BytesPath:
    def __fspath__(self) -> bytes:
        return b"x.db"


HOSTILE_PATHS = [
    "a\x00b.db", "x\ud800.db", 42, b"x.db", pytest.param(10**5000, id="huge-int"), [[[]]], _BytesPath(),
    "n" * 300 + ".db", "nosuch/" + "n" * 300 + ".db", "f" * 300 + "/x.db",
]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
async def test_a_path_no_file_system_can_take_is_a_validation_error(repo, tmp_path, monkeypatch, path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(tradedb.ValidationError) as caught:
        await tradedb.connect(path)
    assert caught.value.field == "database"
    with pytest.raises(tradedb.ValidationError) as caught:
        await repo.backup(path)
    assert caught.value.field == "dest"
    assert not (tmp_path / "nosuch").exists()  # refused before any folder was made


def test_publish_writes_in_the_folder_it_checked_even_if_the_path_is_swapped_meanwhile(tmp_path, monkeypatch):
    import tradedb.paths

    database = tmp_path / "trading.db"
    database.write_bytes(b"live")
    (tmp_path / "via").mkdir()
    partial = tmp_path / "via" / "partial"
    partial.write_bytes(b"copy")
    checked = tradedb.paths._is_database_folder

    def swap_after_the_check(folder, db):
        result = checked(folder, db)
        # Between the check and the rename: the folder on the way now leads to the database's folder.
        (tmp_path / "via").rename(tmp_path / "via-old")
        (tmp_path / "via").symlink_to(tmp_path, target_is_directory=True)
        return result

    monkeypatch.setattr(tradedb.paths, "_is_database_folder", swap_after_the_check)
    tradedb.paths.publish(tmp_path / "via-old" / "partial", tmp_path / "via" / "trading.db-wal",
                          database=database, overwrite=True)
    assert (tmp_path / "via-old" / "trading.db-wal").read_bytes() == b"copy"
    assert not (tmp_path / "trading.db-wal").exists() and database.read_bytes() == b"live"


async def test_a_str_subclass_is_read_as_the_path_it_spells(tmp_path):
    async with tradedb.connect(_Fussy(tmp_path / "fussy.db")) as repo:
        assert repo.path.name == "fussy.db"
        copy = await repo.backup(_Fussy(tmp_path / "copy.db"))
    assert copy.exists()

