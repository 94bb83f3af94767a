-- Undo 0003: drop the change notifications, and closed_trade_stats with the
-- triggers and functions that keep it.
DROP TRIGGER performance_metrics_notify_changes ON performance_metrics;
DROP TRIGGER bot_instances_notify_changes ON bot_instances;
DROP TRIGGER trades_notify_changes ON trades;
DROP FUNCTION notify_tradedb_changes();
DROP TRIGGER closed_trade_stats_on_truncate ON trades;
DROP TRIGGER closed_trade_stats_on_delete ON trades;
DROP TRIGGER closed_trade_stats_on_update ON trades;
DROP TRIGGER closed_trade_stats_on_insert ON trades;
DROP FUNCTION closed_trade_stats_on_truncate();
DROP FUNCTION closed_trade_stats_on_delete();
DROP FUNCTION closed_trade_stats_on_update();
DROP FUNCTION closed_trade_stats_on_insert();
DROP FUNCTION closed_trade_stats_count(TEXT, TIMESTAMPTZ, TEXT, NUMERIC, NUMERIC, INTEGER);
DROP TABLE closed_trade_stats;
DROP FUNCTION closed_trade_stats_bucket(NUMERIC);
