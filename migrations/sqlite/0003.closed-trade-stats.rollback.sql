-- Undo 0003: drop closed_trade_stats and the triggers that keep it.
DROP TRIGGER closed_trade_stats_on_delete;
DROP TRIGGER closed_trade_stats_on_update_in;
DROP TRIGGER closed_trade_stats_on_update_out;
DROP TRIGGER closed_trade_stats_on_insert;
DROP INDEX idx_closed_trade_stats_day;
DROP TABLE closed_trade_stats;
