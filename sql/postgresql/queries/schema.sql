-- Queries about the schema itself and yoyo's migration lock, in PostgreSQL's
-- words (reading pg_catalog where SQLite's read sqlite_master and pragmas),
-- with the columns of SQLite's versions: for the health report and for
-- applying migrations. Only the current schema (the search_path's first) is
-- read; yoyo's own tables are left out.

-- name: schema_objects() :many
-- Every table, index, trigger, view and function of the database's own
-- schema, as (type, name, table, definition), like sqlite_master's rows: a
-- table's definition is its constraints (its columns are in table_columns),
-- an index's is its CREATE INDEX (indexes behind a constraint are the
-- constraint's), a trigger's its CREATE TRIGGER, a function's (a trigger's
-- body) its CREATE FUNCTION. Not yoyo's tables, nor what depends on them.
SELECT type, name, tbl_name, sql
FROM (
    SELECT 'table' AS type, c.relname AS name, c.relname AS tbl_name,
           (SELECT string_agg(k.conname || ' ' || pg_get_constraintdef(k.oid), ', ' ORDER BY k.conname COLLATE "C")
            FROM pg_catalog.pg_constraint AS k WHERE k.conrelid = c.oid) AS sql
    FROM pg_catalog.pg_class AS c
    WHERE c.relnamespace = CAST(current_schema() AS regnamespace) AND c.relkind IN ('r', 'p')
    UNION ALL
    SELECT 'view', c.relname, c.relname, 'CREATE VIEW ' || c.relname || ' AS ' || pg_get_viewdef(c.oid)
    FROM pg_catalog.pg_class AS c
    WHERE c.relnamespace = CAST(current_schema() AS regnamespace) AND c.relkind IN ('v', 'm')
    UNION ALL
    SELECT 'index', i.relname, t.relname, pg_get_indexdef(i.oid)
    FROM pg_catalog.pg_index AS x
    JOIN pg_catalog.pg_class AS i ON i.oid = x.indexrelid
    JOIN pg_catalog.pg_class AS t ON t.oid = x.indrelid
    WHERE i.relnamespace = CAST(current_schema() AS regnamespace)
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS k WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid)
    UNION ALL
    SELECT 'trigger', g.tgname, t.relname, pg_get_triggerdef(g.oid)
    FROM pg_catalog.pg_trigger AS g
    JOIN pg_catalog.pg_class AS t ON t.oid = g.tgrelid
    WHERE t.relnamespace = CAST(current_schema() AS regnamespace) AND NOT g.tgisinternal
    UNION ALL
    SELECT 'function', p.proname, p.proname, pg_get_functiondef(p.oid)
    FROM pg_catalog.pg_proc AS p
    WHERE p.pronamespace = CAST(current_schema() AS regnamespace)
) AS objects
WHERE tbl_name NOT LIKE '~_yoyo~_%' ESCAPE '~'
  AND tbl_name NOT LIKE 'yoyo~_tmp~_%' ESCAPE '~'
  AND tbl_name <> 'yoyo_lock'
ORDER BY type COLLATE "C", name COLLATE "C";

-- name: table_columns(table_name) :many
-- A table's (or view's) columns in the columns of SQLite's
-- pragma_table_xinfo: name, type, notnull (0 or 1), default, pk (the
-- column's place in the primary key, 0 if not in it) and hidden (3 for a
-- stored generated column, else 0).
SELECT a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS type,
       CAST(a.attnotnull AS integer) AS "notnull",
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END AS dflt_value,
       coalesce(array_position(p.conkey, a.attnum), 0) AS pk,
       CASE WHEN a.attgenerated = 's' THEN 3 ELSE 0 END AS hidden
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_catalog.pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_catalog.pg_constraint AS p ON p.conrelid = c.oid AND p.contype = 'p'
WHERE c.relnamespace = CAST(current_schema() AS regnamespace) AND c.relname = :table_name::text
ORDER BY a.attnum;

-- name: has_table(table_name) :one
-- Whether a table of that name exists in the current schema (1) or not (0).
SELECT count(*) AS present
FROM pg_catalog.pg_tables
WHERE schemaname = current_schema() AND tablename = :table_name::text;

-- name: migration_lock_holder() :one
-- The row yoyo (or tradedb) keeps while a process migrates: who holds it and
-- since when (UTC, as text, as SQLite holds it).
SELECT pid, to_char(ctime, 'YYYY-MM-DD HH24:MI:SS.US') AS ctime
FROM yoyo_lock;

-- name: deferrable_indexes(table_name) :many
-- A table's indexes that a bulk load may build once at its end instead of
-- row by row (Session.bulk_load): neither UNIQUE nor a constraint's, so every
-- rule is still checked by the insert of the row that breaks it; valid, owned
-- by this user (DROP INDEX needs that), and nothing of theirs that the
-- definition would not bring back (a tablespace, a comment, CLUSTER's mark).
-- The name as regclass prints it: quoted, and schema-qualified when outside
-- the search_path. Each index's own definition is kept to build it again.
SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS sql
FROM pg_index AS i
JOIN pg_class AS c ON c.oid = i.indexrelid
WHERE i.indrelid = to_regclass(:table_name::text)
  AND NOT i.indisunique AND NOT i.indisprimary AND NOT i.indisexclusion
  AND i.indisvalid AND i.indisready AND NOT i.indisclustered
  AND c.reltablespace = 0 AND pg_has_role(c.relowner, 'USAGE')
  AND obj_description(c.oid, 'pg_class') IS NULL
  AND NOT EXISTS (SELECT 1 FROM pg_constraint AS k WHERE k.conindid = i.indexrelid)
ORDER BY 1;
