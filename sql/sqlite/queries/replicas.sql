-- Named queries about replication (tradedb/replicas.py): SQLite has none,
-- so this answers as a primary that has written nothing.

-- name: server_wal_position() :one
-- See sql/postgresql/queries/replicas.sql.
SELECT 0 AS position, 0 AS in_recovery, NULL AS replay_age;
