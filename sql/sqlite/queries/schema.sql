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

-- name: deferrable_indexes(table_name) :many
-- A table's indexes that a bulk load may build once at its end instead of
-- row by row (Session.bulk_load): those of CREATE INDEX that are not UNIQUE,
-- so every rule is still checked by the insert of the row that breaks it.
-- Each index's own text is kept to build it again exactly as it was.
SELECT m.name, m.sql
FROM pragma_index_list(:table_name) AS i
JOIN sqlite_master AS m ON m.type = 'index' AND m.name = i.name
WHERE i.origin = 'c' AND i."unique" = 0 AND m.sql IS NOT NULL
ORDER BY m.name;
