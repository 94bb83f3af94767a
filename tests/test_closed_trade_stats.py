"""closed_trade_stats (migration 0003): always the aggregate of the closed trades, whoever writes them.

The table holds, per bot, UTC exit day, symbol and pnl_percentage bucket, the
closed trades' count, wins, losses and net_pnl sum; triggers on trades keep
it. Each test compares it with the same aggregate computed here, in Python,
from the trades table. On PostgreSQL the migration also makes every write to
trades, bot_instances and performance_metrics notify channel tradedb_changes.
"""

from __future__ import annotations

import random
import sqlite3
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from yoyo import get_backend, read_migrations

import tradedb
from conftest import ENTRY_TIME, RawSQL, trade_data
from pg_support import Databases, connect, url_of
from tradedb import upkeep
from tradedb.migrations import apply_pending
from tradedb.sqlite import Session as SQLiteSession

ROOT = Path(__file__).resolve().parent.parent
THIRD, FOURTH, FIFTH, SIXTH = (  # 0006, 0005 and 0004 depend on 0003: rolled back with it
    "0003.closed-trade-stats", "0004.archived-pnl", "0005.faster-stats-triggers", "0006.closed-trade-sort-indexes"
)
EDGES = [Decimal(edge) for edge in "-20 -10 -5 -3 -2 -1 -0.5 0 0.5 1 2 3 5 10 20".split()]

Key = tuple[str, str, str, int]
Row = tuple[int, int, int, Decimal | None]  # trades, wins, losses, net_pnl (None: not exact, readers recompute)


def bucket(pnl_percentage: Any) -> int:
    """The contract's bucket: how many edges lie at or below the percentage; -1 without one."""
    if pnl_percentage is None:
        return -1
    return sum(1 for edge in EDGES if Decimal(str(pnl_percentage)) >= edge)


def day_of(exit_time: Any) -> str:
    """The UTC date of an exit time as either backend's shell returns it."""
    if isinstance(exit_time, datetime):
        return exit_time.astimezone(UTC).date().isoformat()
    return exit_time[:10]


def expected_stats(raw_sql: RawSQL) -> dict[Key, Row]:
    """The aggregate closed_trade_stats must equal, computed in Python from the trades table."""
    stats: dict[Key, list[Any]] = defaultdict(lambda: [0, 0, 0, Decimal(0)])
    rows = raw_sql.execute(
        "SELECT bot_id, exit_time, symbol, pnl_percentage, net_pnl FROM trades WHERE status = 'closed'"
    ).fetchall()
    for bot_id, exit_time, symbol, pnl_percentage, net_pnl in rows:
        counts = stats[(bot_id, day_of(exit_time), symbol, bucket(pnl_percentage))]
        amount = Decimal(0) if net_pnl is None else Decimal(str(net_pnl))
        counts[0] += 1
        counts[1] += amount > 0
        counts[2] += amount < 0
        counts[3] += amount
    return {key: (trades, wins, losses, net) for key, (trades, wins, losses, net) in stats.items()}


def stored_stats(raw_sql: RawSQL) -> dict[Key, Row]:
    """closed_trade_stats as stored; a SQLite sum that is not exact (REAL, or too wide) as None."""
    if raw_sql.backend == "sqlite":
        rows = raw_sql.execute(
            "SELECT bot_id, day, symbol, bucket, trades, wins, losses, net_pnl_units, widest_amount FROM closed_trade_stats"
        ).fetchall()
        return {
            (bot_id, day, symbol, bucket): (
                trades, wins, losses,
                Decimal(units).scaleb(-8) if isinstance(units, int) and widest <= 19 else None,
            )
            for bot_id, day, symbol, bucket, trades, wins, losses, units, widest in rows
        }
    rows = raw_sql.execute(
        "SELECT bot_id, day, symbol, bucket, trades, wins, losses, net_pnl FROM closed_trade_stats"
    ).fetchall()
    return {
        (bot_id, day.isoformat(), symbol, bucket): (trades, wins, losses, net_pnl)
        for bot_id, day, symbol, bucket, trades, wins, losses, net_pnl in rows
    }


