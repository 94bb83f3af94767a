-- Named queries for copying one tradedb database into another (tradedb copy,
-- tradedb/copying.py) and for archiving (cleanup --archive): rows are read
-- and written in their stored forms, every column, so the copy is exact.
-- Trades and metrics go in with insert_trade and insert_performance_metrics.

-- name: insert_bot_copy(id, type, config_file, status, current_balance, total_pnl, started_at, last_heartbeat, extra_metadata, created_at, updated_at, archived_pnl) :exec
-- Store a bot as another database holds it, its books as they are there
-- (total_pnl and archived_pnl are never set this way otherwise). A bot whose
-- id is stored already is left as it is (0 rows changed).
INSERT INTO bot_instances (
    id, type, config_file, status, current_balance, total_pnl, started_at,
    last_heartbeat, extra_metadata, created_at, updated_at, archived_pnl
) VALUES (
    :id, :type, :config_file, :status, :current_balance, :total_pnl, :started_at,
    :last_heartbeat, :extra_metadata, :created_at, :updated_at, :archived_pnl
)
ON CONFLICT (id) DO NOTHING;
