-- Undo 0001: drop everything it created, dependents first.
DROP TRIGGER bot_instances_touch_updated_at;
DROP TRIGGER bot_instances_keep_referenced_on_id_change;
DROP TRIGGER bot_instances_keep_referenced_on_delete;
DROP TRIGGER performance_metrics_bot_exists_on_update;
DROP TRIGGER performance_metrics_bot_exists_on_insert;
DROP TRIGGER trades_bot_exists_on_update;
DROP TRIGGER trades_bot_exists_on_insert;
DROP TRIGGER trades_touch_updated_at;
DROP TRIGGER trades_status_transition;
DROP TABLE performance_metrics;
DROP TABLE trades;
DROP TABLE bot_instances;
