-- Named queries for copying one tradedb database into another, and for
-- archiving (tradedb/copying.py): every column, stored forms. A page's last
-- column, page_cursor, is where the next page starts. Trades and metrics go
-- in rowid order, the order they were stored, which is about the order of
-- their times: DEST's time indexes take rows in that order far faster than
-- in id order, which is random (README, The bulk path). Bots go by id.

-- name: copy_bots_after(bot_id, page_size) :many
-- A page of bots with every column (archived_pnl last), then the id again, by
-- id, after the bot :bot_id ('' to start: every id is longer).
SELECT id, type, config_file, status, current_balance, total_pnl, started_at,
       last_heartbeat, extra_metadata, created_at, updated_at, archived_pnl, id AS page_cursor
FROM bot_instances
WHERE id > :bot_id
ORDER BY id
LIMIT :page_size;

-- name: bots_by_ids(ids) :many
-- The bots among a JSON array of ids, every column (archived_pnl last).
SELECT id, type, config_file, status, current_balance, total_pnl, started_at,
       last_heartbeat, extra_metadata, created_at, updated_at, archived_pnl
FROM bot_instances
WHERE id IN (SELECT value FROM json_each(:ids));

-- name: copy_trades_first(page_size) :many
-- The first page of trades in rowid order, every column, then the rowid.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at, rowid AS page_cursor
FROM trades
ORDER BY rowid
LIMIT :page_size;

-- name: copy_trades_after(page_after, page_size) :many
-- A page of trades in rowid order after the rowid :page_after, every column, then the rowid.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at, rowid AS page_cursor
FROM trades
WHERE rowid > :page_after
ORDER BY rowid
LIMIT :page_size;

-- name: copy_metrics_first(page_size) :many
-- The first page of performance metrics in rowid order, every column, then the rowid.
SELECT id, bot_id, sharpe_ratio, profit_factor, max_drawdown, total_return, win_rate,
       total_trades, winning_trades, losing_trades, avg_win, avg_loss, largest_win,
       largest_loss, calculated_at, extra_metadata, created_at, rowid AS page_cursor
FROM performance_metrics
ORDER BY rowid
LIMIT :page_size;

-- name: copy_metrics_after(page_after, page_size) :many
-- A page of performance metrics in rowid order after the rowid :page_after, every column, then the rowid.
SELECT id, bot_id, sharpe_ratio, profit_factor, max_drawdown, total_return, win_rate,
       total_trades, winning_trades, losing_trades, avg_win, avg_loss, largest_win,
       largest_loss, calculated_at, extra_metadata, created_at, rowid AS page_cursor
FROM performance_metrics
WHERE rowid > :page_after
ORDER BY rowid
LIMIT :page_size;

-- name: metrics_by_ids(ids) :many
-- The performance metrics rows among a JSON array of ids, every column.
SELECT id, bot_id, sharpe_ratio, profit_factor, max_drawdown, total_return, win_rate,
       total_trades, winning_trades, losing_trades, avg_win, avg_loss, largest_win,
       largest_loss, calculated_at, extra_metadata, created_at
FROM performance_metrics
WHERE id IN (SELECT value FROM json_each(:ids));

-- name: closed_trades_by_bot() :many
-- Each bot's closed trades, counted (the verification of a copy; the
-- partial index idx_closed_trades holds just these rows).
SELECT bot_id, count(*) AS closed_trades
FROM trades
WHERE status = 'closed'
GROUP BY bot_id;

-- name: database_identity() :one
-- What tells this database from every other, so that a copy into itself is
-- refused whatever the path or URL says: the main database's file.
SELECT 'sqlite:' || file AS identity
FROM pragma_database_list
WHERE name = 'main';
