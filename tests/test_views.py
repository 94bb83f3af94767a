"""Numeric views for the shell and dataframes, and migration 0002 on a database holding 0001's data."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
from dataclasses import asdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pandas
import pytest
from yoyo import get_backend, read_migrations

import tradedb
from conftest import ENTRY_TIME, trade_data

pytestmark = pytest.mark.sqlite_only("the SQLite views as the sqlite3 shell and pandas see them (tests/test_postgresql_schema.py checks PostgreSQL's)")

ROOT = Path(__file__).resolve().parent.parent
SQLITE3 = shutil.which("sqlite3") or "/usr/bin/sqlite3"
D = Decimal

# Net PnL of closed trades whose text order differs from their numeric order:
# as text, '97.50000000' > '5' and '10.25000000' < '5', and max() is '97.5...'.
NET_PNLS = {"a": "97.5", "b": "164.34383823", "c": "-2", "d": "10.25", "e": "9.5", "f": "100", "g": "5"}
ABOVE_5_BY_NET_PNL_DESC = ["b", "f", "a", "d", "e"]


@pytest.fixture
async def books(repo, bot):
    """bot-1 with one closed trade per NET_PNLS entry (exit_reason is its key) and one open trade."""
    await repo.create_trades([
        # No commission: net_pnl is the price move. A zero commission still stores 0 (not NULL).
        trade_data(status="closed", entry_price="100", size="1", exit_price=str(D(100) + D(net)), commission="0",
                   exit_time=ENTRY_TIME + timedelta(hours=1), exit_reason=key)
        for key, net in NET_PNLS.items()
    ])
    await repo.create_trade(trade_data())
    await repo.calculate_performance_metrics("bot-1")
    return repo


def table_columns(raw: sqlite3.Connection, name: str) -> list[str]:
    return [row[1] for row in raw.execute(f"PRAGMA table_info({name})")]


@pytest.mark.parametrize("table", ["trades", "bot_instances", "performance_metrics"])
async def test_each_view_has_its_tables_columns_in_order_amounts_as_numbers_times_as_text(books, raw, table):
    assert table_columns(raw, f"{table}_view") == table_columns(raw, table)
    view = raw.execute(f"SELECT * FROM {table}_view ORDER BY rowid").fetchall()
    stored = raw.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
    kinds = {row[1]: row[2] for row in raw.execute(f"PRAGMA table_info({table})")}
    assert len(view) == len(stored) > 0
    for seen, exact in zip(view, stored):
        for (name, kind), shown, value in zip(kinds.items(), seen, exact):
            if kind.startswith("DECIMAL_TEXT"):
                assert shown is None if value is None else shown == float(value), name
                assert value is None or isinstance(shown, float), name
            else:
                assert shown == value, name


async def test_natural_sql_on_the_view_compares_sorts_and_sums_numbers(books, raw):
    query = "SELECT exit_reason FROM {} WHERE net_pnl > 5 ORDER BY net_pnl DESC"
    assert [r[0] for r in raw.execute(query.format("trades_view"))] == ABOVE_5_BY_NET_PNL_DESC
    # The raw table holds exact text, which compares as text: why the views exist.
    assert [r[0] for r in raw.execute(query.format("trades"))] != ABOVE_5_BY_NET_PNL_DESC
    high, low, total = raw.execute("SELECT max(net_pnl), min(net_pnl), sum(net_pnl) FROM trades_view").fetchone()
    assert (high, low) == (164.34383823, -2.0)
    assert total == pytest.approx(float(sum(D(v) for v in NET_PNLS.values())))


def shell(path: Path, sql: str) -> list[str]:
    done = subprocess.run([SQLITE3, "-readonly", str(path), sql], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


async def test_the_sqlite3_shell_gets_the_right_rows_from_the_view(books, db_path):
    assert shell(db_path, "SELECT exit_reason FROM trades_view WHERE net_pnl > 5 ORDER BY net_pnl DESC") == \
        ABOVE_5_BY_NET_PNL_DESC
    assert shell(db_path, "SELECT max(net_pnl), min(net_pnl) FROM trades_view") == ["164.34383823|-2.0"]
    assert shell(db_path, "SELECT exit_reason FROM trades_view WHERE status = 'closed' ORDER BY net_pnl LIMIT 2") == \
        ["c", "g"]
    # The same natural query on the table, in the same shell, is wrong: text order.
    assert shell(db_path, "SELECT max(net_pnl) FROM trades") == ["97.50000000"]


async def test_pandas_reads_the_views_as_float_columns(books, db_path):
    connection = sqlite3.connect(db_path)
    try:
        trades = pandas.read_sql("SELECT * FROM trades_view", connection)
        bots = pandas.read_sql("SELECT * FROM bot_instances_view", connection)
        metrics = pandas.read_sql("SELECT * FROM performance_metrics_view", connection)
    finally:
        connection.close()
    amounts = ["entry_price", "exit_price", "entry_value", "exit_value", "size", "commission", "gross_pnl",
               "net_pnl", "pnl_percentage"]
    assert {name: str(trades[name].dtype) for name in amounts} == dict.fromkeys(amounts, "float64")
    assert trades.net_pnl.isna().sum() == 1  # the open trade: NULL is NaN
    assert trades.net_pnl.sum() == pytest.approx(float(sum(D(v) for v in NET_PNLS.values())))
    assert trades.net_pnl.mean() == pytest.approx(float(sum(D(v) for v in NET_PNLS.values())) / len(NET_PNLS))
    assert trades.nlargest(2, "net_pnl").exit_reason.tolist() == ["b", "f"]
    # Integer-looking amounts ('100.00000000') are floats too; times are the stored text.
    assert sorted(set(trades.entry_price)) == [100.0, 50000.0] and isinstance(trades.entry_time[0], str)
    # A column that is NULL in every row read has no values to be floats: it comes back as objects (None),
    # unless read_sql is told its dtype.
    assert trades.exit_price.isna().sum() == 1 and str(trades.exit_value.dtype) == "float64"
    connection = sqlite3.connect(db_path)
    try:
        query = "SELECT net_pnl FROM trades_view WHERE status = 'open'"
        assert str(pandas.read_sql(query, connection).net_pnl.dtype) == "object"
        assert str(pandas.read_sql(query, connection, dtype={"net_pnl": "float64"}).net_pnl.dtype) == "float64"
    finally:
        connection.close()
    assert str(bots.total_pnl.dtype) == str(bots.current_balance.dtype) == "float64"
    assert bots.current_balance[0] == pytest.approx(1000 + float(sum(D(v) for v in NET_PNLS.values())))
    assert str(metrics.total_return.dtype) == str(metrics.largest_win.dtype) == "float64"
    assert metrics.largest_win[0] == 164.34383823


async def test_exact_decimals_from_the_api_make_an_exact_dataframe(books):
    frame = pandas.DataFrame([asdict(trade) for trade in await books.get_closed_trades(bot_id="bot-1")])
    assert frame.net_pnl.sum() == sum(D(v) for v in NET_PNLS.values())
    assert isinstance(frame.net_pnl.sum(), Decimal)


# Migration 0002 on a database written under 0001 ---------------------------------------------------

INSERT_0001_TRADE = (
    "INSERT INTO trades (id, bot_id, trade_type, entry_logic_name, exit_logic_name, symbol, interval, direction, "
    "status, entry_time, entry_price, size, entry_value, exit_time, exit_price, gross_pnl, net_pnl) "
    "VALUES (?, 'old-bot', ?, 'e', 'x', 'BTCUSDT', '1h', 'long', ?, '2024-03-01 12:00:00.000000Z', '100.00000000', "
    "'1.00000000', '100.00000000', ?, ?, ?, ?)"
)
LEGACY = {  # id: (trade_type, status, exit_time, exit_price, gross_pnl, net_pnl)
    "00000000-0000-4000-8000-000000000001": ("paper", "closed", "2024-03-01 13:00:00.000000Z", "110.00000000",
                                             "10.00000000", "10.00000000"),
    # Broke rules 0002 adds: a closed trade without its net_pnl, a live trade of a paper bot.
    "00000000-0000-4000-8000-000000000002": ("paper", "closed", "2024-03-01 14:00:00.000000Z", "120.00000000",
                                             "20.00000000", None),
    "00000000-0000-4000-8000-000000000003": ("live", "open", None, None, None, None),
}
# The query the lead's health report can use to find such rows.
BREAKING_0002 = """
SELECT t.id FROM trades t JOIN bot_instances b ON b.id = t.bot_id
WHERE t.trade_type <> b.type
   OR (t.status = 'closed' AND (t.gross_pnl IS NULL OR t.net_pnl IS NULL))
