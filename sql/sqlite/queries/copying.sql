-- Named queries for copying one tradedb database into another, and for
-- archiving (tradedb/copying.py): every column, stored forms. Pages go in id
-- order (each table's primary key), so a copy can read a table a page at a
-- time without holding it, and a resumed copy meets the rows in one order.

-- name: copy_bots_after(bot_id, page_size) :many
-- A page of bots with every column (archived_pnl last), by id, after the
-- bot :bot_id ('' to start: every id is longer).
SELECT id, type, config_file, status, current_balance, total_pnl, started_at,
       last_heartbeat, extra_metadata, created_at, updated_at, archived_pnl
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
-- The first page of trades by id, every column.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
ORDER BY id
LIMIT :page_size;

-- name: copy_trades_after(id, page_size) :many
-- A page of trades by id after the trade :id, every column.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE id > :id
ORDER BY id
LIMIT :page_size;

-- name: copy_metrics_first(page_size) :many
-- The first page of performance metrics by id, every column.
SELECT id, bot_id, sharpe_ratio, profit_factor, max_drawdown, total_return, win_rate,
       total_trades, winning_trades, losing_trades, avg_win, avg_loss, largest_win,
       largest_loss, calculated_at, extra_metadata, created_at
FROM performance_metrics
ORDER BY id
LIMIT :page_size;

-- name: copy_metrics_after(id, page_size) :many
-- A page of performance metrics by id after the row :id, every column.
SELECT id, bot_id, sharpe_ratio, profit_factor, max_drawdown, total_return, win_rate,
       total_trades, winning_trades, losing_trades, avg_win, avg_loss, largest_win,
       largest_loss, calculated_at, extra_metadata, created_at
FROM performance_metrics
WHERE id > :id
ORDER BY id
LIMIT :page_size;

-- name: metrics_by_ids(ids) :many
-- The performance metrics rows among a JSON array of ids, every column.
SELECT id, bot_id, sharpe_ratio, profit_factor, max_drawdown, total_return, win_rate,
       total_trades, winning_trades, losing_trades, avg_win, avg_loss, largest_win,
       largest_loss, calculated_at, extra_metadata, created_at
FROM performance_metrics
WHERE id IN (SELECT value FROM json_each(:ids));

-- name: database_identity() :one
-- What tells this database from every other, so that a copy into itself is
-- refused whatever the path or URL says: the main database's file.
SELECT 'sqlite:' || file AS identity
FROM pragma_database_list
WHERE name = 'main';
