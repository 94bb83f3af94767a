-- archived_pnl: per bot, the net_pnl of its closed trades that retention
-- took out of this database (deleted, or moved to an archive database).
-- depends: 0003.closed-trade-stats

-- A bot's total_pnl is the sum of its closed trades' net_pnl: of those
-- still here, plus archived_pnl. Retention adds each batch's net_pnl to it
-- in the transaction that deletes the batch, so health can tell books that
-- retention explains from books an edit moved. Exact decimal text, as
-- total_pnl; 0 for every bot already stored (trades deleted by a tradedb
-- before this migration are not counted: health names such bots).
ALTER TABLE bot_instances ADD COLUMN archived_pnl DECIMAL_TEXT(20,8) NOT NULL DEFAULT '0.00000000';

-- Its form is total_pnl's (exact decimal text, 8 places), held by triggers: a
-- CHECK added with ALTER TABLE makes SQLite run a query whose empty result
-- yoyo prints.
CREATE TRIGGER bot_instances_archived_pnl_on_insert
BEFORE INSERT ON bot_instances
FOR EACH ROW WHEN NOT ((NEW.archived_pnl GLOB '[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]' OR NEW.archived_pnl GLOB '-[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]')
         AND NEW.archived_pnl NOT GLOB '?*[^0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]')
BEGIN
    SELECT RAISE(ABORT, 'bot_instances.archived_pnl: is not decimal text with 8 places, such as 0.00000000');
END;

CREATE TRIGGER bot_instances_archived_pnl_on_update
BEFORE UPDATE OF archived_pnl ON bot_instances
FOR EACH ROW WHEN NOT ((NEW.archived_pnl GLOB '[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]' OR NEW.archived_pnl GLOB '-[0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]')
         AND NEW.archived_pnl NOT GLOB '?*[^0-9]*.[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]')
BEGIN
    SELECT RAISE(ABORT, 'bot_instances.archived_pnl: is not decimal text with 8 places, such as 0.00000000');
END;

-- The view has every column of its table, in order.
DROP VIEW bot_instances_view;

CREATE VIEW bot_instances_view AS
SELECT id, type, config_file, status,
       CAST(current_balance AS REAL) AS current_balance,
       CAST(total_pnl AS REAL) AS total_pnl,
       started_at, last_heartbeat, extra_metadata, created_at, updated_at,
       CAST(archived_pnl AS REAL) AS archived_pnl
FROM bot_instances;
