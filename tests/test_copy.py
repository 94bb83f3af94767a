"""tradedb copy and tradedb.copy_database: an exact copy between backends, refusals, resuming, verification."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import tradedb
import tradedb.copying as copying
import tradedb.sqlite as sqlite_backend
from cli_support import cli, digest
from pg_support import Databases, connect as pg_connect, url_of

UTC = timezone.utc
T0 = datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
MAX = "999999999999.99999999"
ODD_JSON: Any = {
    "ünïcødé": "🚀 \u00e9\u0301 \"quoted\" \\ back",
    "nested": {"a": [1, {"b": {"c": [[], {}]}}], "z": None},
    "empty": {},
    "list": [],
    "big": 123456789012345678901234567890,
    "negative": -98765432109876543210,
    "float": 0.1,
    "tiny": 1e-300,
    "bool": [True, False],
    "zzz_first_key_last": 1,
}


def trade(bot_id: str, trade_type: str, n: int, **values: Any) -> dict[str, Any]:
    data = {
        "bot_id": bot_id, "trade_type": trade_type, "entry_logic_name": "E", "exit_logic_name": "X",
        "symbol": "BTCUSDT", "interval": "1h", "direction": "long",
        "entry_time": T0 + timedelta(minutes=n, microseconds=n), "entry_price": "100", "size": "1",
    }
    data.update(values)
    return data


async def fill(repo: tradedb.Repository) -> None:
    """Bots, trades and metrics with amounts at the edges of DECIMAL(20,8), odd JSON, every status."""
    await repo.create_bot_instance({"id": "paper-bot", "type": "paper", "current_balance": "0.00000001",
                                    "extra_metadata": ODD_JSON, "config_file": "c/ü.yaml"})
    await repo.create_bot_instance({"id": "live 'bot' \u00e9", "type": "live", "current_balance": MAX})
    await repo.create_bot_instance({"id": "opt", "type": "optimization", "status": "stopped"})
    exit_time = T0 + timedelta(days=1, microseconds=7)
    await repo.create_trades([
        # The largest price, the smallest size; the smallest price, the largest size.
        trade("paper-bot", "paper", 1, status="closed", entry_price=MAX, size="0.00000001", exit_price="0.00000001",
              exit_time=exit_time, commission="0.00000001", extra_metadata=ODD_JSON),
        trade("paper-bot", "paper", 2, status="closed", entry_price="0.00000001", size=MAX, exit_price="0.00000002",
              exit_time=exit_time, direction="short", exit_reason="ünï\nline"),
        # A loss of the largest amount there is.
        trade("live 'bot' \u00e9", "live", 3, status="closed", entry_price=MAX, size="1", exit_price="0",
              exit_time=exit_time, commission=MAX),
        trade("live 'bot' \u00e9", "live", 4, status="closed", entry_price="0.00000001", size="0.00000001",
              exit_price="0.00000003", exit_time=exit_time),
        trade("paper-bot", "paper", 5, extra_metadata={}),
        trade("paper-bot", "paper", 6, status="cancelled", exit_time=exit_time, exit_reason="never filled",
              extra_metadata=[]),
        trade("opt", "optimization", 7, strategy_name="s", buy_order_created=T0, sell_order_closed=exit_time),
    ])
    opened = await repo.create_trade(trade("opt", "optimization", 8, entry_price="123456789012.12345678", size="0.5"))
    await repo.close_trade(opened.id, exit_price="123456789011.00000001", commission="0.99999999",
                           exit_time=exit_time + timedelta(hours=1))
    for bot_id in ("paper-bot", "live 'bot' \u00e9"):
        await repo.calculate_performance_metrics(bot_id)
    await repo.create_performance_metrics({"bot_id": "opt", "sharpe_ratio": "-999999.9999", "win_rate": "100",
                                           "total_trades": 2**62, "avg_loss": f"-{MAX}", "extra_metadata": ODD_JSON,
                                           "calculated_at": T0})


async def everything(database: Path | str) -> dict[str, Any]:
    """Every record the API reads, in an order that does not depend on the backend."""
    async with tradedb.connect(database, migrate=False) as repo:
        bots = await repo.list_bot_instances()
        trades = sorted([t async for t in repo.iter_trades()], key=lambda t: t.id)
        metrics = {bot.id: await repo.get_performance_metrics(bot.id) for bot in bots}
        summaries = {bot.id: await repo.get_trade_summary(bot_id=bot.id) for bot in bots}
        health = await repo.health()
    assert health["ok"], health["problems"]
    return {"bots": bots, "trades": trades, "metrics": metrics, "summaries": summaries}


@pytest.fixture
def other_pg(pg_databases: Databases) -> Any:
    """URLs of fresh migrated PostgreSQL databases, as many as a test asks for."""
    names: list[str] = []

    def new() -> str:
        names.append(pg_databases.acquire())
        return url_of(names[-1])

    yield new
    for name in names:
        pg_databases.release(name)


def other_backend(backend: str, tmp_path: Path, other_pg: Any, name: str) -> Path | str:
    """A new database of the other backend than `backend`."""
    return other_pg() if backend == "sqlite" else tmp_path / f"{name}.db"


async def test_a_copy_there_and_back_is_exact(database, backend, tmp_path, other_pg):
    async with tradedb.connect(database) as repo:
        await fill(repo)
    before = await everything(database)
    middle = other_backend(backend, tmp_path, other_pg, "middle")
    back = other_pg() if backend == "postgresql" else tmp_path / "back.db"
    steps: list[tuple[str, int, int]] = []
    report = await tradedb.copy_database(database, middle, batch_size=2, progress=lambda *step: steps.append(step))
    assert report.ok and report.copied == {"bot_instances": 3, "trades": 8, "performance_metrics": 3}
    assert steps[-1] == ("performance_metrics", 3, 3) and ("trades", 2, 8) in steps
    assert [(c.table, c.source, c.dest) for c in report.tables] == [
        ("bot_instances", 3, 3), ("trades", 8, 8), ("performance_metrics", 3, 3)]
    paper = next(c for c in report.bots if c.bot_id == "paper-bot")
    assert paper.source == paper.dest and paper.source["closed_trades"] == 2
    assert (await tradedb.copy_database(middle, back)).ok
    for copy in (middle, back):
        assert await everything(copy) == before
    # The odd values, as read back from the copy of the copy.
    after = await everything(back)
    first = next(t for t in after["trades"] if t.entry_price == Decimal(MAX) and t.size == Decimal("0.00000001"))
    assert first.extra_metadata == ODD_JSON and first.entry_time == T0 + timedelta(minutes=1, microseconds=1)
    loss = next(t for t in after["trades"] if t.commission == Decimal(MAX))
    assert loss.net_pnl == Decimal("-1999999999999.99999998")
    assert {b.id: b.total_pnl for b in after["bots"]}["live 'bot' \u00e9"] == loss.net_pnl + Decimal("0.00000000")
    assert (await tradedb.verify_copy(database, back)).ok


async def test_a_dest_holding_any_id_is_refused_before_anything_is_written(database, backend, tmp_path, other_pg):
    async with tradedb.connect(database) as repo:
        await fill(repo)
    dest = tmp_path / "dest.db"
    async with tradedb.connect(dest) as copy:
        await copy.create_bot_instance({"id": "opt", "type": "optimization"})  # one id of SOURCE's
        await copy.create_bot_instance({"id": "only-here", "type": "paper"})
    before = digest(dest)
    result = cli("copy", str(database), str(dest), cwd=tmp_path)
    assert result.code == 1 and "already holds rows with SOURCE's ids (1 bot_instances; bot 'opt' for one)" in result.err
    assert "nothing was written" in result.err and "--skip-existing" in result.err
    assert digest(dest) == before
    # With --skip-existing, a row that differs is refused, naming its table, id and column: still nothing written.
    result = cli("copy", str(database), str(dest), "--skip-existing", cwd=tmp_path)
    assert result.code == 1 and "bot 'opt' has another status there ('running', not 'stopped')" in result.err, result.err
    assert digest(dest) == before


async def test_skip_existing_skips_identical_rows_and_refuses_a_differing_one(database, backend, tmp_path, other_pg):
    async with tradedb.connect(database) as repo:
        await fill(repo)
    dest = other_backend(backend, tmp_path, other_pg, "dest")
    assert (await tradedb.copy_database(database, dest)).ok
    again = await tradedb.copy_database(database, dest, skip_existing=True, batch_size=3)
    assert again.copied == dict.fromkeys(again.copied, 0)
    assert again.skipped == {"bot_instances": 3, "trades": 8, "performance_metrics": 3} and again.ok
    # One trade's exit_reason edited in DEST: refused, named.
    async with tradedb.connect(dest) as copy:
        cancelled = [t async for t in copy.iter_trades(status="cancelled")][0]
        await copy.update_trade(cancelled.id, {"exit_reason": "edited"})
    with pytest.raises(tradedb.ConflictError, match=rf"trade '{cancelled.id}' has another exit_reason there "
                                                    r"\('edited', not 'never filled'\)"):
        await tradedb.copy_database(database, dest, skip_existing=True)


async def many_trades(source: Path | str) -> None:
    """SOURCE as fill() makes it, and 3000 closed trades of one more bot: 3008 trades."""
    async with tradedb.connect(source) as repo:
        await fill(repo)
        await repo.create_bot_instance({"id": "many", "type": "paper", "current_balance": "1000"})
        for start in range(0, 3000, 500):
            await repo.create_trades([
                trade("many", "paper", n, status="closed", exit_price=str(100 + n % 7 - 3), commission="0.001",
                      exit_time=T0 + timedelta(days=1, minutes=n), extra_metadata={"n": n})
                for n in range(start, start + 500)
            ])


def count_trades(database: Path | str) -> int:
    if isinstance(database, Path):
        try:
            connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        except sqlite3.Error:  # not made yet
            return 0
        try:
            return int(connection.execute("SELECT count(*) FROM trades").fetchone()[0])
        except sqlite3.Error:  # not migrated yet
            return 0
        finally:
            connection.close()
    with pg_connect(database) as connection:
        return int(connection.execute("SELECT count(*) FROM trades").fetchone()[0])


async def test_a_copy_killed_midway_resumes_with_skip_existing_into_an_exact_copy(database, backend, tmp_path, other_pg):
    await many_trades(database)
    dest = other_backend(backend, tmp_path, other_pg, "dest")
    env = {k: v for k, v in os.environ.items() if k != "TRADEDB_DATABASE"}
    process = subprocess.Popen([sys.executable, "-m", "tradedb", "copy", str(database), str(dest), "--batch-size", "20"],
                               cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while count_trades(dest) < 200:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
        if process.stderr is not None:
            process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    partial = count_trades(dest)
    assert 200 <= partial < 3008
    refused = cli("copy", str(database), str(dest), cwd=tmp_path)
    assert refused.code == 1 and "--skip-existing" in refused.err
    resumed = cli("copy", str(database), str(dest), "--skip-existing", "--json", cwd=tmp_path)
    assert resumed.code == 0, resumed.err
    report = json.loads(resumed.out)
    assert report["ok"] and report["skipped"]["trades"] == partial
    assert report["copied"]["trades"] + partial == 3008
    assert await everything(dest) == await everything(database)


async def test_the_verification_catches_a_difference(database, backend, tmp_path):
    async with tradedb.connect(database) as repo:
        await fill(repo)
    dest = tmp_path / "dest.db"
    done = cli("copy", str(database), str(dest), cwd=tmp_path)
    assert done.code == 0, done.err
    assert "verified:" in done.out and "DIFFERS" not in done.out
    ok = cli("copy", str(database), str(dest), "--verify-only", cwd=tmp_path)
    assert ok.code == 0 and "verified:" in ok.out and "copied" not in ok.out
    # A hand edit of DEST's books, past tradedb: the verification names the bot and the figure.
    with sqlite3.connect(dest) as edit:
        edit.execute("UPDATE bot_instances SET total_pnl = '0.00000001' WHERE id = 'opt'")
    bad = cli("copy", str(database), str(dest), "--verify-only", cwd=tmp_path)
    assert bad.code == 1 and "bot 'opt': total_pnl differ" in bad.err
    dest_row = [line for line in bad.out.splitlines() if line.lstrip().startswith("dest") and "DIFFERS" in line]
    assert len(dest_row) == 1 and "DIFFERS: total_pnl" in dest_row[0] and "0.00000001" in dest_row[0]
    # A trade deleted from DEST: the trades count and the bot's figures differ.
    with sqlite3.connect(dest) as edit:
        edit.execute("DELETE FROM trades WHERE status = 'cancelled'")
    as_json = cli("copy", str(database), str(dest), "--verify-only", "--json", cwd=tmp_path)
    report = json.loads(as_json.out)
    assert as_json.code == 1 and not report["ok"]
    assert {t["table"]: (t["source"], t["dest"]) for t in report["tables"]}["trades"] == (8, 7)
    with pytest.raises(tradedb.CopyMismatch) as caught:
        await tradedb.verify_copy(database, dest)
    assert not caught.value.report.ok and "trades: 7 rows, 8 expected" in str(caught.value)


@pytest.mark.sqlite_only("paths: the same file reached through .. and a symbolic link")
async def test_the_same_database_is_refused_however_it_is_named(database, tmp_path):
    async with tradedb.connect(database) as repo:
        await fill(repo)
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.db").symlink_to(database)
    before = digest(database)
    for dest in (str(database), f"{tmp_path}/sub/../{database.name}", str(tmp_path / "link.db"), f"sqlite:///{database}"):
        result = cli("copy", str(database), dest, cwd=tmp_path)
        assert result.code == 1 and "dest: is the same database as the source" in result.err, (dest, result.err)
    assert digest(database) == before


async def test_the_same_postgresql_database_is_refused(pg_databases, tmp_path):
    name = pg_databases.acquire()
    try:
        url = url_of(name)
        other_spelling = url.replace("127.0.0.1", "localhost")
        for dest in (url, other_spelling):
            with pytest.raises(tradedb.ValidationError, match="is the same database"):
                await tradedb.copy_database(url, dest)
    finally:
        pg_databases.release(name)


async def test_a_missing_source_and_a_bad_batch_size_are_refused(tmp_path):
    with pytest.raises(tradedb.ValidationError, match="no database at"):
        await tradedb.copy_database(tmp_path / "missing.db", tmp_path / "dest.db")
    assert not (tmp_path / "dest.db").exists()
    for size in (0, -1, True, 1.5, 10**6):
        with pytest.raises(tradedb.ValidationError, match="batch_size"):
            await tradedb.copy_database(tmp_path / "missing.db", tmp_path / "dest.db", batch_size=size)
    result = cli("copy", str(tmp_path / "missing.db"), str(tmp_path / "dest.db"), "--batch-size", "0", cwd=tmp_path)
    assert result.code == 2


async def test_pages_smaller_than_the_table_copy_every_row_once_whatever_the_ids(tmp_path, other_pg):
    # SQLite pages go in the order rows were stored, not by id: ids given in falling order, and some
    # trades deleted, still copy each remaining row exactly once, into either backend.
    source = tmp_path / "source.db"
    async with tradedb.connect(source) as repo:
        await repo.create_bot_instance({"id": "bot", "type": "paper", "current_balance": "100"})
        ids = [f"{n:08x}-0000-4000-8000-000000000000" for n in range(60, 0, -1)]
        await repo.create_trades([trade("bot", "paper", n, id=ids[n]) for n in range(60)])
    with sqlite3.connect(source) as raw:
        raw.execute("DELETE FROM trades WHERE id IN (?, ?, ?)", (ids[0], ids[30], ids[59]))
    for dest in (tmp_path / "dest.db", other_pg()):
        report = await tradedb.copy_database(source, dest, batch_size=7)
        assert report.ok and report.copied["trades"] == 57
        async with tradedb.connect(dest) as copy:
            assert sorted(t.id for t in await copy.get_open_trades()) == sorted(set(ids) - {ids[0], ids[30], ids[59]})


async def test_a_copy_checkpoints_less_only_while_it_runs(tmp_path, monkeypatch):
    # Database.bulk (what a copy writes in) makes SQLite checkpoint its WAL every 16384 pages instead of
    # 1000, and puts it back afterwards, after a failure too; not on a disk short of room for that WAL.
    def interval(session: Any) -> int:
        return int(session.connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0])

    async with tradedb.connect(tmp_path / "t.db") as repo:
        assert await repo._db.write(interval) == 1000
        async with repo._db.bulk():
            assert await repo._db.write(interval) == 16384
        assert await repo._db.write(interval) == 1000
        with pytest.raises(RuntimeError):
            async with repo._db.bulk():
                raise RuntimeError("stop")
        assert await repo._db.write(interval) == 1000
        monkeypatch.setattr(sqlite_backend, "free_bytes", lambda path: 32 << 20)  # room for 32 MiB only
        async with repo._db.bulk():
            assert await repo._db.write(interval) == 1000


# -- Indexes built once a group, where DEST builds them faster after the rows ---------------------------------

TRADE_INDEXES = [  # the trades table's own indexes (not its primary key's), on both backends
    "idx_bot_trade_type", "idx_closed_trades", "idx_closed_trades_net_pnl", "idx_closed_trades_pnl_percentage",
    "idx_entry_time", "idx_exit_time", "idx_open_trades", "idx_open_trades_by_entry", "idx_strategy",
    "idx_symbol_status",
]


def table_definitions(database: Path | str) -> list[tuple[str, str]]:
    """Every index and trigger of the trades table, each name with its definition, as the database holds them."""
    if isinstance(database, Path):
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
            rows = connection.execute(
                "SELECT name, ifnull(sql, '') FROM sqlite_master WHERE type IN ('index', 'trigger') AND tbl_name = 'trades'"
            ).fetchall()
    else:
        with pg_connect(database) as connection:
            rows = connection.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'trades' UNION ALL "
                "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'trades'::regclass AND NOT tgisinternal"
            ).fetchall()
    return sorted(tuple(row) for row in rows)


async def source_dest_and_fresh(backend: str, tmp_path: Path, other_pg: Any) -> tuple[Path, Path | str, Path | str]:
    """A SQLite SOURCE of many_trades, and two databases of `backend`: DEST, not made yet (a file) or empty, and a
    fresh migrated one to compare DEST's indexes with."""
    source = tmp_path / "source.db"
    await many_trades(source)
    dest: Path | str = tmp_path / "dest.db" if backend == "sqlite" else other_pg()
    fresh: Path | str = tmp_path / "fresh.db" if backend == "sqlite" else other_pg()
    async with tradedb.connect(fresh):
        pass
    return source, dest, fresh


