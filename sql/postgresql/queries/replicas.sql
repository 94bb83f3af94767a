-- Named queries about replication (tradedb/replicas.py).

-- name: server_wal_position() :one
-- Where this server is in the WAL, in bytes from 0/0: on a standby how far
-- it has replayed, on a primary how far it has written (past every commit
-- made so far); whether it is a standby; and the seconds since the last
-- commit it replayed (NULL on a primary).
SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END - '0/0'::pg_lsn)::bigint
           AS position,
       pg_is_in_recovery() AS in_recovery,
       extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS replay_age;