def assert_stats_match(raw_sql: RawSQL) -> dict[Key, Row]:
    """closed_trade_stats equals the aggregate of the closed trades (an inexact SQLite sum: its counts)."""
    stored, expected = stored_stats(raw_sql), expected_stats(raw_sql)
    assert all(row[0] > 0 for row in stored.values()), "a row counting no trade is left"
    for key, row in stored.items():
        if row[3] is None and key in expected:
            stored[key] = (*row[:3], expected[key][3])
    assert stored == expected
    return stored


def closed(**overrides: Any) -> dict[str, Any]:
    """A trade of bot-1 created closed, with the PnL given (kept as given)."""
    data = trade_data(status="closed", exit_price="50100", exit_time=ENTRY_TIME + timedelta(days=1),
                      gross_pnl="10", net_pnl="9.5", pnl_percentage="0.19")
    data.update(overrides)
    return data


def raw_closed_trade(raw_sql: RawSQL, trade_id: str, bot_id: str, symbol: str, exit_time: str,
                     net_pnl: str | None, pnl_percentage: str | None) -> None:
    """A closed trade inserted as the shell would (no tradedb: the triggers alone count it)."""
    raw_sql.execute(
        "INSERT INTO trades (id, bot_id, trade_type, entry_logic_name, exit_logic_name, symbol, interval, direction, "
        "status, entry_time, exit_time, entry_price, exit_price, size, gross_pnl, net_pnl, pnl_percentage) "
        "VALUES (?, ?, 'paper', 'e', 'x', ?, '1h', 'long', 'closed', ?, ?, '100.00000000', '101.00000000', "
        "'1.00000000', ?, ?, ?)",
        (trade_id, bot_id, symbol, "2024-03-01 00:00:00.000000Z", exit_time, net_pnl, net_pnl, pnl_percentage),
    )


def amount(rng: random.Random) -> str:
    return f"{rng.choice([-1, 1]) * rng.randrange(0, 10**12) / 10**8:.8f}"


def percentage(rng: random.Random) -> str | None:
    if rng.random() < 0.1:
        return None
    if rng.random() < 0.3:
        edge = rng.choice(EDGES)
        return f"{edge + rng.choice([Decimal('-0.0001'), Decimal(0), Decimal('0.0001')]):.4f}"
    return f"{rng.uniform(-30, 30):.4f}"


# The mix -------------------------------------------------------------------


