"""Health checks of the rows themselves: rules an old database may break, and books a hand edit may set wrong.

Migration 0002 made a closed trade's PnL required and a trade's type its
bot's, but only for new writes: a database written by tradedb 0.1 keeps its
rows. Each bot's total_pnl is the exact sum of its closed trades' net_pnl;
only an edit outside tradedb can make it differ. Health reports all three,
and each problem says what fixes it: the tests run that and check again.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from yoyo import get_backend

import tradedb
from conftest import RawSQL, trade_data
from tradedb.migrations import known_migrations

ENTRY = "2024-03-01 12:00:00.000000Z"
EXIT = "2024-03-01 13:00:00.000000Z"
NEW_KEYS = ("closed_trades_without_pnl", "trades_of_another_type", "bots_with_wrong_books")


def tradedb_0_1_database(path: Path) -> RawSQL:
    """A database with migration 0001 only, as tradedb 0.1 left it; a plain connection to fill it."""
    backend = get_backend(f"sqlite:///{path}")
    migrations = known_migrations()
    with backend.lock():
        backend.apply_migrations(backend.to_apply(migrations.filter(lambda m: m.id == "0001.initial-schema")))
    backend.connection.close()
    return RawSQL("sqlite", sqlite3.connect(path, isolation_level=None))


def old_trade(connection: RawSQL, bot_id: str, trade_type: str, status: str = "closed",
              entry_price: str | None = "100.00000000", size: str | None = "2.00000000") -> str:
    """A trade as tradedb 0.1 could store it: closed without any PnL, of any type."""
    trade_id = str(uuid.uuid4())
    connection.execute(
        "INSERT INTO trades (id, bot_id, trade_type, entry_logic_name, exit_logic_name, symbol, interval, direction,"
        " status, entry_time, exit_time, entry_price, exit_price, size)"
        " VALUES (?, ?, ?, 'E', 'X', 'BTCUSDT', '1h', 'long', ?, ?, ?, ?, '110.00000000', ?)",
        (trade_id, bot_id, trade_type, status, ENTRY, EXIT if status == "closed" else None, entry_price, size),
    )
    return trade_id


def problems_naming(report: dict, word: str) -> list[str]:
    return [line for line in report["problems"] if word in line]


async def test_a_healthy_database_has_none_of_these(repo, bot):
    await repo.create_bot_instance({"id": "live-bot", "type": "live"})
    won, lost, _, _ = await repo.create_trades(
        [trade_data(), trade_data(), trade_data(), trade_data(bot_id="live-bot", trade_type="live")]
    )
    await repo.close_trade(won.id, exit_price="50100.5", commission="0.25")
    await repo.close_trade(lost.id, exit_price="49000")
    report = await repo.health()
    assert {key: report[key] for key in NEW_KEYS} == dict.fromkeys(NEW_KEYS, 0)
    assert report["ok"] is True, report["problems"]


@pytest.mark.sqlite_only("tradedb 0.1 wrote SQLite only: no PostgreSQL database predates migration 0002")
async def test_an_old_database_with_closed_trades_without_pnl_and_trades_of_another_type(tmp_path):
    path = tmp_path / "old.db"
    old = tradedb_0_1_database(path)
    old.execute("INSERT INTO bot_instances (id, type) VALUES ('paper-bot', 'paper'), ('live-bot', 'live')")
    without_pnl = [old_trade(old, "paper-bot", "paper") for _ in range(4)]
    no_price = old_trade(old, "paper-bot", "paper", entry_price=None, size=None)
    live_of_paper_bot = old_trade(old, "paper-bot", "live", status="open")
    paper_of_live_bot = old_trade(old, "live-bot", "paper", status="open")
    old.connection.close()

    async with tradedb.connect(path) as repo:  # migrates: 0002 keeps the rows as they are
        report = await repo.health()
        assert report["applied_migrations"] == [
            "0001.initial-schema", "0002.books-and-views", "0003.closed-trade-stats", "0004.archived-pnl",
            "0005.faster-stats-triggers", "0006.closed-trade-sort-indexes"]
        assert report["ok"] is False
        assert report["closed_trades_without_pnl"] == 5
        assert report["trades_of_another_type"] == 2
        assert report["bots_with_wrong_books"] == 0  # a trade without net_pnl counts nothing
        [pnl_problem] = problems_naming(report, "no gross_pnl or net_pnl")
        named = re.findall(r"[0-9a-f]{8}-[0-9a-f-]{27}", pnl_problem)
        assert len(named) == 3 and set(named) <= {*without_pnl, no_price}
        assert "repo.update_trade(trade_id, {})" in pnl_problem
        [type_problem] = problems_naming(report, "another trade_type")
        assert f"{live_of_paper_bot} (live, of paper bot 'paper-bot')" in type_problem
        assert f"{paper_of_live_bot} (paper, of live bot 'live-bot')" in type_problem

        # The advice: update_trade(trade_id, {}) computes and books the PnL...
        for trade_id in without_pnl:
            trade = await repo.update_trade(trade_id, {})
            assert (trade.gross_pnl, trade.net_pnl) == (Decimal("20"), Decimal("20"))
        # ...except of a trade without entry_price and size, which need giving.
        with pytest.raises(tradedb.ValidationError, match="entry_price"):
            await repo.update_trade(no_price, {})
        await repo.update_trade(no_price, {"entry_price": "105", "size": "2"})
        assert (await repo.get_bot_instance("paper-bot")).total_pnl == Decimal("90")
        # A trade is given its bot's type, or moved to a bot of its type.
        await repo.update_trade(live_of_paper_bot, {"trade_type": "paper"})
        await repo.update_trade(paper_of_live_bot, {"bot_id": "paper-bot"})

        report = await repo.health()
        assert {key: report[key] for key in NEW_KEYS} == dict.fromkeys(NEW_KEYS, 0)
        assert report["ok"] is True, report["problems"]


def wrong_books_problem(report: dict, bot_id: str) -> str:
    [line] = problems_naming(report, f"bot {bot_id!r} has total_pnl")
    return line


def fix_in_the_shell(raw_sql: RawSQL, problem: str) -> None:
    """Run the UPDATE a problem gives, as the sqlite3 shell or psql would."""
    [statement] = re.findall(r"UPDATE bot_instances SET .*;$", problem)
    raw_sql.connection.execute(statement)


async def test_books_changed_by_hand_are_reported_with_the_update_that_fixes_them(repo, bot, raw_sql):
    await repo.create_bot_instance({"id": "it's quiet", "type": "paper"})
    first, second, still_open = await repo.create_trades([trade_data(), trade_data(), trade_data()])
    await repo.close_trade(first.id, exit_price="50100", commission="0.5")  # +9.5
    await repo.close_trade(second.id, exit_price="49900.0000001")  # -9.99999999
    raw_sql.execute("UPDATE bot_instances SET total_pnl = '1000.00000000' WHERE id = 'bot-1'")
    raw_sql.execute("UPDATE bot_instances SET total_pnl = '-0.00000001' WHERE id = 'it''s quiet'")

    report = await repo.health()
    assert report["ok"] is False
    assert report["bots_with_wrong_books"] == 2
    problem = wrong_books_problem(report, "bot-1")
    assert "has total_pnl 1000.00000000, but its closed trades' net_pnl sum to -0.49999999" in problem
    assert problem.endswith("UPDATE bot_instances SET total_pnl = '-0.49999999' WHERE id = 'bot-1';")
    quiet = wrong_books_problem(report, "it's quiet")
    assert "has total_pnl -0.00000001, but its closed trades' net_pnl sum to 0.00000000" in quiet
    assert quiet.endswith("WHERE id = 'it''s quiet';")

    fix_in_the_shell(raw_sql, problem)
    fix_in_the_shell(raw_sql, quiet)
    report = await repo.health()
    assert report["bots_with_wrong_books"] == 0
    assert report["ok"] is True, report["problems"]
    assert (await repo.get_bot_instance("bot-1")).total_pnl == Decimal("-0.49999999")
    # The books go on from there as before.
    await repo.close_trade(still_open.id, exit_price="50000.5")
    assert (await repo.health())["ok"] is True


@pytest.mark.parametrize(
    "exit_price, size, trades",
    [
        # net_pnl 99999999999800.00000000: wider than SQL sums exactly, so summed in Python.
        ("999999999999", "100", 1),
        # 9999999999.00000000 fits, but ten of them pass 2^63 units: SQLite's
        # sum raises "integer overflow", so summed in Python.
        ("10000000000", "1", 10),
    ],
)
async def test_books_of_large_amounts_are_checked_exactly(repo, bot, raw_sql, exit_price, size, trades):
    opened = await repo.create_trades([trade_data(entry_price="1", size=size) for _ in range(trades)])
    for trade in opened:
        await repo.close_trade(trade.id, exit_price=exit_price)
    stored = (await repo.get_bot_instance("bot-1")).total_pnl
    assert (await repo.health())["ok"] is True
    # One unit off, far past a float's precision.
    raw_sql.execute("UPDATE bot_instances SET total_pnl = ? WHERE id = 'bot-1'", (format(stored + Decimal("0.00000001"), "f"),))
    report = await repo.health()
    assert report["bots_with_wrong_books"] == 1
    problem = wrong_books_problem(report, "bot-1")
    assert f"sum to {format(stored, 'f')} " in problem
    fix_in_the_shell(raw_sql, problem)
    assert (await repo.health())["ok"] is True


async def test_a_total_pnl_that_is_not_a_number_is_reported_not_raised(repo, bot, raw_sql):
    # Past the schema's checks: SQLite's ignored, any text goes in; PostgreSQL's dropped, NaN goes in.
    if raw_sql.backend == "sqlite":
        raw_sql.execute("PRAGMA ignore_check_constraints = ON")
        raw_sql.execute("UPDATE bot_instances SET total_pnl = 'lots' WHERE id = 'bot-1'")
    else:
        raw_sql.execute("ALTER TABLE bot_instances DROP CONSTRAINT bot_instances_total_pnl_decimal")
        raw_sql.execute("UPDATE bot_instances SET total_pnl = 'NaN' WHERE id = 'bot-1'")
    report = await repo.health()
    assert report["ok"] is False
    assert report["bots_with_wrong_books"] == 1
    problem = wrong_books_problem(report, "bot-1")
    fix_in_the_shell(raw_sql, problem)
    report = await repo.health()
    assert report["bots_with_wrong_books"] == 0


async def test_many_wrong_books_are_shown_ten_at_a_time_and_any_bot_id_gets_an_update_that_runs(repo, raw_sql):
    ids = [f"bot-{n:02}" for n in range(11)] + ["two\nlines 'é'"]
    for bot_id in ids:
        await repo.create_bot_instance({"id": bot_id, "type": "paper"})
    raw_sql.execute("UPDATE bot_instances SET total_pnl = '3.00000000'")
    report = await repo.health()
    assert report["bots_with_wrong_books"] == 12
    shown = [line for line in report["problems"] if "UPDATE bot_instances" in line]
    assert len(shown) == 10 and all("\n" not in line for line in shown)
    assert problems_naming(report, "2 more bot(s) have a total_pnl other than")
    for line in shown:
        fix_in_the_shell(raw_sql, line)
    report = await repo.health()
    assert report["bots_with_wrong_books"] == 2
    shown += report["problems"]
    for line in report["problems"]:
        fix_in_the_shell(raw_sql, line)
    # The id with a line break is given as hex, so its UPDATE stays on one line.
    as_hex = "WHERE id = CAST(X'" if raw_sql.backend == "sqlite" else "WHERE id = convert_from('\\x"
    assert sum(as_hex in line for line in shown) == 1
    assert (await repo.health())["ok"] is True
