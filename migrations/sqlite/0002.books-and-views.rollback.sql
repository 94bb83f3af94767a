-- Undo 0002: drop its views and triggers, and put back 0001's foreign-key
-- triggers on trades exactly as they were.
DROP VIEW performance_metrics_view;
DROP VIEW bot_instances_view;
DROP VIEW trades_view;
DROP TRIGGER performance_metrics_rules_on_update;
DROP TRIGGER performance_metrics_rules_on_insert;
DROP TRIGGER bot_instances_rules_on_update;
DROP TRIGGER bot_instances_rules_on_insert;
DROP TRIGGER trades_rules_on_update;
DROP TRIGGER trades_rules_on_update_of_bot;
DROP TRIGGER trades_rules_on_insert;

CREATE TRIGGER trades_bot_exists_on_insert
BEFORE INSERT ON trades
FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM bot_instances WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'trades.bot_id: no such bot instance; create the bot first');
END;

CREATE TRIGGER trades_bot_exists_on_update
BEFORE UPDATE OF bot_id ON trades
FOR EACH ROW WHEN NOT EXISTS (SELECT 1 FROM bot_instances WHERE id = NEW.bot_id)
BEGIN
    SELECT RAISE(ABORT, 'trades.bot_id: no such bot instance; create the bot first');
END;
