-- Undo 0004: the view without archived_pnl, its triggers, and the column
-- dropped (ALTER TABLE ... DROP COLUMN: SQLite 3.35 or newer).
DROP TRIGGER bot_instances_archived_pnl_on_update;
DROP TRIGGER bot_instances_archived_pnl_on_insert;
DROP VIEW bot_instances_view;

CREATE VIEW bot_instances_view AS
SELECT id, type, config_file, status,
       CAST(current_balance AS REAL) AS current_balance,
       CAST(total_pnl AS REAL) AS total_pnl,
       started_at, last_heartbeat, extra_metadata, created_at, updated_at
FROM bot_instances;

ALTER TABLE bot_instances DROP COLUMN archived_pnl;