ORDER BY t.id
"""


def database_at_0001(path: Path) -> None:
    backend = get_backend(f"sqlite:///{path}")
    migrations = read_migrations(str(ROOT / "migrations" / "sqlite")).filter(lambda m: m.id == "0001.initial-schema")
    with backend.lock():
        backend.apply_migrations(backend.to_apply(migrations))
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        assert [r[0] for r in connection.execute("SELECT migration_id FROM _yoyo_migration")] == ["0001.initial-schema"]
        connection.execute("INSERT INTO bot_instances (id, type, current_balance, total_pnl) "
                           "VALUES ('old-bot', 'paper', '1010.00000000', '10.00000000')")
        for trade_id, values in LEGACY.items():
            connection.execute(INSERT_0001_TRADE, (trade_id, *values[:2], *values[2:]))
    finally:
        connection.close()


async def test_migration_0002_applies_to_a_database_with_0001_data_and_keeps_it_readable(tmp_path):
    path = tmp_path / "old.db"
    database_at_0001(path)
    async with tradedb.connect(path) as repo:
        for trade_id, (trade_type, status, *_, net) in LEGACY.items():
            trade = await repo.get_trade_by_id(trade_id)
            assert (trade.trade_type, trade.status, trade.net_pnl) == (trade_type, status, None if net is None else D(net))
        connection = sqlite3.connect(path)
        try:
            assert connection.execute("SELECT id, net_pnl FROM trades_view ORDER BY id").fetchall() == [
                ("00000000-0000-4000-8000-000000000001", 10.0),
                ("00000000-0000-4000-8000-000000000002", None),
                ("00000000-0000-4000-8000-000000000003", None),
            ]
            assert connection.execute("SELECT current_balance FROM bot_instances_view").fetchall() == [(1010.0,)]
            assert [r[0] for r in connection.execute(BREAKING_0002)] == list(LEGACY)[1:]
        finally:
            connection.close()
        # Rows that break the new rules can still be fixed through the API: any change to a closed trade
        # without its PnL computes it (and books it); the mismatched open trade can still be closed.
        fixed = await repo.update_trade("00000000-0000-4000-8000-000000000002", {"exit_reason": "fixed"})
        assert (fixed.gross_pnl, fixed.net_pnl) == (D(20), D(20))
        closed = await repo.close_trade("00000000-0000-4000-8000-000000000003", exit_price="105")
        assert closed.net_pnl == D(5)
        bot = await repo.get_bot_instance("old-bot")
        assert (bot.total_pnl, bot.current_balance) == (D(35), D(1035))
        with pytest.raises(tradedb.ValidationError) as caught:
            await repo.create_trade(trade_data(bot_id="old-bot", trade_type="live"))
        assert caught.value.field == "trade_type"


def schema_sql(path: Path) -> set[tuple[str, str, str]]:
    connection = sqlite3.connect(path)
    try:
        return set(connection.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE '%yoyo%'"
        ).fetchall())
    finally:
        connection.close()


def test_rolling_back_0002_gives_back_exactly_the_0001_schema(tmp_path):
    at_0001, rolled_back = tmp_path / "0001.db", tmp_path / "back.db"
    database_at_0001(at_0001)

    async def migrate() -> None:
        async with tradedb.connect(rolled_back):
            pass

    asyncio.run(migrate())
    backend = get_backend(f"sqlite:///{rolled_back}")
    # 0004 depends on 0003, which depends on 0002: yoyo rolls them back latest first.
    later = ("0002.books-and-views", "0003.closed-trade-stats", "0004.archived-pnl", "0005.faster-stats-triggers",
             "0006.closed-trade-sort-indexes")
    migrations = read_migrations(str(ROOT / "migrations" / "sqlite")).filter(lambda m: m.id in later)
    with backend.lock():
        backend.rollback_migrations(backend.to_rollback(migrations))
    assert schema_sql(rolled_back) == schema_sql(at_0001)
