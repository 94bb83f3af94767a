-- Named queries for upkeep: retention, health, and reading the schema's
-- version. Retention deletes in batches of :batch_size rows, each batch its
-- own short transaction, so bots writing at the same time wait at most one
-- batch (see "Retention" in README.md).

-- name: count_finished_trades_before(cutoff) :one
-- How many closed or cancelled trades exited before the cutoff (what
-- retention would delete). Open trades are never counted.
SELECT count(*) AS trades
FROM trades
WHERE exit_time < :cutoff AND status IN ('closed', 'cancelled');

-- name: count_metrics_before(cutoff) :one
-- How many performance metrics were calculated before the cutoff.
SELECT count(*) AS performance_metrics
FROM performance_metrics
WHERE calculated_at < :cutoff;

-- name: row_counts() :one
-- Rows in each of tradedb's tables.
SELECT
    (SELECT count(*) FROM bot_instances) AS bot_instances,
    (SELECT count(*) FROM trades) AS trades,
    (SELECT count(*) FROM performance_metrics) AS performance_metrics;

-- name: applied_migration_ids() :many
-- The ids of the migrations yoyo applied, in the order it applied them.
SELECT migration_id
FROM _yoyo_migration
ORDER BY applied_at_utc, migration_id;

-- name: count_trades_of_another_type() :one
-- Trades whose trade_type is not their bot's type (allowed before
-- migration 0002), read from idx_bot_trade_type alone. A trade whose bot
-- is missing is not counted here: foreign_key_check counts it.
SELECT count(*) AS trades
FROM bot_instances AS b
JOIN trades AS t ON t.bot_id = b.id AND t.trade_type <> b.type;

-- name: bot_books() :many
-- Every bot's total_pnl, which must equal the sum of its closed trades'
-- net_pnl (a closed trade without net_pnl counts nothing) plus archived_pnl
-- (the net_pnl of those retention took out of the database).
SELECT id, total_pnl, archived_pnl
FROM bot_instances;

-- name: set_archived_pnl(id, archived_pnl, updated_at) :exec
-- Write a bot's archived_pnl back (retention, in the transaction that
-- deletes the trades it counts). Only this column and updated_at.
UPDATE bot_instances
SET archived_pnl = :archived_pnl, updated_at = :updated_at
WHERE id = :id;
