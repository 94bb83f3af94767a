-- Undo 0001: drop everything it created (a table's triggers go with it),
-- dependents first.
DROP TABLE performance_metrics;
DROP TABLE trades;
DROP TABLE bot_instances;
DROP FUNCTION touch_updated_at();
DROP FUNCTION trades_status_transition();