async def test_a_random_mix_of_writes_through_the_api_and_the_shell_keeps_the_aggregate(repo, raw_sql):
    rng = random.Random(20261202)
    for bot_id in ("bot-1", "bot-2"):
        await repo.create_bot_instance({"id": bot_id, "type": "paper", "current_balance": "1000"})
    now = datetime.now(UTC).replace(microsecond=0)
    # Exits long ago (retention deletes them), a few days ago, and on both sides of midnight UTC.
    exits = [datetime(2024, 3, 1, 23, 59, 59, 999999, UTC), datetime(2024, 3, 2, tzinfo=UTC),
             now - timedelta(days=3), now - timedelta(days=2, hours=5), now - timedelta(hours=1)]
    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    entry = datetime(2024, 3, 1, 12, tzinfo=UTC)
    open_ids: list[str] = []
    closed_ids: list[str] = []

    def new_trade(status: str) -> dict[str, Any]:
        data = trade_data(bot_id=rng.choice(["bot-1", "bot-2"]), symbol=rng.choice(symbols), entry_time=entry,
                          entry_price=str(rng.randrange(100, 60000)), size="0.1")
        if status == "closed":
            data.update(status="closed", exit_price=str(rng.randrange(100, 60000)), exit_time=rng.choice(exits))
            if rng.random() < 0.5:  # PnL given (kept), else computed from the prices
                data.update(gross_pnl=amount(rng), net_pnl=amount(rng), pnl_percentage=percentage(rng))
        return data

    n_raw = 0
    for step in range(160):
        action = "cleanup" if step in (80, 150) else rng.choice([
            "create", "create", "create_many", "close", "close", "cancel", "update", "update",
            "shell_update", "shell_delete", "shell_insert",
        ])
        if action == "create":
            trade = await repo.create_trade(new_trade(rng.choice(["open", "closed"])))
            (open_ids if trade.status == "open" else closed_ids).append(trade.id)
        elif action == "create_many":
            made = await repo.create_trades([new_trade(rng.choice(["open", "closed"])) for _ in range(rng.randrange(1, 6))])
            for trade in made:
                (open_ids if trade.status == "open" else closed_ids).append(trade.id)
        elif action == "close" and open_ids:
            trade_id = open_ids.pop(rng.randrange(len(open_ids)))
            await repo.close_trade(trade_id, exit_price=str(rng.randrange(100, 60000)), exit_time=rng.choice(exits),
                                   commission=rng.choice([None, "0.5"]))
            closed_ids.append(trade_id)
        elif action == "cancel" and open_ids:
            await repo.cancel_trade(open_ids.pop(rng.randrange(len(open_ids))), "test")
        elif action == "update" and closed_ids:
            changes = rng.choice([
                {"symbol": rng.choice(symbols)},
                {"exit_time": rng.choice(exits)},
                {"net_pnl": amount(rng)},
                {"pnl_percentage": percentage(rng)},
                {"bot_id": rng.choice(["bot-1", "bot-2"])},
                {"exit_reason": "nothing counted changes"},
                {"symbol": rng.choice(symbols), "net_pnl": amount(rng), "exit_time": rng.choice(exits)},
            ])
            try:
                await repo.update_trade(rng.choice(closed_ids), changes)
            except tradedb.NotFoundError:
                pass  # deleted meanwhile (retention, the shell)
        elif action == "update" and open_ids:
            await repo.update_trade(rng.choice(open_ids), {"symbol": rng.choice(symbols)})  # counts nothing
        elif action == "shell_update" and closed_ids:
            column, value = rng.choice([("symbol", rng.choice(symbols)), ("net_pnl", amount(rng)),
                                        ("pnl_percentage", percentage(rng)), ("bot_id", rng.choice(["bot-1", "bot-2"]))])
            raw_sql.execute(f"UPDATE trades SET {column} = ? WHERE id = ?", (value, rng.choice(closed_ids)))
        elif action == "shell_update":
            raw_sql.execute("UPDATE trades SET exit_reason = 'shell' WHERE status = 'open'")
        elif action == "shell_delete" and closed_ids:
            raw_sql.execute("DELETE FROM trades WHERE id = ?", (closed_ids.pop(rng.randrange(len(closed_ids))),))
        elif action == "shell_insert":
            n_raw += 1
            trade_id = f"00000000-0000-4000-8000-{n_raw:012x}"
            exit_time = rng.choice(exits).strftime("%Y-%m-%d %H:%M:%S.%fZ")
            raw_closed_trade(raw_sql, trade_id, rng.choice(["bot-1", "bot-2"]), rng.choice(symbols), exit_time,
                             amount(rng), percentage(rng))
            closed_ids.append(trade_id)
        elif action == "cleanup":
            deleted = await repo.cleanup_old_data(days_to_keep=30, batch_size=3)
            assert deleted["trades"] >= 0
        assert_stats_match(raw_sql)
    stored = assert_stats_match(raw_sql)
    assert len(stored) > 10
    assert {key[0] for key in stored} == {"bot-1", "bot-2"} and -1 in {key[3] for key in stored}
    report = await repo.health(full=True)
    assert report["closed_trade_stats_drift"] == 0
    assert not [p for p in report["problems"] if "closed_trade_stats" in p]


# The rules one by one ------------------------------------------------------------


EDGE_CASES = {  # pnl_percentage: its bucket
    "-20.0001": 0, "-20.0000": 1, "-10.0001": 1, "-10.0000": 2, "-0.5001": 6, "-0.5000": 7, "-0.0001": 7,
    "0.0000": 8, "-0.0000": 8, "0.4999": 8, "0.5000": 9, "19.9999": 14, "20.0000": 15, "123456.7890": 15,
    "-123456.7890": 0, None: -1,
}


async def test_buckets_have_their_edges_exactly_where_the_contract_puts_them(repo, bot, raw_sql):
    cases = list(EDGE_CASES.items())
    await repo.create_trades([closed(symbol=f"S{n}", pnl_percentage=pct) for n, (pct, _) in enumerate(cases)])
    stored = assert_stats_match(raw_sql)
    assert {key[2]: key[3] for key in stored} == {f"S{n}": want for n, (_, want) in enumerate(cases)}
    assert all(bucket(pct) == want for pct, want in cases)


