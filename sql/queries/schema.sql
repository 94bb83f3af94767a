-- Queries about the schema itself and yoyo's migration lock: for the health
-- report and for applying migrations (tradedb/schema.py, tradedb/migrations.py).

-- name: take_migration_lock(pid, ctime) :exec
-- The same row yoyo's own lock writes, so yoyo's CLI waits for tradedb too.
INSERT INTO yoyo_lock (locked, ctime, pid)
VALUES (1, :ctime, :pid);

-- name: release_migration_lock(pid) :exec
-- Only the row of the process named: never another process's lock.
DELETE FROM yoyo_lock
WHERE pid = :pid;

-- name: clear_migration_lock() :exec
-- Taking over a lock whose process is gone: whatever the row holds.
DELETE FROM yoyo_lock;
