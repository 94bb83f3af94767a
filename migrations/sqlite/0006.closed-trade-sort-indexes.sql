-- Partial indexes that order the closed trades by net_pnl and by
-- pnl_percentage, so a page in either order reads only that page.
-- depends: 0005.faster-stats-triggers

-- The dashboard's closed trades sorted by an amount (reports.sql,
-- closed_trades_undated_by_net_pnl_* and *_pnl_percentage_*) read and sorted
-- every closed trade without them: 0.5-0.6 s at 1,000,000 trades. The keys
-- are the queries' ORDER BY: the amounts as REAL (their TEXT would sort as
-- text), then id. A scan backwards gives the descending orders with NULLs
-- last; the ascending pnl_percentage order reads the NULLs after the others
-- (a closed trade always has a net_pnl: trades_rules_on_insert and _on_update).
CREATE INDEX idx_closed_trades_net_pnl ON trades (CAST(net_pnl AS REAL), id) WHERE status = 'closed';
CREATE INDEX idx_closed_trades_pnl_percentage ON trades (CAST(pnl_percentage AS REAL), id) WHERE status = 'closed';