async def test_only_closed_trades_count_and_wins_losses_and_null_pnl_are_counted(repo, bot, raw_sql):
    await repo.create_trade(trade_data())  # open
    cancelled = await repo.create_trade(trade_data())
    await repo.cancel_trade(cancelled.id)
    assert stored_stats(raw_sql) == {}
    await repo.create_trades([closed(net_pnl="5"), closed(net_pnl="-2.5"), closed(net_pnl="0")])
    day = (ENTRY_TIME + timedelta(days=1)).date().isoformat()
    assert stored_stats(raw_sql) == {("bot-1", day, "BTCUSDT", 8): (3, 1, 1, Decimal("2.5"))}
    # A closed trade without net_pnl (stored before migration 0002 made it required) counts, adding 0.
    if raw_sql.backend == "sqlite":
        raw_sql.execute("DROP TRIGGER trades_rules_on_insert")
    else:
        raw_sql.execute("ALTER TABLE trades DISABLE TRIGGER trades_closed_has_pnl")
    raw_closed_trade(raw_sql, "00000000-0000-4000-8000-000000000001", "bot-1", "BTCUSDT", f"{day} 10:00:00.000000Z",
                     None, "0.1000")
    assert stored_stats(raw_sql) == {("bot-1", day, "BTCUSDT", 8): (4, 1, 1, Decimal("2.5"))}
    assert_stats_match(raw_sql)


async def test_a_closed_trade_inserted_in_the_shell_is_counted_and_rows_at_zero_are_deleted(repo, bot, raw_sql):
    trade_id = "00000000-0000-4000-8000-0000000000aa"
    raw_closed_trade(raw_sql, trade_id, "bot-1", "ETHUSDT", "2024-03-05 23:59:59.999999Z", "-1.25000000", "-3.0000")
    assert stored_stats(raw_sql) == {("bot-1", "2024-03-05", "ETHUSDT", 4): (1, 0, 1, Decimal("-1.25"))}
    # Moved to another day, symbol and bucket: the old row goes (it counts nothing), the new one comes.
    raw_sql.execute("UPDATE trades SET exit_time = ?, symbol = 'SOLUSDT', pnl_percentage = '3.0000' WHERE id = ?",
                    ("2024-03-06 00:00:00.000000Z", trade_id))
    assert stored_stats(raw_sql) == {("bot-1", "2024-03-06", "SOLUSDT", 12): (1, 0, 1, Decimal("-1.25"))}
    trade = await repo.update_trade(trade_id, {"net_pnl": "4"})
    assert trade.net_pnl == 4
    assert stored_stats(raw_sql) == {("bot-1", "2024-03-06", "SOLUSDT", 12): (1, 1, 0, Decimal("4"))}
    raw_sql.execute("DELETE FROM trades WHERE id = ?", (trade_id,))
    assert stored_stats(raw_sql) == {}
    assert raw_sql.value("SELECT count(*) FROM closed_trade_stats") == 0


