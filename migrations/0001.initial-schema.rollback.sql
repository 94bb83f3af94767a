-- Undo 0001: drop everything it created, dependents first.
DROP TRIGGER bot_instances_touch_updated_at;
DROP TRIGGER trades_touch_updated_at;
DROP TRIGGER trades_status_transition;
DROP TABLE performance_metrics;
DROP TABLE trades;
DROP TABLE bot_instances;
