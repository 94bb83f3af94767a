-- Undo 0006: drop the indexes that order closed trades by an amount.
DROP INDEX idx_closed_trades_pnl_percentage;
DROP INDEX idx_closed_trades_net_pnl;
