-- Nothing changes on SQLite: this is the twin of PostgreSQL's 0005, which
-- counts an INSERT's closed trades in closed_trade_stats once per statement.
-- depends: 0004.archived-pnl

-- SQLite has only row triggers, and a leaner closed_trade_stats_on_insert
-- (each value worked out once) measured no faster: the upsert, not its
-- expressions, is the cost. Kept so that both backends number their
-- migrations alike.
