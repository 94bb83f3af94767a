-- Closed trades keep their PnL, a trade has its bot's type, extra_metadata
-- is at most 1 MiB of JSON text, and numeric views for the shell and pandas.
-- depends: 0001.initial-schema

-- Rows stored before this migration that break the new rules are kept as
-- they are (the migration must apply to any 0001 database); the triggers
-- refuse only writes that would break a rule, so such a row can still be
-- read, and be fixed. Find them with:
--   SELECT t.id FROM trades t JOIN bot_instances b ON b.id = t.bot_id
--   WHERE t.trade_type <> b.type
--      OR (t.status = 'closed' AND (t.gross_pnl IS NULL OR t.net_pnl IS NULL));

-- One trigger per inserted trade, with one primary-key lookup of its bot:
-- the bot must exist (the foreign key, kept even with PRAGMA foreign_keys
-- off) and have the trade's type. The messages are picked only on failure.
DROP TRIGGER trades_bot_exists_on_insert;

CREATE TRIGGER trades_rules_on_insert
BEFORE INSERT ON trades
FOR EACH ROW WHEN NEW.trade_type IS NOT (SELECT type FROM bot_instances WHERE id = NEW.bot_id)
    OR (NEW.status = 'closed' AND (NEW.gross_pnl IS NULL OR NEW.net_pnl IS NULL))
    OR length(CAST(NEW.extra_metadata AS BLOB)) > 1048576
BEGIN
    SELECT RAISE(ABORT, 'trades.bot_id: no such bot instance; create the bot first')
    WHERE NOT EXISTS (SELECT 1 FROM bot_instances WHERE id = NEW.bot_id);
    SELECT RAISE(ABORT, 'trades.trade_type: is not the type of its bot; a bot''s trades have its type (paper, live or optimization)')
    WHERE NEW.trade_type IS NOT (SELECT type FROM bot_instances WHERE id = NEW.bot_id);
    SELECT RAISE(ABORT, 'trades.extra_metadata: longer than 1048576 bytes of JSON text; store less')
    WHERE length(CAST(NEW.extra_metadata AS BLOB)) > 1048576;
    SELECT RAISE(ABORT, 'trades.gross_pnl: a closed trade needs its gross_pnl; close it with close_trade or give the value')
    WHERE NEW.gross_pnl IS NULL;
    SELECT RAISE(ABORT, 'trades.net_pnl: a closed trade needs its net_pnl; close it with close_trade or give the value');
END;

-- Moving a trade to another bot, or changing its type: the same two rules.
-- Only a change is checked, so a row stored before these rules can still be
-- edited (and fixed).
DROP TRIGGER trades_bot_exists_on_update;

CREATE TRIGGER trades_rules_on_update_of_bot
BEFORE UPDATE OF bot_id, trade_type ON trades
FOR EACH ROW WHEN (NEW.bot_id IS NOT OLD.bot_id OR NEW.trade_type IS NOT OLD.trade_type)
    AND NEW.trade_type IS NOT (SELECT type FROM bot_instances WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'trades.bot_id: no such bot instance; create the bot first')
    WHERE NOT EXISTS (SELECT 1 FROM bot_instances WHERE id = NEW.bot_id);
    SELECT RAISE(ABORT, 'trades.trade_type: is not the type of its bot; a bot''s trades have its type (paper, live or optimization)');
END;

-- A write never leaves a closed trade without its PnL (the books count
-- net_pnl), nor stores more extra_metadata than readers are built for. No
-- lookup: closing a trade (the hot path) pays only these comparisons.
CREATE TRIGGER trades_rules_on_update
BEFORE UPDATE OF status, gross_pnl, net_pnl, extra_metadata ON trades
FOR EACH ROW WHEN (NEW.status = 'closed' AND (NEW.gross_pnl IS NULL OR NEW.net_pnl IS NULL)
        AND (OLD.status IS NOT 'closed' OR NEW.gross_pnl IS NOT OLD.gross_pnl OR NEW.net_pnl IS NOT OLD.net_pnl))
    OR (length(CAST(NEW.extra_metadata AS BLOB)) > 1048576 AND NEW.extra_metadata IS NOT OLD.extra_metadata)
BEGIN
    SELECT RAISE(ABORT, 'trades.extra_metadata: longer than 1048576 bytes of JSON text; store less')
    WHERE length(CAST(NEW.extra_metadata AS BLOB)) > 1048576 AND NEW.extra_metadata IS NOT OLD.extra_metadata;
    SELECT RAISE(ABORT, 'trades.gross_pnl: a closed trade needs its gross_pnl; close it with close_trade or give the value')
    WHERE NEW.gross_pnl IS NULL;
    SELECT RAISE(ABORT, 'trades.net_pnl: a closed trade needs its net_pnl; close it with close_trade or give the value');
