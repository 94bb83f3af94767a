-- Named queries for bot instances, columns in the order of tradedb.BotInstance.

-- name: insert_bot_instance(id, type, config_file, status, current_balance, total_pnl, started_at, last_heartbeat, extra_metadata, created_at, updated_at) :exec
-- Store a new bot instance, every column given.
INSERT INTO bot_instances (
    id, type, config_file, status, current_balance, total_pnl, started_at,
    last_heartbeat, extra_metadata, created_at, updated_at
) VALUES (
    :id, :type, :config_file, :status, :current_balance, :total_pnl, :started_at,
    :last_heartbeat, :extra_metadata, :created_at, :updated_at
);

-- name: get_bot_instance(id) :one
-- One bot instance by its id.
SELECT id, type, config_file, status, current_balance, total_pnl, started_at,
       last_heartbeat, extra_metadata, created_at, updated_at
FROM bot_instances
WHERE id = :id;

-- name: update_bot_instance(id, config_file, status, current_balance, total_pnl, started_at, last_heartbeat, extra_metadata, updated_at) :exec
-- Write a bot instance's whole row back (changes are merged in Python), but
-- its type: the type is part of the key its trades refer to, and on
-- PostgreSQL an UPDATE that names a key column locks the row against every
-- trade insert of the bot (deadlocks with the books). set_bot_type changes it.
UPDATE bot_instances
SET config_file = :config_file, status = :status,
    current_balance = :current_balance, total_pnl = :total_pnl,
    started_at = :started_at, last_heartbeat = :last_heartbeat,
    extra_metadata = :extra_metadata, updated_at = :updated_at
WHERE id = :id;

-- name: set_bot_type(id, type) :exec
-- Change a bot's type (only a bot without trades may: a trigger refuses the rest).
UPDATE bot_instances
SET type = :type
WHERE id = :id;

-- name: get_bot_books(id) :one
-- A bot's books alone (total_pnl, current_balance), to move them when its
-- trades' PnL changes.
SELECT total_pnl, current_balance
FROM bot_instances
WHERE id = :id;

-- name: update_bot_books(id, total_pnl, current_balance, updated_at) :exec
-- Write a bot's books back. Only these columns: closing a trade should not
-- rewrite (and re-check) the rest of its bot's row.
UPDATE bot_instances
SET total_pnl = :total_pnl, current_balance = :current_balance, updated_at = :updated_at
WHERE id = :id;
