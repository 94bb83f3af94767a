-- Named queries for upkeep: retention, health, and reading the schema's
-- version. Retention deletes in batches of :batch_size rows, each batch its
-- own short transaction, so bots writing at the same time wait at most one
-- batch (see "Retention" in README.md).

-- name: finished_trade_pnl_before(cutoff, batch_size) :many
-- One batch of retention: closed or cancelled trades that exited before the
-- cutoff, oldest exit first, through idx_exit_time (never an open trade);
-- each with what it counts in its bot's books. The same transaction deletes
-- them (delete_trades_by_ids) and adds their net_pnl to their bots'
-- archived_pnl.
SELECT id, bot_id, status, net_pnl
FROM trades
WHERE exit_time < :cutoff AND status IN ('closed', 'cancelled')
ORDER BY exit_time
LIMIT :batch_size;

-- name: finished_trades_before(cutoff, batch_size) :many
-- The same batch, every column (for the archive, which stores them first).
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE exit_time < :cutoff AND status IN ('closed', 'cancelled')
ORDER BY exit_time
LIMIT :batch_size;

-- name: finished_trades_by_ids_for_update(ids) :many
-- Those of a JSON array of trade ids that are still closed or cancelled,
-- every column, about to be deleted once archived: the archived copy is
-- compared with them first. On SQLite the transaction holds the write lock.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE id IN (SELECT value FROM json_each(:ids)) AND status IN ('closed', 'cancelled');

-- name: delete_trades_by_ids(ids) :exec
-- Delete the trades of a JSON array of ids, each through the primary key.
DELETE FROM trades
WHERE id IN (SELECT value FROM json_each(:ids));

-- name: delete_metrics_before(cutoff, batch_size) :exec
-- Delete one batch of performance metrics calculated before the cutoff.
-- Old rows come first in rowid order, so each batch finds them at once.
DELETE FROM performance_metrics
WHERE rowid IN (
    SELECT rowid FROM performance_metrics
    WHERE calculated_at < :cutoff
    LIMIT :batch_size
);

-- name: metrics_before(cutoff, batch_size) :many
-- A batch of delete_metrics_before's rows, every column (for the archive).
SELECT id, bot_id, sharpe_ratio, profit_factor, max_drawdown, total_return, win_rate,
       total_trades, winning_trades, losing_trades, avg_win, avg_loss, largest_win,
       largest_loss, calculated_at, extra_metadata, created_at
FROM performance_metrics
WHERE rowid IN (
    SELECT rowid FROM performance_metrics
    WHERE calculated_at < :cutoff
    LIMIT :batch_size
);

-- name: delete_metrics_by_ids(ids) :exec
-- Delete the metrics rows of a JSON array of ids, each through the primary key.
DELETE FROM performance_metrics
WHERE id IN (SELECT value FROM json_each(:ids));

-- name: get_archived_pnl_for_update(id) :one
-- A bot's archived_pnl about to be moved by retention. On SQLite the
-- transaction holds the write lock already.
SELECT archived_pnl
FROM bot_instances
WHERE id = :id;

-- name: count_user_tables() :one
-- Tables other than SQLite's and yoyo's own: a database that has any holds
-- data worth a backup before migrating.
SELECT count(*) AS tables
FROM sqlite_master
WHERE type = 'table'
  AND name NOT LIKE 'sqlite~_%' ESCAPE '~'
  AND name NOT LIKE '~_yoyo~_%' ESCAPE '~'
  AND name <> 'yoyo_lock';

-- name: has_yoyo_migration_table() :one
-- Whether yoyo's table of applied migrations exists (1) or not (0).
SELECT count(*) AS present
FROM sqlite_master
WHERE type = 'table' AND name = '_yoyo_migration';

-- name: count_closed_trades_without_pnl() :one
-- Closed trades lacking gross_pnl or net_pnl: rows a database written
-- before migration 0002 can hold (its triggers guard only new writes).
-- NOT INDEXED: one pass over the table in its order is far faster than
-- idx_closed_trades's jumps from row to row when most trades are closed.
SELECT count(*) AS trades
FROM trades NOT INDEXED
WHERE status = 'closed' AND (gross_pnl IS NULL OR net_pnl IS NULL);

-- name: closed_trades_without_pnl(limit) :many
-- Up to :limit of those trades, as examples.
SELECT id
FROM trades
WHERE status = 'closed' AND (gross_pnl IS NULL OR net_pnl IS NULL)
LIMIT :limit;

-- name: trades_of_another_type(limit) :many
-- Up to :limit of those trades, as examples: the trade, its type, its bot
-- and the bot's type.
SELECT t.id, t.trade_type, b.id AS bot_id, b.type AS bot_type
FROM bot_instances AS b
JOIN trades AS t ON t.bot_id = b.id AND t.trade_type <> b.type
LIMIT :limit;

-- name: closed_net_pnl_by_bot() :many
-- Each bot's closed trades' net_pnl, summed exactly in 10^-8 units as in
-- analytics.sql (see its header), with the widest amount summed: past 19
-- characters, or on "integer overflow", tradedb sums closed_net_pnl in
-- Python instead. One pass over the table (see NOT INDEXED above).
SELECT bot_id, sum(CAST(replace(net_pnl, '.', '') AS INTEGER)) AS net_pnl_units, max(length(net_pnl)) AS widest_amount
FROM trades NOT INDEXED
WHERE status = 'closed' AND net_pnl IS NOT NULL
GROUP BY bot_id;

-- name: closed_net_pnl() :many
-- Every closed trade's net_pnl with its bot, for summing in Python.
SELECT bot_id, net_pnl
FROM trades NOT INDEXED
WHERE status = 'closed' AND net_pnl IS NOT NULL;
