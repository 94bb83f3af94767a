-- Named queries for copying one tradedb database into another, and for
-- archiving (tradedb/copying.py), in PostgreSQL's words: every column,
-- stored forms. Pages go in id order (each table's primary key; bot ids
-- byte by byte, COLLATE "C", as SQLite orders them); a page's last column,
-- page_cursor, is where the next page starts.

-- name: copy_bots_after(bot_id, page_size) :many
-- A page of bots with every column (archived_pnl last), then the id again, by
-- id, after the bot :bot_id ('' to start: every id is longer).
SELECT id, type, config_file, status, current_balance, total_pnl, started_at,
       last_heartbeat, extra_metadata, created_at, updated_at, archived_pnl, id AS page_cursor
FROM bot_instances
WHERE id COLLATE "C" > :bot_id::text
ORDER BY id COLLATE "C"
LIMIT :page_size::bigint;

-- name: bots_by_ids(ids) :many
-- The bots among a JSON array of ids, every column (archived_pnl last).
SELECT id, type, config_file, status, current_balance, total_pnl, started_at,
       last_heartbeat, extra_metadata, created_at, updated_at, archived_pnl
FROM bot_instances
WHERE id = ANY (ARRAY(SELECT jsonb_array_elements_text(:ids::jsonb)));

-- name: copy_trades_first(page_size) :many
-- The first page of trades by id, every column, then the id again.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at, id AS page_cursor
FROM trades
ORDER BY id
LIMIT :page_size::bigint;

-- name: copy_trades_after(page_after, page_size) :many
-- A page of trades by id after the trade :page_after, every column, then the id again.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at, id AS page_cursor
FROM trades
WHERE id > CAST(:page_after::text AS uuid)
ORDER BY id
LIMIT :page_size::bigint;

-- name: copy_metrics_first(page_size) :many
-- The first page of performance metrics by id, every column, then the id again.
SELECT id, bot_id, sharpe_ratio, profit_factor, max_drawdown, total_return, win_rate,
       total_trades, winning_trades, losing_trades, avg_win, avg_loss, largest_win,
       largest_loss, calculated_at, extra_metadata, created_at, id AS page_cursor
FROM performance_metrics
ORDER BY id
LIMIT :page_size::bigint;

-- name: copy_metrics_after(page_after, page_size) :many
-- A page of performance metrics by id after the row :page_after, every column, then the id again.
SELECT id, bot_id, sharpe_ratio, profit_factor, max_drawdown, total_return, win_rate,
       total_trades, winning_trades, losing_trades, avg_win, avg_loss, largest_win,
       largest_loss, calculated_at, extra_metadata, created_at, id AS page_cursor
FROM performance_metrics
WHERE id > CAST(:page_after::text AS uuid)
ORDER BY id
LIMIT :page_size::bigint;

-- name: metrics_by_ids(ids) :many
-- The performance metrics rows among a JSON array of ids, every column.
SELECT id, bot_id, sharpe_ratio, profit_factor, max_drawdown, total_return, win_rate,
       total_trades, winning_trades, losing_trades, avg_win, avg_loss, largest_win,
       largest_loss, calculated_at, extra_metadata, created_at
FROM performance_metrics
WHERE id = ANY (ARRAY(SELECT CAST(value AS uuid) FROM jsonb_array_elements_text(:ids::jsonb) AS ids (value)));

-- name: closed_trades_by_bot() :many
-- Each bot's closed trades, counted (the verification of a copy).
SELECT bot_id, count(*) AS closed_trades
FROM trades
WHERE status = 'closed'
GROUP BY bot_id;

-- name: database_identity() :one
-- What tells this database from every other, so that a copy into itself is
-- refused whatever the path or URL says: the server's system identifier
-- and the database's name.
SELECT 'postgresql:' || system_identifier || '/' || current_database() AS identity
FROM pg_control_system();