async def test_one_insert_of_many_rows_counts_each_new_closed_trade_once(repo, bot, raw_sql):
    # PostgreSQL counts an INSERT's rows once per statement (migration 0005), from its transition table:
    # rows sharing a key add up, open ones and those ON CONFLICT skipped count nothing.
    stored_before = await repo.create_trade(closed(net_pnl="2", pnl_percentage="0.19"))
    columns = ("id, bot_id, trade_type, entry_logic_name, exit_logic_name, symbol, interval, direction, status, "
               "entry_time, exit_time, entry_price, exit_price, size, gross_pnl, net_pnl, pnl_percentage")
    row = "(?, 'bot-1', 'paper', 'e', 'x', ?, '1h', 'long', ?, '2024-03-01 00:00:00.000000Z', ?, '100.00000000', ?, " \
          "'1.00000000', ?, ?, ?)"
    rows = [
        (str(stored_before.id), "BTCUSDT", "closed", "2024-03-02 10:00:00.000000Z", "101.00000000", "99.00000000",
         "99.00000000", "50.0000"),  # stored already: skipped, not counted again
        ("00000000-0000-4000-8000-0000000000b1", "ETHUSDT", "closed", "2024-03-05 01:00:00.000000Z", "101.00000000",
         "1.50000000", "1.50000000", "-3.0000"),
        ("00000000-0000-4000-8000-0000000000b2", "ETHUSDT", "closed", "2024-03-05 23:00:00.000000Z", "101.00000000",
         "-2.25000000", "-2.25000000", "-2.5000"),  # the same key as the one before
        ("00000000-0000-4000-8000-0000000000b3", "ETHUSDT", "closed", "2024-03-05 12:00:00.000000Z", "101.00000000",
         "0.00000000", "0.00000000", None),
        ("00000000-0000-4000-8000-0000000000b4", "ETHUSDT", "open", None, None, None, None, None),
    ]
    raw_sql.execute(f"INSERT INTO trades ({columns}) VALUES " + ", ".join([row] * len(rows)) + " ON CONFLICT (id) DO NOTHING",
                    tuple(value for values in rows for value in values))
    stored = assert_stats_match(raw_sql)
    assert stored[("bot-1", "2024-03-05", "ETHUSDT", 4)] == (2, 1, 1, Decimal("-0.75"))
    assert stored[("bot-1", "2024-03-05", "ETHUSDT", -1)] == (1, 0, 0, Decimal(0))
    assert sum(row[0] for row in stored.values()) == 4
    # And create_trades of many trades, in statements of many rows, likewise.
    await repo.create_trades([closed(net_pnl=str(n - 300), pnl_percentage=str(n % 40 - 20), symbol=f"S{n % 7}")
                              for n in range(600)])
    assert sum(row[0] for row in assert_stats_match(raw_sql).values()) == 604


async def test_moving_closed_trades_between_bots_and_deleting_them_by_retention(repo, raw_sql):
    for bot_id in ("bot-1", "bot-2"):
        await repo.create_bot_instance({"id": bot_id, "type": "paper"})
    old = await repo.create_trades([closed(net_pnl=str(n)) for n in range(1, 6)])
    await repo.update_trade(old[0].id, {"bot_id": "bot-2"})
    await repo.update_trade(old[1].id, {"exit_time": ENTRY_TIME + timedelta(days=1, hours=11)})  # same day: no move
    assert {key[0]: row[0] for key, row in assert_stats_match(raw_sql).items()} == {"bot-1": 4, "bot-2": 1}
    recent = await repo.create_trade(closed(exit_time=datetime.now(UTC), net_pnl="7"))
    assert await repo.cleanup_old_data(days_to_keep=30, batch_size=2) == {"trades": 5, "performance_metrics": 0}
    stored = assert_stats_match(raw_sql)
    assert list(stored.values()) == [(1, 1, 0, Decimal(7))] and recent.exit_time is not None


# Health --------------------------------------------------------------------------


async def test_health_reports_drift_names_the_table_and_its_rebuild_repairs_it(repo, bot, raw_sql, backend):
    await repo.create_trades([closed(), closed(net_pnl="-1", symbol="ETHUSDT"), trade_data()])
    report = await repo.health(full=True)
    assert report["ok"] is True and report["closed_trade_stats_drift"] == 0
    assert "closed_trade_stats_drift" not in await repo.health()  # a full check only
    raw_sql.execute("UPDATE closed_trade_stats SET trades = trades + 1 WHERE symbol = 'BTCUSDT'")
    report = await repo.health(full=True)
    assert report["ok"] is False and report["closed_trade_stats_drift"] == 1
    [problem] = [p for p in report["problems"] if "closed_trade_stats" in p]
    assert problem.startswith("closed_trade_stats disagrees with the trades table in 1 ")
    assert "'bot-1'" in problem and "'BTCUSDT'" in problem and "rebuild it" in problem
    rebuild = problem.split("database's shell: ", 1)[1]
    assert rebuild.startswith("BEGIN; DELETE FROM closed_trade_stats; INSERT INTO closed_trade_stats")
    # A missing row, and one that should not be there, are drift too.
    raw_sql.execute("DELETE FROM closed_trade_stats WHERE symbol = 'ETHUSDT'")
    raw_sql.execute("INSERT INTO closed_trade_stats VALUES ('bot-1', '2020-01-01', 'X', 3, 1, 1, 0, 1"
                    + (", 10)" if backend == "sqlite" else ")"))
    assert (await repo.health(full=True))["closed_trade_stats_drift"] == 3
    # The advice, pasted into the shell, puts it right.
    if backend == "sqlite":
        raw_sql.connection.executescript(rebuild)
    else:
        raw_sql.connection.execute(rebuild)
    assert_stats_match(raw_sql)
    report = await repo.health(full=True)
    assert report["ok"] is True and report["closed_trade_stats_drift"] == 0


