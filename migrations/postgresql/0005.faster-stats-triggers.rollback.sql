-- Undo 0005: the row trigger of 0003 again (its function was kept).
DROP TRIGGER closed_trade_stats_on_insert_statement ON trades;
DROP FUNCTION closed_trade_stats_on_insert_statement();

CREATE TRIGGER closed_trade_stats_on_insert
AFTER INSERT ON trades
FOR EACH ROW WHEN (NEW.status = 'closed')
EXECUTE FUNCTION closed_trade_stats_on_insert();
