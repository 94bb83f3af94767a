-- Named queries for upkeep in PostgreSQL's words (the shared ones are in
-- sql/queries/upkeep.sql): retention, health, and reading the schema's
-- version. Retention deletes in batches of :batch_size rows, each batch its
-- own short transaction, so bots writing at the same time wait at most one
-- batch (see "Retention" in README.md).

-- name: delete_finished_trades_before(cutoff, batch_size) :exec
-- Delete one batch of closed or cancelled trades that exited before the
-- cutoff, oldest exit first, through idx_exit_time. Never an open trade.
-- The batch's ids are an array, so that each is deleted through the primary
-- key (a join with them scanned the whole table).
DELETE FROM trades
WHERE id = ANY (ARRAY(
    SELECT id FROM trades
    WHERE exit_time < :cutoff::timestamptz AND status IN ('closed', 'cancelled')
    ORDER BY exit_time
    LIMIT :batch_size::bigint
));

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