async def test_health_names_a_dropped_trigger_of_0003_and_the_drift_it_lets_in(repo, bot, raw_sql, backend):
    if backend == "sqlite":
        raw_sql.execute("DROP TRIGGER closed_trade_stats_on_insert")
        said = ["trigger closed_trade_stats_on_insert is missing"]
    else:
        raw_sql.execute("DROP TRIGGER closed_trade_stats_on_insert_statement ON trades")  # 0003's, as 0005 made it
        raw_sql.execute("ALTER TABLE bot_instances DISABLE TRIGGER bot_instances_notify_changes")
        said = ["trigger closed_trade_stats_on_insert_statement of sql/postgresql/schema.sql is missing or disabled",
                "trigger bot_instances_notify_changes of sql/postgresql/schema.sql is missing or disabled"]
    await repo.create_trade(closed())
    report = await repo.health(full=True)
    assert report["ok"] is False and report["closed_trade_stats_drift"] == 1
    for words in said:
        assert any(words in problem for problem in report["problems"]), (words, report["problems"])


@pytest.mark.sqlite_only("the rebuild unit of work on a plain sqlite3 connection, as tests/test_postgresql_queries.py runs units")
async def test_the_rebuild_unit_of_work_fills_the_table_again(repo, bot, raw_sql, database):
    await repo.create_trades([closed(), closed(symbol="ETHUSDT", pnl_percentage=None)])
    expected = assert_stats_match(raw_sql)
    raw_sql.execute("UPDATE closed_trade_stats SET wins = 7")
    raw_sql.execute("BEGIN IMMEDIATE")
    assert upkeep.rebuild_closed_trade_stats(SQLiteSession(raw_sql.connection, 0.0, database)) == 2
    raw_sql.execute("COMMIT")
    assert assert_stats_match(raw_sql) == expected


# SQLite's 64-bit sums --------------------------------------------------------------


HUGE = "92233720368.54775807"  # 2^63 - 1 units, 20 characters: wider than CAST reads exactly
BIG = "9999999999.99999999"  # 19 characters, read exactly: ten of them overflow a 64-bit sum


@pytest.mark.sqlite_only("SQLite sums 10^-8 units in 64 bits; PostgreSQL's NUMERIC never overflows")
async def test_a_sum_past_64_bits_turns_real_and_stays_marked_inexact(repo, bot, raw_sql):
    made = await repo.create_trades([closed(net_pnl=BIG) for _ in range(9)])
    units, widest = raw_sql.execute("SELECT net_pnl_units, widest_amount FROM closed_trade_stats").fetchone()
    assert units == 9 * 999999999999999999 and widest == 19  # exact so far
    made.append(await repo.create_trade(closed(net_pnl=BIG)))
    units, widest = raw_sql.execute("SELECT net_pnl_units, widest_amount FROM closed_trade_stats").fetchone()
    assert isinstance(units, float) and widest >= 20
    # Taking one out brings the REAL back in range, where SQLite stores it as an INTEGER again (no
    # longer exact): widest_amount keeps the row marked, so readers still sum its trades themselves.
    raw_sql.execute("DELETE FROM trades WHERE id = ?", (made[0].id,))
    trades, kind, widest = raw_sql.execute(
        "SELECT trades, typeof(net_pnl_units), widest_amount FROM closed_trade_stats").fetchone()
    assert (trades, kind) == (9, "integer") and widest >= 20
    assert_stats_match(raw_sql)
    # Wider amounts than CAST reads exactly mark their row too, and health sums those in Python.
    # (a computed amount can be that wide; a given one, at most 12 digits before the point: so the shell writes it)
    raw_closed_trade(raw_sql, "00000000-0000-4000-8000-0000000000bb", "bot-1", "ETHUSDT", "2024-03-02 10:00:00.000000Z",
                     "123456789012345678.12345678", "0.1900")
    await repo.create_trade(closed(net_pnl="-1.5", symbol="ETHUSDT"))
    assert raw_sql.value("SELECT widest_amount FROM closed_trade_stats WHERE symbol = 'ETHUSDT'") == 27
    assert_stats_match(raw_sql)
    report = await repo.health(full=True)
    assert report["closed_trade_stats_drift"] == 0  # (the books miss the shell's trade: another check says so)
    assert not [problem for problem in report["problems"] if "closed_trade_stats" in problem]
    raw_sql.execute("UPDATE closed_trade_stats SET losses = 0 WHERE symbol = 'ETHUSDT'")
    assert (await repo.health(full=True))["closed_trade_stats_drift"] == 1


