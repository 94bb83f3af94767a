"""The database enforces its own rules: what the sqlite3 shell can and cannot write."""

from __future__ import annotations

import sqlite3

import pytest

from conftest import trade_data
from tradedb.queries import QUERIES

pytestmark = pytest.mark.sqlite_only("the SQLite schema's own CHECKs and triggers, through sqlite3 (tests/test_postgresql_schema.py does PostgreSQL's)")


@pytest.fixture
async def trade_id(repo, bot):
    return (await repo.create_trade(trade_data())).id


@pytest.mark.parametrize(
    "assignment",
    [
        "trade_type = 'backtest'",
        "direction = 'sideways'",
        "status = 'pending'",
        "symbol = ''",
        "entry_price = 1.5",  # not canonical decimal text
        "entry_price = '1.5'",
        "entry_price = '-1.00000000'",
        "entry_price = '1234567890123.00000000'",  # 13 integer digits
        "size = 'abc'",
        "commission = '-0.10000000'",
        "net_pnl = '1-2.00000000'",
        "net_pnl = '--1.00000000'",
        "net_pnl = '1.0'",
        "net_pnl = '1a.00000000'",
        "net_pnl = '+1.00000000'",
        "net_pnl = ' 1.00000000'",
        "net_pnl = '.12345678'",
        "net_pnl = '1.2.00000000'",
        "size = '1 .00000000'",
        "size = '-.00000000'",
        "pnl_percentage = '1.00000000'",  # scale 4 column
        "entry_time = '2024-03-01 12:00:00'",  # no microseconds, no Z
        "entry_time = '2024-03-01T12:00:00.000000Z'",
        "entry_time = '2024-02-30 12:00:00.000000Z'",
        "entry_time = '2024-03-01 12:00:60.000000Z'",
        "entry_time = '2024-13-01 12:00:00.000000Z'",
        "entry_time = '2024-00-10 12:00:00.000000Z'",
        "entry_time = '2024-03-00 12:00:00.000000Z'",
        "entry_time = '2023-02-29 12:00:00.000000Z'",
        "entry_time = '2024-04-31 12:00:00.000000Z'",
        "entry_time = '2024-03-01 24:00:00.000000Z'",
        "entry_time = '2024-03-01 12:00:00.000000+01:00'",
        "extra_metadata = '{not json'",
        "status = 'closed'",  # without exit_time and exit_price
        "bot_id = 'ghost'",  # foreign key
        "id = 'not-a-uuid'",
        "id = upper(id)",
    ],
)
async def test_shell_cannot_break_trade_rules(raw, trade_id, assignment):
    with pytest.raises(sqlite3.IntegrityError):
        raw.execute(f"UPDATE trades SET {assignment} WHERE id = ?", (trade_id,))


@pytest.mark.parametrize(
    "assignment",
    [
        "net_pnl = '-0.50000000'",
        "gross_pnl = '123456789012345678901234.00000000'",  # computed values are never refused
        "entry_price = '999999999999.99999999'",
        "entry_time = '2024-03-01 23:59:59.999999Z'",
        "entry_time = '2024-02-29 00:00:00.000000Z'",
        "entry_time = '2024-12-31 00:00:00.000000Z'",
        "extra_metadata = '{\"a\": [1, 2]}'",
        "exit_price = '1.00000000', exit_time = '2024-03-02 00:00:00.000000Z', status = 'closed', "
        "gross_pnl = '-4999.90000000', net_pnl = '-4999.90000000'",
    ],
)
async def test_shell_can_write_valid_values(raw, trade_id, assignment):
    raw.execute(f"UPDATE trades SET {assignment} WHERE id = ?", (trade_id,))


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO bot_instances (id, type) VALUES ('b', 'backtest')",
        "INSERT INTO bot_instances (id, type, status) VALUES ('b', 'paper', 'sleeping')",
        "INSERT INTO bot_instances (id, type) VALUES ('', 'paper')",
        "INSERT INTO bot_instances (id, type, current_balance) VALUES ('b', 'paper', 10.5)",
        "INSERT INTO bot_instances (id, type, total_pnl) VALUES ('b', 'paper', NULL)",
        "INSERT INTO performance_metrics (id, bot_id) VALUES ('0b6f3a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b', 'ghost')",
        "INSERT INTO performance_metrics (id, bot_id, win_rate) VALUES ('0b6f3a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b', 'bot-1', '100.01')",
        "INSERT INTO performance_metrics (id, bot_id, total_trades) VALUES ('0b6f3a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b', 'bot-1', -1)",
        "INSERT INTO performance_metrics (id, bot_id, total_trades) VALUES ('0b6f3a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b', 'bot-1', 2.5)",
        "INSERT INTO performance_metrics (id, bot_id, sharpe_ratio) VALUES ('0b6f3a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b', 'bot-1', '1.5')",
    ],
)
async def test_shell_cannot_break_bot_and_metrics_rules(raw, bot, statement):
    with pytest.raises(sqlite3.IntegrityError):
        raw.execute(statement)


