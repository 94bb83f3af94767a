-- Named queries for upkeep in PostgreSQL's words (the shared ones are in
-- sql/queries/upkeep.sql): retention, health, and reading the schema's
-- version. Retention deletes in batches of :batch_size rows, each batch its
-- own short transaction, so bots writing at the same time wait at most one
-- batch (see "Retention" in README.md).

-- name: finished_trade_pnl_before(cutoff, batch_size) :many
-- One batch of retention: closed or cancelled trades that exited before the
-- cutoff, oldest exit first, through idx_exit_time (never an open trade);
-- each with what it counts in its bot's books. Locked: the same transaction
-- deletes them (delete_trades_by_ids) and adds their net_pnl to their bots'
-- archived_pnl, so a correction of one committed meanwhile waits, and is
-- either counted or not deleted.
SELECT id, bot_id, status, net_pnl
FROM trades
WHERE exit_time < :cutoff::timestamptz AND status IN ('closed', 'cancelled')
ORDER BY exit_time
LIMIT :batch_size::bigint
FOR UPDATE;

-- name: finished_trades_before(cutoff, batch_size) :many
-- The same batch, every column (for the archive, which stores them first).
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE exit_time < :cutoff::timestamptz AND status IN ('closed', 'cancelled')
ORDER BY exit_time
LIMIT :batch_size::bigint;

-- name: finished_trades_by_ids_for_update(ids) :many
-- Those of a JSON array of trade ids that are still closed or cancelled,
-- every column, about to be deleted once archived: the archived copy is
-- compared with them first. Locked until the transaction ends.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE id = ANY (ARRAY(SELECT CAST(value AS uuid) FROM jsonb_array_elements_text(:ids::jsonb) AS ids (value)))
  AND status IN ('closed', 'cancelled')
FOR UPDATE;

-- name: delete_trades_by_ids(ids) :exec
-- Delete the trades of a JSON array of ids, each through the primary key.
DELETE FROM trades
WHERE id = ANY (ARRAY(SELECT CAST(value AS uuid) FROM jsonb_array_elements_text(:ids::jsonb) AS ids (value)));

-- name: delete_metrics_before(cutoff, batch_size) :exec
-- Delete one batch of performance metrics calculated before the cutoff.
-- Rows are appended to the table as they are calculated, so a scan in
-- storage order finds the old ones at once; each is then deleted through
-- the primary key, as above.
DELETE FROM performance_metrics
WHERE id = ANY (ARRAY(
    SELECT id FROM performance_metrics
    WHERE calculated_at < :cutoff::timestamptz
    LIMIT :batch_size::bigint
));

-- name: metrics_before(cutoff, batch_size) :many
-- A batch of delete_metrics_before's rows, every column (for the archive).
SELECT id, bot_id, sharpe_ratio, profit_factor, max_drawdown, total_return, win_rate,
       total_trades, winning_trades, losing_trades, avg_win, avg_loss, largest_win,
       largest_loss, calculated_at, extra_metadata, created_at
FROM performance_metrics
WHERE id = ANY (ARRAY(
    SELECT id FROM performance_metrics
    WHERE calculated_at < :cutoff::timestamptz
    LIMIT :batch_size::bigint
));

-- name: delete_metrics_by_ids(ids) :exec
-- Delete the metrics rows of a JSON array of ids, each through the primary key.
DELETE FROM performance_metrics
WHERE id = ANY (ARRAY(SELECT CAST(value AS uuid) FROM jsonb_array_elements_text(:ids::jsonb) AS ids (value)));

-- name: get_archived_pnl_for_update(id) :one
-- A bot's archived_pnl about to be moved by retention, its row locked until
-- the transaction ends (as get_bot_books_for_update: NO KEY UPDATE).
SELECT archived_pnl
FROM bot_instances
WHERE id = :id
FOR NO KEY UPDATE;

-- name: count_user_tables() :one
-- Tables in the current schema other than yoyo's own: a database that has
-- any holds data worth a backup before migrating.
SELECT count(*) AS tables
FROM pg_catalog.pg_tables
WHERE schemaname = current_schema()
  AND tablename NOT LIKE '~_yoyo~_%' ESCAPE '~'
  AND tablename <> 'yoyo_lock';

-- name: has_yoyo_migration_table() :one
-- Whether yoyo's table of applied migrations exists in the current schema (1) or not (0).
SELECT count(*) AS present
FROM pg_catalog.pg_tables
WHERE schemaname = current_schema() AND tablename = '_yoyo_migration';

-- name: count_closed_trades_without_pnl() :one
-- Closed trades lacking gross_pnl or net_pnl. The schema refuses them on
-- PostgreSQL (its 0002 checked the rows already stored), so this is 0
-- unless a trigger was dropped; the planner picks a pass over the table or
-- idx_closed_trades, whichever reads less.
SELECT count(*) AS trades
FROM trades
WHERE status = 'closed' AND (gross_pnl IS NULL OR net_pnl IS NULL);

-- name: closed_trades_without_pnl(limit) :many
-- Up to :limit of those trades, as examples (a negative limit: all).
SELECT id
FROM trades
WHERE status = 'closed' AND (gross_pnl IS NULL OR net_pnl IS NULL)
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END;

-- name: trades_of_another_type(limit) :many
-- Up to :limit of the trades whose trade_type is not their bot's type, as
-- examples: the trade, its type, its bot and the bot's type (a negative
-- limit: all). The foreign key on (bot_id, trade_type) makes them
-- impossible here, unless it was dropped.
SELECT t.id, t.trade_type, b.id AS bot_id, b.type AS bot_type
FROM bot_instances AS b
JOIN trades AS t ON t.bot_id = b.id AND t.trade_type <> b.type
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END;

-- name: closed_net_pnl_by_bot() :many
-- Each bot's closed trades' net_pnl, summed exactly in 10^-8 units as in
-- analytics.sql (see its header): NUMERIC sums are exact at any size, so
-- widest_amount is always 0 and tradedb never sums in Python here.
SELECT bot_id, trunc(sum(net_pnl) * 100000000) AS net_pnl_units, 0 AS widest_amount
FROM trades
WHERE status = 'closed' AND net_pnl IS NOT NULL
GROUP BY bot_id;

-- name: closed_net_pnl() :many
-- Every closed trade's net_pnl with its bot, for summing in Python.
SELECT bot_id, net_pnl
FROM trades
WHERE status = 'closed' AND net_pnl IS NOT NULL;
