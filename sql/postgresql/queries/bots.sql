-- Named queries for bot instances in PostgreSQL's words (the shared ones
-- are in sql/queries/bots.sql), columns in the order of tradedb.BotInstance.
-- Ids sort as SQLite sorts text, byte by byte (COLLATE "C"), whatever the
-- database's collation.

-- name: list_bot_instances(status) :many
-- Every bot instance, or those with one status, by id.
SELECT id, type, config_file, status, current_balance, total_pnl, started_at,
       last_heartbeat, extra_metadata, created_at, updated_at
FROM bot_instances
WHERE :status::text IS NULL OR status = :status
ORDER BY id COLLATE "C";

-- name: get_stale_bots(cutoff) :many
-- Bots still marked running whose last sign of life (the last heartbeat, or
-- the start if none was sent) is older than the cutoff, or that have
-- neither: they crashed without stopping. Neither counts as -infinity,
-- before any cutoff (SQLite's version compares '' with the cutoff's text).
SELECT id, type, config_file, status, current_balance, total_pnl, started_at,
       last_heartbeat, extra_metadata, created_at, updated_at
FROM bot_instances
WHERE status = 'running' AND coalesce(last_heartbeat, started_at, '-infinity') < :cutoff::timestamptz
ORDER BY id COLLATE "C";

-- name: get_bot_instance_for_update(id) :one
-- A bot instance about to be written back, its row locked until the
-- transaction ends: a concurrent writer of the same bot waits, then reads
-- what this one wrote (no lost update). NO KEY UPDATE: inserting a trade of
-- the bot (its foreign key's KEY SHARE lock) is not held up.
SELECT id, type, config_file, status, current_balance, total_pnl, started_at,
       last_heartbeat, extra_metadata, created_at, updated_at
FROM bot_instances
WHERE id = :id
FOR NO KEY UPDATE;

-- name: get_bot_books_for_update(id) :one
-- A bot's books about to be moved, its row locked until the transaction
-- ends (see get_bot_instance_for_update).
SELECT total_pnl, current_balance
FROM bot_instances
WHERE id = :id
FOR NO KEY UPDATE;