async def test_shell_inserts_get_defaults(raw):
    raw.execute("INSERT INTO bot_instances (id, type) VALUES ('shell-bot', 'live')")
    status, total_pnl, created_at = raw.execute(
        "SELECT status, total_pnl, created_at FROM bot_instances WHERE id = 'shell-bot'"
    ).fetchone()
    assert (status, total_pnl) == ("running", "0.00000000")
    assert len(created_at) == 27 and created_at.endswith("Z")


@pytest.mark.parametrize("status", ["closed", "cancelled"])
async def test_shell_cannot_reopen_a_trade(repo, raw, trade_id, status):
    if status == "closed":
        await repo.close_trade(trade_id, exit_price="51000")
    else:
        await repo.cancel_trade(trade_id)
    with pytest.raises(sqlite3.IntegrityError, match="cannot change status"):
        raw.execute("UPDATE trades SET status = 'open' WHERE id = ?", (trade_id,))


async def test_shell_edits_touch_updated_at(raw, trade_id):
    before = raw.execute("SELECT updated_at FROM trades").fetchone()[0]
    raw.execute("UPDATE trades SET updated_at = '2000-01-01 00:00:00.000000Z'")
    raw.execute("UPDATE trades SET exit_reason = 'manual'")
    after = raw.execute("SELECT updated_at FROM trades").fetchone()[0]
    assert after > before


async def test_money_is_stored_as_exact_text(raw, repo, bot):
    await repo.create_trade(trade_data(entry_price="123456789012.12345678"))
    assert raw.execute("SELECT entry_price, typeof(entry_price) FROM trades").fetchone() == (
        "123456789012.12345678",
        "text",
    )


def plan(raw, query_name, **params):
    query = QUERIES[query_name]
    rows = raw.execute("EXPLAIN QUERY PLAN " + query.sql, query.bind(params)).fetchall()
    return " | ".join(row[-1] for row in rows)


async def test_open_trades_of_a_bot_never_scan_its_closed_ones(repo, bot, raw):
    await repo.create_trade(trade_data())
    raw.execute("ANALYZE")
    text = plan(raw, "get_open_trades_of_bot", bot_id="bot-1", symbol=None)
    assert "USING INDEX idx_open_trades" in text, text
    assert "SCAN trades" not in text and "TEMP B-TREE" not in text, text


async def test_open_trades_of_all_bots_read_only_open_ones(raw, trade_id):
    text = plan(raw, "get_open_trades", symbol=None)
    assert "idx_open_trades" in text, text


async def test_closed_trades_of_a_bot_use_their_index(raw, trade_id):
    text = plan(raw, "get_closed_trades_of_bot", bot_id="bot-1", symbol=None, since=None, until=None, limit=-1)
    assert "idx_closed_trades" in text and "TEMP B-TREE" not in text, text


async def test_required_indexes_exist(raw):
    names = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"idx_symbol_status", "idx_entry_time", "idx_strategy", "idx_bot_trade_type", "idx_open_trades"} <= names
    columns = {row[2] for row in raw.execute("PRAGMA index_info(idx_strategy)")}
    assert columns == {"entry_logic_name", "exit_logic_name"}


async def test_connection_runs_in_wal_with_foreign_keys(repo, raw):
    assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert raw.execute("PRAGMA foreign_key_list(trades)").fetchone()[2] == "bot_instances"


@pytest.fixture
def shell(db_path, repo):
    """A connection like the sqlite3 shell's: PRAGMA foreign_keys left off."""
    connection = sqlite3.connect(db_path, isolation_level=None)
    assert connection.execute("PRAGMA foreign_keys").fetchone() == (0,)
    yield connection
    connection.close()


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO trades (id, bot_id, trade_type, entry_logic_name, exit_logic_name, symbol, interval, direction) "
        "VALUES ('0b6f3a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b', 'ghost', 'paper', 'e', 'x', 'BTCUSDT', '1h', 'long')",
        "UPDATE trades SET bot_id = 'ghost'",
        "INSERT INTO performance_metrics (id, bot_id) VALUES ('0b6f3a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b', 'ghost')",
        "DELETE FROM bot_instances WHERE id = 'bot-1'",
        "UPDATE bot_instances SET id = 'renamed' WHERE id = 'bot-1'",
    ],
)
async def test_foreign_keys_hold_even_with_the_pragma_off(shell, trade_id, statement):
    with pytest.raises(sqlite3.IntegrityError, match="bot"):
        shell.execute(statement)
    assert shell.execute("PRAGMA foreign_key_check").fetchall() == []


