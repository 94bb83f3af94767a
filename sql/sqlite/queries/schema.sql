-- Queries about the schema itself and yoyo's migration lock: for the health
-- report and for applying migrations (tradedb/schema.py, tradedb/migrations.py).

-- name: schema_objects() :many
-- Every table, index, trigger and view of the database's own schema: not
-- SQLite's internals, nor yoyo's bookkeeping tables and their indexes.
SELECT type, name, tbl_name, sql
FROM sqlite_master
WHERE name NOT LIKE 'sqlite~_%' ESCAPE '~'
  AND tbl_name NOT LIKE '~_yoyo~_%' ESCAPE '~'
  AND tbl_name NOT LIKE 'yoyo~_tmp~_%' ESCAPE '~'
  AND tbl_name <> 'yoyo_lock'
ORDER BY type, name;

-- name: table_columns(table_name) :many
-- A table's columns as SQLite sees them (hidden = generated or virtual).
SELECT name, type, "notnull", dflt_value, pk, hidden
FROM pragma_table_xinfo(:table_name)
ORDER BY cid;

-- name: has_table(table_name) :one
-- Whether a table of that name exists (1) or not (0).
SELECT count(*) AS present
FROM sqlite_master
WHERE type = 'table' AND name = :table_name;

-- name: migration_lock_holder() :one
-- The row yoyo (or tradedb) keeps while a process migrates: who holds it and since when.
SELECT pid, ctime
FROM yoyo_lock;