def migrate_to(path: Path, ids: set[str]) -> None:
    """Apply only the SQLite migrations `ids`, with yoyo, as an older tradedb left the file."""
    backend = get_backend(f"sqlite:///{path}")
    with backend.lock():
        backend.apply_migrations(backend.to_apply(read_migrations(str(ROOT / "migrations" / "sqlite")).filter(
            lambda m: m.id in ids)))


@pytest.mark.sqlite_only("SQLite's backfill never fails on sums past 64 bits (PostgreSQL's is checked by the rollback test)")
def test_the_migration_counts_the_trades_already_stored_as_the_triggers_would(tmp_path):
    rng = random.Random(3)
    backfilled, triggered = tmp_path / "backfilled.db", tmp_path / "triggered.db"
    migrate_to(backfilled, {"0001.initial-schema", "0002.books-and-views"})
    apply_pending(triggered)
    rows = []
    for n in range(300):
        net = rng.choice([amount(rng), amount(rng), HUGE, "-" + HUGE, "0.00000000", "123456789012345678901.00000000"])
        rows.append((f"00000000-0000-4000-8000-{n:012x}", rng.choice(["bot-1", "bot-2"]), rng.choice(["A", "B"]),
                     f"2024-03-0{rng.randrange(1, 4)} 1{rng.randrange(0, 10)}:00:00.000000Z", net, percentage(rng)))
    # Amounts CAST reads exactly whose sum overflows: the backfill's sum must not fail either.
    rows += [(f"00000000-0000-4000-8001-{n:012x}", "bot-1", "C", "2024-03-04 10:00:00.000000Z", BIG, "1.0000")
             for n in range(12)]
    shells = []
    for path in (backfilled, triggered):
        connection = sqlite3.connect(path, isolation_level=None)
        shell = RawSQL("sqlite", connection)
        shell.execute("INSERT INTO bot_instances (id, type) VALUES ('bot-1', 'paper'), ('bot-2', 'paper')")
        for row in rows:
            raw_closed_trade(shell, *row)
        shell.execute("INSERT INTO trades (id, bot_id, trade_type, entry_logic_name, exit_logic_name, symbol, interval, "
                      "direction) VALUES ('00000000-0000-4000-8000-ffffffffffff', 'bot-1', 'paper', 'e', 'x', 'A', '1h', "
                      "'long')")  # open: not counted
        shells.append(shell)
    shells[0].connection.close()
    apply_pending(backfilled)  # 0003 alone, on a file holding trades
    shells[0] = RawSQL("sqlite", sqlite3.connect(backfilled, isolation_level=None))
    before, after = (assert_stats_match(shell) for shell in shells)
    assert before == after and len(before) > 10
    # Rows past 64 bits, or with amounts too wide, are marked for readers to sum themselves.
    for shell in shells:
        marked = shell.execute("SELECT bot_id, day, symbol, bucket, typeof(net_pnl_units) FROM closed_trade_stats "
                               "WHERE typeof(net_pnl_units) <> 'integer' OR widest_amount > 19").fetchall()
        assert ("bot-1", "2024-03-04", "C", 10, "real") in marked and len(marked) > 5
    for shell in shells:
        shell.connection.close()


# Rolling back -------------------------------------------------------------------------------


