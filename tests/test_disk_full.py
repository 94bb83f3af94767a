"""A full disk: its own error, nothing half-written, and writing resumes once space is freed, without a restart."""

from __future__ import annotations

import errno
import gc
import os
import shutil
import sqlite3
import subprocess
import warnings
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import tradedb
from cli_support import cli
from conftest import trade_data
from tradedb.sqlite import LOW_DISK_BYTES, WRITER_CACHE_KIB

OLD = datetime(2020, 1, 1, tzinfo=timezone.utc)
PAD = {"pad": "x" * 2000}  # a trade of about 2 KB: the disk fills in a few dozen writes


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted for this test alone, unmounted after it."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs is not permitted here: there is no mount command")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here (needs root or CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        gc.collect()
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], check=True)
            pytest.fail(f"{folder} was still in use at the end of the test: a file on it was left open")


def fill(folder: Path) -> Path:
    """Take every free byte of the file system at `folder` with one file, and return that file."""
    filler = folder / "filler"
    with open(filler, "ab", buffering=0) as file:
        for chunk in (b"\0" * 65536, b"\0" * 4096, b"\0" * 512):
            try:
                while True:
                    file.write(chunk)
            except OSError as error:
                assert error.errno == errno.ENOSPC
    stats = os.statvfs(folder)
    assert stats.f_bavail == 0
    return filler


def open_files_under(folder: Path) -> list[str]:
    """The files under `folder` this process holds open."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            found.append(target)
    return found


async def state(repo: tradedb.Repository) -> tuple[Any, ...]:
    """What a failed write must not change: the trades, the bot's books, the stored metrics."""
    bot = await repo.get_bot_instance("bot-1")
    assert bot is not None
    trades = sorted([(t.id, t.status, t.net_pnl) async for t in repo.iter_trades()])
    metrics = len(await repo.get_performance_metrics("bot-1"))
    return trades, bot.total_pnl, bot.current_balance, metrics


async def test_a_writer_that_fills_the_disk_gets_disk_full_and_resumes_once_space_is_freed(disk: Path) -> None:
    filler = disk / "filler"
    filler.write_bytes(b"\0" * (1 << 20))
    async with tradedb.connect(disk / "trading.db") as repo:
        await repo.create_bot_instance({"id": "bot-1", "type": "paper", "current_balance": "1000"})
        written = 0
        with pytest.raises(tradedb.DiskFull) as caught:
            for _ in range(1000):
                await repo.create_trade(trade_data(extra_metadata=PAD))
                written += 1
        message = str(caught.value)
        assert f"file system at {disk} " in message and "nothing was written" in message
        assert "bytes free" in message
        assert len([t async for t in repo.iter_trades()]) == written

        report = await repo.health()
        assert report["ok"] is False and report["free_disk_bytes"] < LOW_DISK_BYTES
        assert any("bytes free" in problem and str(disk) in problem for problem in report["problems"])
        status = cli("status", "--database", str(disk / "trading.db"), cwd=disk.parent)
        assert status.code == 1 and "bytes free" in status.out, status

        filler.unlink()  # 1 MiB freed: as much as the report
        failures = 0
        for _ in range(50):
            try:
                await repo.create_trade(trade_data(extra_metadata=PAD))
            except tradedb.DiskFull:
                failures += 1
        assert failures == 0
        assert len([t async for t in repo.iter_trades()]) == written + 50
        # The WAL gave back the space it had taken while the disk was full.
        assert (disk / "trading.db-wal").stat().st_size < 64 * 1024
        report = await repo.health()
        assert report["ok"] is True, report["problems"]


async def _setup(repo: tradedb.Repository) -> dict[str, Any]:
    await repo.create_bot_instance({"id": "bot-1", "type": "paper", "current_balance": "1000"})
    opened = await repo.create_trade(trade_data())
    await repo.create_trades(
        [
            trade_data(entry_time=OLD, status="closed", exit_time=OLD, exit_price=str(50000 + i * 100))
            for i in range(1, 6)
        ]
    )
    return {"open_id": opened.id}


async def _create_trade(repo: tradedb.Repository, ids: dict[str, Any]) -> None:
    await repo.create_trade(trade_data())


