-- Named queries about closed_trade_stats (migration 0003) in PostgreSQL's
-- words, with the columns of SQLite's: the table as stored, the same
-- aggregate computed again from the trades (health's drift check), and
-- rebuilding it. NUMERIC sums are exact at any size, so amounts come as
-- whole 10^-8 units and widest_amount is always 0 (never summed in Python).
-- Days are the UTC date of exit_time, as text ('YYYY-MM-DD').

-- name: stored_closed_trade_stats() :many
-- Every row of closed_trade_stats, in primary key order.
SELECT bot_id, CAST(day AS text) AS day, symbol, bucket, trades, wins, losses,
       trunc(net_pnl * 100000000) AS net_pnl_units, 0 AS widest_amount
FROM closed_trade_stats
ORDER BY bot_id, day, symbol, bucket;

-- name: closed_trade_stats_from_trades() :many
-- The rows closed_trade_stats should hold, computed from the closed trades:
-- the whole sum in net_pnl_low (net_pnl_high is 0, as SQLite's split needs).
SELECT bot_id, CAST(CAST(exit_time AT TIME ZONE 'UTC' AS date) AS text) AS day, symbol,
       closed_trade_stats_bucket(pnl_percentage) AS bucket, count(*) AS trades,
       count(*) FILTER (WHERE net_pnl > 0) AS wins, count(*) FILTER (WHERE net_pnl < 0) AS losses,
       0 AS net_pnl_high, trunc(coalesce(sum(net_pnl), 0) * 100000000) AS net_pnl_low, 0 AS widest_amount
FROM trades
WHERE status = 'closed'
GROUP BY 1, 2, 3, 4;

-- name: closed_trade_stats_inputs() :many
-- Every closed trade's row of closed_trade_stats and its net_pnl, for
-- summing in Python (never needed here: see the header).
SELECT bot_id, CAST(CAST(exit_time AT TIME ZONE 'UTC' AS date) AS text) AS day, symbol,
       closed_trade_stats_bucket(pnl_percentage) AS bucket, net_pnl
FROM trades
WHERE status = 'closed';

-- name: clear_closed_trade_stats() :exec
-- Empty closed_trade_stats, to fill it again (fill_closed_trade_stats) in
-- the same transaction.
DELETE FROM closed_trade_stats;

-- name: fill_closed_trade_stats() :exec
-- Count every closed trade into an empty closed_trade_stats: migration
-- 0003's own backfill.
INSERT INTO closed_trade_stats (bot_id, day, symbol, bucket, trades, wins, losses, net_pnl)
SELECT bot_id, (exit_time AT TIME ZONE 'UTC')::date, symbol, closed_trade_stats_bucket(pnl_percentage),
       count(*), count(*) FILTER (WHERE net_pnl > 0), count(*) FILTER (WHERE net_pnl < 0), coalesce(sum(net_pnl), 0)
FROM trades
WHERE status = 'closed'
GROUP BY 1, 2, 3, 4;
