-- Undo 0002: drop its views and triggers, and put back 0001's foreign key
-- on trades exactly as it was.
DROP VIEW performance_metrics_view;
DROP VIEW bot_instances_view;
DROP VIEW trades_view;
DROP TRIGGER performance_metrics_extra_metadata_size ON performance_metrics;
DROP TRIGGER bot_instances_extra_metadata_size ON bot_instances;
DROP TRIGGER trades_extra_metadata_size ON trades;
DROP FUNCTION extra_metadata_size();
DROP TRIGGER trades_closed_has_pnl ON trades;
DROP FUNCTION trades_closed_has_pnl();
DROP TRIGGER bot_instances_type_fixed ON bot_instances;
DROP FUNCTION bot_instances_type_fixed();
DROP TRIGGER trades_trade_type_of_bot_on_update ON trades;
DROP TRIGGER trades_trade_type_of_bot_on_insert ON trades;
DROP FUNCTION trades_trade_type_of_bot();
ALTER TABLE trades DROP CONSTRAINT trades_bot_id_fkey;
ALTER TABLE trades ADD CONSTRAINT trades_bot_id_fkey FOREIGN KEY (bot_id) REFERENCES bot_instances (id)
    ON DELETE RESTRICT ON UPDATE RESTRICT;
ALTER TABLE bot_instances DROP CONSTRAINT bot_instances_id_type_key;
