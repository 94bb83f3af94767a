-- Named queries for bot instances, columns in the order of tradedb.BotInstance.

-- name: list_bot_instances(status) :many
-- Every bot instance, or those with one status, by id.
SELECT id, type, config_file, status, current_balance, total_pnl, started_at,
       last_heartbeat, extra_metadata, created_at, updated_at
FROM bot_instances
WHERE :status IS NULL OR status = :status
ORDER BY id;

-- name: get_stale_bots(cutoff) :many
-- Bots still marked running whose last sign of life (the last heartbeat, or
-- the start if none was sent) is older than the cutoff, or that have
-- neither: they crashed without stopping. ISO text compares as time.
SELECT id, type, config_file, status, current_balance, total_pnl, started_at,
       last_heartbeat, extra_metadata, created_at, updated_at
FROM bot_instances
WHERE status = 'running' AND coalesce(last_heartbeat, started_at, '') < :cutoff
ORDER BY id;

-- name: get_bot_instance_for_update(id) :one
-- A bot instance about to be written back. On SQLite the transaction holds
-- the database's write lock already, so this is get_bot_instance.
SELECT id, type, config_file, status, current_balance, total_pnl, started_at,
       last_heartbeat, extra_metadata, created_at, updated_at
FROM bot_instances
WHERE id = :id;

-- name: get_bot_books_for_update(id) :one
-- A bot's books about to be moved. On SQLite the transaction holds the
-- database's write lock already, so this is get_bot_books.
SELECT total_pnl, current_balance
FROM bot_instances
WHERE id = :id;