END;

CREATE TRIGGER bot_instances_rules_on_insert
BEFORE INSERT ON bot_instances
FOR EACH ROW WHEN length(CAST(NEW.extra_metadata AS BLOB)) > 1048576
BEGIN
    SELECT RAISE(ABORT, 'bot_instances.extra_metadata: longer than 1048576 bytes of JSON text; store less');
END;

-- A bot's trades have its type, so the type of a bot with trades is fixed
-- (idx_bot_trade_type answers the lookup).
CREATE TRIGGER bot_instances_rules_on_update
BEFORE UPDATE OF type, extra_metadata ON bot_instances
FOR EACH ROW WHEN (NEW.type IS NOT OLD.type AND EXISTS (SELECT 1 FROM trades WHERE bot_id = OLD.id))
    OR (length(CAST(NEW.extra_metadata AS BLOB)) > 1048576 AND NEW.extra_metadata IS NOT OLD.extra_metadata)
BEGIN
    SELECT RAISE(ABORT, 'bot_instances.type: this bot has trades of its type, so its type cannot change; start a bot with an id of its own')
    WHERE NEW.type IS NOT OLD.type AND EXISTS (SELECT 1 FROM trades WHERE bot_id = OLD.id);
    SELECT RAISE(ABORT, 'bot_instances.extra_metadata: longer than 1048576 bytes of JSON text; store less');
END;

CREATE TRIGGER performance_metrics_rules_on_insert
BEFORE INSERT ON performance_metrics
FOR EACH ROW WHEN length(CAST(NEW.extra_metadata AS BLOB)) > 1048576
BEGIN
    SELECT RAISE(ABORT, 'performance_metrics.extra_metadata: longer than 1048576 bytes of JSON text; store less');
END;

CREATE TRIGGER performance_metrics_rules_on_update
BEFORE UPDATE OF extra_metadata ON performance_metrics
FOR EACH ROW WHEN length(CAST(NEW.extra_metadata AS BLOB)) > 1048576 AND NEW.extra_metadata IS NOT OLD.extra_metadata
BEGIN
    SELECT RAISE(ABORT, 'performance_metrics.extra_metadata: longer than 1048576 bytes of JSON text; store less');
END;

-- Views for people and dataframes: each table's columns in the same order,
-- every amount a number (REAL: approximate, for looking and charting; the
-- tables keep the exact text) and times the same UTC text. On them
-- `WHERE net_pnl > 5`, `ORDER BY net_pnl DESC`, max, min and sum compare
-- and add numbers, and pandas.read_sql gives float columns.
CREATE VIEW trades_view AS
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed,
       CAST(entry_price AS REAL) AS entry_price,
       CAST(exit_price AS REAL) AS exit_price,
       CAST(entry_value AS REAL) AS entry_value,
       CAST(exit_value AS REAL) AS exit_value,
       CAST(size AS REAL) AS size,
       CAST(commission AS REAL) AS commission,
       CAST(gross_pnl AS REAL) AS gross_pnl,
       CAST(net_pnl AS REAL) AS net_pnl,
       CAST(pnl_percentage AS REAL) AS pnl_percentage,
       direction, exit_reason, status, extra_metadata, created_at, updated_at
FROM trades;

CREATE VIEW bot_instances_view AS
SELECT id, type, config_file, status,
       CAST(current_balance AS REAL) AS current_balance,
       CAST(total_pnl AS REAL) AS total_pnl,
       started_at, last_heartbeat, extra_metadata, created_at, updated_at
FROM bot_instances;

CREATE VIEW performance_metrics_view AS
SELECT id, bot_id,
       CAST(sharpe_ratio AS REAL) AS sharpe_ratio,
       CAST(profit_factor AS REAL) AS profit_factor,
       CAST(max_drawdown AS REAL) AS max_drawdown,
       CAST(total_return AS REAL) AS total_return,
       CAST(win_rate AS REAL) AS win_rate,
       total_trades, winning_trades, losing_trades,
       CAST(avg_win AS REAL) AS avg_win,
       CAST(avg_loss AS REAL) AS avg_loss,
       CAST(largest_win AS REAL) AS largest_win,
       CAST(largest_loss AS REAL) AS largest_loss,
       calculated_at, extra_metadata, created_at
FROM performance_metrics;