async def test_a_copy_into_an_empty_database_builds_its_indexes_once_a_group(
    backend, tmp_path, other_pg, monkeypatch, small_loads
):
    # With groups of 1000 rows and loads of 100 counting as bulk loads (250,000 and 10,000 otherwise): SQLite builds
    # the trades table's indexes after each group brought as many rows as the table held (the first two of
    # 3008 trades), PostgreSQL only after the one into the empty table (its readers wait meanwhile).
    source, dest, fresh = await source_dest_and_fresh(backend, tmp_path, other_pg)
    monkeypatch.setattr(copying, "GROUP_ROWS", 1000)
    small_loads.clear()  # SOURCE's own loads
    report = await tradedb.copy_database(source, dest, batch_size=20)
    assert report.ok and report.copied["trades"] == 3008
    assert small_loads == [TRADE_INDEXES] * (2 if backend == "sqlite" else 1)
    assert table_definitions(dest) == table_definitions(fresh)
    assert await everything(dest) == await everything(source)


KILLABLE_COPY = """
import asyncio, sys, time
import tradedb, tradedb.copying, tradedb.postgresql, tradedb.sqlite
tradedb.copying.GROUP_ROWS = 100_000
tradedb.sqlite.DEFERRED_INDEX_ROWS = tradedb.postgresql.DEFERRED_INDEX_ROWS = 100
def progress(table, done, total):
    print(table, done, flush=True)
    if table == "trades" and done >= 200:
        time.sleep(600)  # written in DEST's transaction, not committed: killed here
asyncio.run(tradedb.copy_database(sys.argv[1], sys.argv[2], batch_size=20, progress=progress))
"""