async def _create_trades(repo: tradedb.Repository, ids: dict[str, Any]) -> None:
    await repo.create_trades([trade_data(extra_metadata=PAD) for _ in range(20)])


async def _close_trade(repo: tradedb.Repository, ids: dict[str, Any]) -> None:
    await repo.close_trade(ids["open_id"], exit_price="51000", commission="2.5")


async def _transaction(repo: tradedb.Repository, ids: dict[str, Any]) -> None:
    async with repo.transaction():
        await repo.create_trade(trade_data())
        await repo.close_trade(ids["open_id"], exit_price="49000")
        await repo.heartbeat("bot-1")


async def _store_metrics(repo: tradedb.Repository, ids: dict[str, Any]) -> None:
    await repo.calculate_performance_metrics("bot-1", starting_balance="1000")


async def _cleanup(repo: tradedb.Repository, ids: dict[str, Any]) -> None:
    assert await repo.cleanup_old_data(days_to_keep=1, batch_size=2) == {"trades": 5, "performance_metrics": 0}


OPERATIONS: dict[str, Callable[[tradedb.Repository, dict[str, Any]], Awaitable[None]]] = {
    "create_trade": _create_trade,
    "create_trades batch": _create_trades,
    "close_trade (trade and bot books)": _close_trade,
    "repo.transaction() block": _transaction,
    "storing metrics": _store_metrics,
    "cleanup batches": _cleanup,
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
async def test_a_write_that_fails_for_space_leaves_nothing_half_written(disk: Path, operation: str) -> None:
    run = OPERATIONS[operation]
    async with tradedb.connect(disk / "trading.db") as repo:
        ids = await _setup(repo)
        before = await state(repo)
        filler = fill(disk)
        with pytest.raises(tradedb.DiskFull, match=f"file system at {disk} .*nothing"):
            await run(repo, ids)
        assert await state(repo) == before

        filler.unlink()
        await run(repo, ids)  # the writer was not left inside a transaction: it begins a new one
        after = await state(repo)
        assert after != before
        trades, total_pnl, balance, _ = after
        if operation == "cleanup batches":  # retention deletes old trades, never their bot's books
            assert (len(trades), total_pnl, balance) == (len(before[0]) - 5, before[1], before[2])
        else:
            closed_pnl = sum((pnl for _, status, pnl in trades if status == "closed"), Decimal(0))
            assert total_pnl == closed_pnl and balance == Decimal(1000) + closed_pnl


async def test_after_a_disk_full_error_the_wal_gives_back_its_space(disk: Path) -> None:
    async with tradedb.connect(disk / "trading.db") as repo:
        await _setup(repo)
        wal = disk / "trading.db-wal"
        assert wal.stat().st_size > 0
        fill(disk)
        with pytest.raises(tradedb.DiskFull):
            await repo.create_trade(trade_data())
        # Its pages were copied back into the database, which had room for
        # them in pages it already held, and the WAL truncated.
        assert wal.stat().st_size == 0 and os.statvfs(disk).f_bavail > 0
        await repo.create_trade(trade_data())  # nothing else was freed
        assert len(await repo.get_open_trades()) == 2


async def test_a_transaction_that_sqlite_rolled_back_for_space_commits_nothing_of_what_follows(disk: Path) -> None:
    async with tradedb.connect(disk / "trading.db") as repo:
        await _setup(repo)
        before = await state(repo)
        filler = fill(disk)
        refused = 0
        with pytest.raises(tradedb.DiskFull, match="the transaction was rolled back: nothing of it was written"):
            async with repo.transaction():
                await repo.create_trade(trade_data())
                try:
                    # Too big for the writer's page cache (1.5 times WRITER_CACHE_KIB of
                    # metadata): it spills to the WAL before COMMIT, fails, and SQLite
                    # rolls back the whole transaction.
                    pad = {"pad": "x" * (WRITER_CACHE_KIB * 1024 * 3 // 2 // 1500)}
                    await repo.create_trades([trade_data(extra_metadata=pad) for _ in range(1500)])
                except tradedb.DiskFull as error:
                    assert "SQLite rolled back the whole transaction" in str(error)
                for _ in range(3):  # a caller carrying on regardless
                    try:
                        await repo.create_trade(trade_data())
                    except tradedb.DiskFull:
                        refused += 1
                async with repo.transaction():
                    with pytest.raises(tradedb.DiskFull):
                        await repo.heartbeat("bot-1")
        assert refused == 3
        assert await state(repo) == before
        filler.unlink()
        async with repo.transaction():
            trade = await repo.create_trade(trade_data())
            await repo.close_trade(trade.id, exit_price="51000")
        assert len((await state(repo))[0]) == len(before[0]) + 1


async def test_backup_to_a_full_disk_says_so_and_leaves_no_file(tmp_path: Path, disk: Path) -> None:
    async with tradedb.connect(tmp_path / "trading.db") as repo:
        await _setup(repo)
        await repo.create_trades([trade_data(extra_metadata=PAD) for _ in range(100)])
        fill(disk)
        with pytest.raises(tradedb.DiskFull, match=f"file system at {disk} .*no backup was written"):
            await repo.backup(disk / "copy.db")
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]
        (disk / "filler").unlink()
        copy = await repo.backup(disk / "copy.db")
        assert sorted(p.name for p in disk.iterdir()) == ["copy.db"]
    async with tradedb.connect(copy) as restored:
        assert len(await restored.get_open_trades()) == 101


@pytest.mark.parametrize("database", ["new", "existing"])
async def test_connect_on_a_full_disk_raises_disk_full_and_leaves_no_file_open(disk: Path, database: str) -> None:
    path = disk / "trading.db"
    if database == "existing":
        async with tradedb.connect(path) as repo:
            await _setup(repo)
    fill(disk)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(tradedb.DiskFull, match=f"file system at {disk} .*connect again"):
            await tradedb.connect(path)
        gc.collect()
    assert open_files_under(disk) == []
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []

    (disk / "filler").unlink()
    async with tradedb.connect(path) as repo:
        assert (await repo.health())["ok"] is True


async def test_connect_on_a_disk_that_fills_part_way_through_migrating_leaves_no_file_open(disk: Path) -> None:
    path = disk / "trading.db"
    outcomes = set()
    for room in range(0, 320 * 1024, 16 * 1024):  # the disk fills at each step of creating the database
        for leftover in disk.iterdir():
            leftover.unlink()
        (disk / "filler").write_bytes(b"\0" * (os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize - room))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                repo = await tradedb.connect(path)
            except tradedb.DiskFull:
                outcomes.add("disk full")
            else:
                outcomes.add("opened")
                await repo.close()
            gc.collect()
        assert open_files_under(disk) == [], f"with {room} bytes free"
        assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert outcomes == {"disk full", "opened"}


async def test_a_bulk_load_that_fills_the_disk_leaves_the_table_and_its_indexes_as_they_were(
    disk: Path, small_loads: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A load whose indexes are dropped until its end (Session.bulk_load), as if the disk had had room for it when
    # the load began: the disk fills during the load, and the indexes come back with the rollback.
    import tradedb.sqlite as sqlite_backend

    monkeypatch.setattr(sqlite_backend.Session, "_room_for", lambda session, size: True)
    path = disk / "trading.db"

    def indexes() -> list[tuple[str, str]]:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as raw:
            return sorted(raw.execute("SELECT name, ifnull(sql, '') FROM sqlite_master WHERE type = 'index' AND tbl_name = 'trades'"))

    load = [{"bot_id": "bot-1", "trade_type": "paper", "entry_logic_name": "e", "exit_logic_name": "x",
             "symbol": "BTCUSDT", "interval": "1h", "direction": "long", "entry_price": "100", "size": "1",
             "entry_time": datetime(2024, 1, 1, tzinfo=timezone.utc), "extra_metadata": PAD} for _ in range(300)]
    async with tradedb.connect(path) as repo:
        await repo.create_bot_instance({"id": "bot-1", "type": "paper", "current_balance": "1000"})
        before = indexes()
        filler = fill(disk)
        with pytest.raises(tradedb.DiskFull):
            await repo.create_trades(load)
        assert small_loads and small_loads[0]  # the indexes had been dropped when the disk filled
        assert [t async for t in repo.iter_trades()] == []
        assert indexes() == before
        filler.unlink()
        assert len(await repo.create_trades(load)) == 300
        assert indexes() == before
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as raw:  # every index holds every row
            assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
