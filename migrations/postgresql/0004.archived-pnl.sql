-- archived_pnl: per bot, the net_pnl of its closed trades that retention
-- took out of this database (deleted, or moved to an archive database).
-- depends: 0003.closed-trade-stats

-- A bot's total_pnl is the sum of its closed trades' net_pnl: of those
-- still here, plus archived_pnl. Retention adds each batch's net_pnl to it
-- in the transaction that deletes the batch, so health can tell books that
-- retention explains from books an edit moved. Exact, as total_pnl; 0 for
-- every bot already stored (trades deleted by a tradedb before this
-- migration are not counted: health names such bots).
ALTER TABLE bot_instances ADD COLUMN archived_pnl NUMERIC(1000,8) NOT NULL DEFAULT 0
    CONSTRAINT bot_instances_archived_pnl_decimal CHECK (archived_pnl <> 'NaN');

-- The view has every column of its table, in order.
CREATE OR REPLACE VIEW bot_instances_view AS
SELECT id, type, config_file, status,
       CAST(current_balance AS double precision) AS current_balance,
       CAST(total_pnl AS double precision) AS total_pnl,
       started_at, last_heartbeat, extra_metadata, created_at, updated_at,
       CAST(archived_pnl AS double precision) AS archived_pnl
FROM bot_instances;