async def test_a_copy_killed_within_a_group_leaves_none_of_it_and_the_indexes_whole(backend, tmp_path, other_pg):
    source, dest, fresh = await source_dest_and_fresh(backend, tmp_path, other_pg)
    env = {k: v for k, v in os.environ.items() if k != "TRADEDB_DATABASE"}
    process = subprocess.Popen([sys.executable, "-c", KILLABLE_COPY, str(source), str(dest)], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        while True:  # 200 trades written in DEST's transaction, which the kill never lets commit
            line = process.stdout.readline()
            assert line, process.stderr.read() if process.stderr else ""
            table, done = line.split()
            if table == "trades" and int(done) >= 200:
                break
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    assert process.returncode == -signal.SIGKILL
    assert count_trades(dest) == 0
    assert table_definitions(dest) == table_definitions(fresh)
    resumed = cli("copy", str(source), str(dest), "--skip-existing", "--json", cwd=tmp_path)
    assert resumed.code == 0, resumed.err
    report = json.loads(resumed.out)
    assert report["ok"] and report["copied"]["trades"] == 3008 and report["skipped"]["trades"] == 0
    assert await everything(dest) == await everything(source)


@pytest.mark.parametrize("broken", ["another type", "no net_pnl", "no bot"])
@pytest.mark.parametrize("bulk", [True, False])
async def test_a_trade_the_rules_on_insert_refuse_stops_the_copy_as_the_trigger_does_whether_deferred_or_not(
    tmp_path, monkeypatch, bulk, broken
):
    # A SOURCE kept from before migration 0002 may hold such a trade (health reports it). DEST refuses it: row by
    # row, trades_rules_on_insert; in a SQLite bulk load, which drops it for its rows, the same rule at the end (a
    # missing bot: the foreign key, as each row is inserted), in the same words.
    source, dest = tmp_path / "source.db", tmp_path / "dest.db"
    await many_trades(source)
    trigger, change = {
        "another type": ("trades_rules_on_update_of_bot", "trade_type = 'live'"),
        "no net_pnl": ("trades_rules_on_update", "net_pnl = NULL"),
        "no bot": ("trades_rules_on_update_of_bot", "bot_id = 'gone'"),  # the shell's foreign_keys are off
    }[broken]
    with sqlite3.connect(source) as raw:
        (text,) = raw.execute("SELECT sql FROM sqlite_master WHERE name = ?", (trigger,)).fetchone()
        raw.execute(f"DROP TRIGGER {trigger}")
        raw.execute(f"UPDATE trades SET {change} WHERE rowid = (SELECT max(rowid) - 500 FROM trades)")
        raw.execute(text)
    dropped: list[list[str]] = []
    defer = sqlite_backend.Session.defer

    def spy(session: Any, table: str, rows: int) -> Any:
        done = defer(session, table, rows)
        dropped.append(sorted(name for name, _ in done.triggers))
        return done

    monkeypatch.setattr(sqlite_backend.Session, "defer", spy)
    if bulk:
        monkeypatch.setattr(sqlite_backend, "DEFERRED_INDEX_ROWS", 100)
    message = {
        "another type": "is not the type of its bot; a bot's trades have its type (paper, live or optimization)",
        "no net_pnl": "a closed trade needs its net_pnl; close it with close_trade or give the value",
        "no bot": "no such bot instance; create the bot first",
    }[broken]
    field = {"another type": "trade_type", "no net_pnl": "net_pnl", "no bot": "bot_id"}[broken]
    with pytest.raises(tradedb.ValidationError) as refused:
        await tradedb.copy_database(source, dest, batch_size=100)
    assert str(refused.value) == f"{field}: {message}"
    if bulk:  # the trades in one transaction, rolled back whole, closed_trade_stats with them
        assert ["closed_trade_stats_on_insert", "trades_rules_on_insert"] in dropped and count_trades(dest) == 0
        with sqlite3.connect(dest) as raw:
            assert raw.execute("SELECT count(*) FROM closed_trade_stats").fetchone() == (0,)
    else:
        assert not any(dropped) and 0 < count_trades(dest) < 3008
    fresh = tmp_path / "fresh.db"
    async with tradedb.connect(fresh):
        pass
    assert table_definitions(dest) == table_definitions(fresh)