async def test_rolling_back_0003_drops_it_and_applying_it_again_counts_the_trades(repo, bot, database, backend, raw_sql):
    await repo.create_trades([closed(net_pnl=str(n), pnl_percentage=str(n - 3)) for n in range(6)])
    await repo.create_trade(trade_data())
    expected = assert_stats_match(raw_sql)
    if backend == "sqlite":
        yoyo_url, folder = f"sqlite:///{database}", ROOT / "migrations" / "sqlite"
    else:
        yoyo_url, folder = "postgresql+psycopg://" + str(database).split("://", 1)[1], ROOT / "migrations" / "postgresql"
    yoyo = get_backend(yoyo_url)
    with yoyo:
        with yoyo.lock():
            yoyo.rollback_migrations(yoyo.to_rollback(read_migrations(str(folder)).filter(lambda m: m.id in (THIRD, FOURTH, FIFTH, SIXTH))))
    if backend == "sqlite":
        names = {row[0] for row in raw_sql.execute("SELECT name FROM sqlite_master WHERE sql LIKE '%closed_trade_stats%'")}
        at_0002 = database.with_name("at-0002.db")
        migrate_to(at_0002, {"0001.initial-schema", "0002.books-and-views"})
        schema = "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE '%yoyo%' AND sql IS NOT NULL"
        with sqlite3.connect(at_0002) as earlier:
            assert set(raw_sql.execute(schema).fetchall()) == set(earlier.execute(schema).fetchall())
    else:
        names = {row[0] for row in raw_sql.execute(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname ~ 'closed_trade_stats|notify' "
            "UNION ALL SELECT proname FROM pg_proc WHERE proname ~ 'closed_trade_stats|notify_tradedb' "
            "UNION ALL SELECT relname FROM pg_class WHERE relname ~ 'closed_trade_stats'")}
    assert names == set()
    async with tradedb.connect(database) as again:  # applies 0003 again: its backfill counts the trades
        assert (await again.health(full=True))["closed_trade_stats_drift"] == 0
    assert assert_stats_match(raw_sql) == expected


# PostgreSQL's notifications ----------------------------------------------------------


def notified(listener: Any) -> list[str]:
    """The payloads of the notifications that arrived on channel tradedb_changes (waiting up to 2 s for the first)."""
    payloads = [n.payload for n in listener.notifies(timeout=2.0, stop_after=1) if n.channel == "tradedb_changes"]
    payloads += [n.payload for n in listener.notifies(timeout=0.2) if n.channel == "tradedb_changes"]
    return sorted(payloads)


@pytest.fixture
async def pg_repo(pg_databases: Databases) -> Any:
    """A repository on a fresh PostgreSQL database, and its URL (NOTIFY is PostgreSQL's alone)."""
    name = pg_databases.acquire()
    try:
        async with tradedb.connect(url_of(name)) as repository:
            yield repository, url_of(name)
    finally:
        pg_databases.release(name)


async def test_postgresql_notifies_listeners_of_each_committed_write(pg_repo):
    repo, database = pg_repo
    with connect(database) as listener:
        listener.execute("LISTEN tradedb_changes")
        await repo.create_bot_instance({"id": "bot-1", "type": "paper"})
        assert notified(listener) == ["bot_instances"]
        # A trade: the trade's row, then its bot's books (total_pnl) in the same transaction.
        await repo.create_trade(closed())
        assert notified(listener) == ["bot_instances", "trades"]
        await repo.heartbeat("bot-1")
        assert notified(listener) == ["bot_instances"]
        await repo.create_performance_metrics({"bot_id": "bot-1", "win_rate": "50"})
        assert notified(listener) == ["performance_metrics"]
        # Nothing before the commit, nothing for a transaction rolled back.
        with pytest.raises(RuntimeError):
            async with repo.transaction():
                await repo.create_trade(trade_data())
                assert notified(listener) == []
                raise RuntimeError("roll back")
        assert notified(listener) == []
        # psql's writes too, TRUNCATE included.
        with connect(database) as psql:
            psql.execute("UPDATE trades SET exit_reason = 'psql'")
            assert notified(listener) == ["trades"]
            psql.execute("TRUNCATE performance_metrics")
            assert notified(listener) == ["performance_metrics"]
