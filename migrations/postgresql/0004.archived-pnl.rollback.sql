-- Undo 0004: the view without archived_pnl, and the column dropped.
DROP VIEW bot_instances_view;

CREATE VIEW bot_instances_view AS
SELECT id, type, config_file, status,
       CAST(current_balance AS double precision) AS current_balance,
       CAST(total_pnl AS double precision) AS total_pnl,
       started_at, last_heartbeat, extra_metadata, created_at, updated_at
FROM bot_instances;

ALTER TABLE bot_instances DROP COLUMN archived_pnl;
