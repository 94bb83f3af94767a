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

-- name: delete_finished_trades_before(cutoff, batch_size) :exec
-- Delete one batch of closed or cancelled trades that exited before the
-- cutoff, oldest exit first, through idx_exit_time. Never an open trade.
DELETE FROM trades
WHERE rowid IN (
    SELECT rowid FROM trades
    WHERE exit_time < :cutoff AND status IN ('closed', 'cancelled')
    ORDER BY exit_time
    LIMIT :batch_size
);

-- name: count_metrics_before(cutoff) :one
-- How many performance metrics were calculated before the cutoff.
SELECT count(*) AS performance_metrics
FROM performance_metrics
WHERE calculated_at < :cutoff;

-- name: delete_metrics_before(cutoff, batch_size) :exec
-- Delete one batch of performance metrics calculated before the cutoff.
-- Old rows come first in rowid order, so each batch finds them at once.
DELETE FROM performance_metrics
WHERE rowid IN (
    SELECT rowid FROM performance_metrics
    WHERE calculated_at < :cutoff
    LIMIT :batch_size
);

-- name: row_counts() :one
-- Rows in each of tradedb's tables.
SELECT
    (SELECT count(*) FROM bot_instances) AS bot_instances,
    (SELECT count(*) FROM trades) AS trades,
    (SELECT count(*) FROM performance_metrics) AS performance_metrics;

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

-- name: applied_migration_ids() :many
-- The ids of the migrations yoyo applied, in the order it applied them.
SELECT migration_id
FROM _yoyo_migration
ORDER BY applied_at_utc, migration_id;