async def test_a_bot_without_trades_can_still_be_renamed_or_deleted_in_the_shell(shell, bot):
    shell.execute("UPDATE bot_instances SET id = 'renamed' WHERE id = 'bot-1'")
    shell.execute("DELETE FROM bot_instances WHERE id = 'renamed'")
    assert shell.execute("SELECT count(*) FROM bot_instances").fetchone() == (0,)


async def test_a_trade_cannot_exit_before_it_entered(shell, trade_id):
    with pytest.raises(sqlite3.IntegrityError, match="trades_exit_after_entry"):
        shell.execute("UPDATE trades SET exit_time = '2024-03-01 11:59:59.999999Z'")


NEW_TRADE = (
    "INSERT INTO trades (id, bot_id, trade_type, entry_logic_name, exit_logic_name, symbol, interval, direction{}) "
    "VALUES ('0b6f3a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b', 'bot-1', 'paper', 'e', 'x', 'BTCUSDT', '1h', 'long'{})"
)
CLOSED = (", status, entry_price, size, exit_price, exit_time",
          ", 'closed', '1.00000000', '1.00000000', '2.00000000', '2024-03-02 00:00:00.000000Z'")


@pytest.mark.parametrize(
    "statement, message",
    [
        # A closed trade always has its PnL: its bot's books count net_pnl.
        (NEW_TRADE.format(CLOSED[0], CLOSED[1]), "trades.gross_pnl: a closed trade needs"),
        (NEW_TRADE.format(CLOSED[0] + ", gross_pnl", CLOSED[1] + ", '1.00000000'"), "trades.net_pnl: a closed trade needs"),
        ("UPDATE trades SET status = 'closed', exit_price = '1.00000000', exit_time = '2024-03-02 00:00:00.000000Z', "
         "gross_pnl = '1.00000000'", "trades.net_pnl"),
        # A bot's trades have its type.
        (NEW_TRADE.replace("'paper'", "'live'").format("", ""), "trades.trade_type: is not the type of its bot"),
        ("UPDATE trades SET trade_type = 'live'", "trades.trade_type"),
        ("UPDATE bot_instances SET type = 'live'", "bot_instances.type: this bot has trades"),
        # extra_metadata: at most 1048576 bytes of JSON text, on every table.
        (NEW_TRADE.format(", extra_metadata", ", json_array(printf('%.1048573c', 'x'))"), "trades.extra_metadata"),
        ("UPDATE trades SET extra_metadata = json_array(printf('%.1048573c', 'x'))", "trades.extra_metadata"),
        ("INSERT INTO bot_instances (id, type, extra_metadata) VALUES ('b', 'paper', "
         "json_array(printf('%.1048573c', 'x')))", "bot_instances.extra_metadata"),
        ("UPDATE bot_instances SET extra_metadata = json_array(printf('%.1048573c', 'x'))", "bot_instances.extra_metadata"),
        ("INSERT INTO performance_metrics (id, bot_id, extra_metadata) VALUES ('0b6f3a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b', "
         "'bot-1', json_array(printf('%.1048573c', 'x')))", "performance_metrics.extra_metadata"),
    ],
)
async def test_shell_cannot_break_the_books_the_types_or_the_metadata_limit(shell, trade_id, statement, message):
    before = shell.execute("SELECT * FROM trades").fetchall(), shell.execute("SELECT * FROM bot_instances").fetchall()
    with pytest.raises(sqlite3.IntegrityError, match=message):
        shell.execute(statement)
    assert (shell.execute("SELECT * FROM trades").fetchall(), shell.execute("SELECT * FROM bot_instances").fetchall()) == before


async def test_a_closed_trades_pnl_cannot_be_removed_in_the_shell(repo, shell, trade_id):
    await repo.close_trade(trade_id, exit_price="51000")
    for column in ("gross_pnl", "net_pnl"):
        with pytest.raises(sqlite3.IntegrityError, match=f"trades.{column}"):
            shell.execute(f"UPDATE trades SET {column} = NULL")
    shell.execute("UPDATE trades SET net_pnl = '99.00000000', extra_metadata = json_array(printf('%.1048572c', 'x'))")
    assert shell.execute("SELECT length(extra_metadata) FROM trades").fetchone() == (1048576,)


async def test_metrics_metadata_is_limited_on_update_too(repo, shell, bot):
    metrics = await repo.calculate_performance_metrics("bot-1")
    with pytest.raises(sqlite3.IntegrityError, match="performance_metrics.extra_metadata"):
        shell.execute("UPDATE performance_metrics SET extra_metadata = json_array(printf('%.1048573c', 'x')) WHERE id = ?",
                      (str(metrics.id),))


async def test_the_type_of_a_bot_without_trades_can_change(shell, bot):
    shell.execute("UPDATE bot_instances SET type = 'live' WHERE id = 'bot-1'")
    shell.execute(NEW_TRADE.replace("'paper'", "'live'").format("", ""))
    assert shell.execute("SELECT trade_type FROM trades").fetchall() == [("live",)]
