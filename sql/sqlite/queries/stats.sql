-- Named queries about closed_trade_stats (migration 0003), the closed trades
-- counted and summed per bot, UTC exit day, symbol and pnl_percentage bucket
-- by triggers on trades: the table as stored, the same aggregate computed
-- again from the trades (health's drift check), and rebuilding it.
--
-- Amounts are summed in 10^-8 units, as in analytics.sql; CAST reads an
-- amount exactly up to 19 characters (widest_amount), past which tradedb
-- sums in Python. The bucket is worked out as in the triggers: see
-- migrations/sqlite/0003.closed-trade-stats.sql.

-- name: stored_closed_trade_stats() :many
-- Every row of closed_trade_stats, in primary key order. net_pnl_units is
-- REAL, or widest_amount past 19, where the sum is not exact.
SELECT bot_id, day, symbol, bucket, trades, wins, losses, net_pnl_units, widest_amount
FROM closed_trade_stats
ORDER BY bot_id, day, symbol, bucket;

-- name: closed_trade_stats_from_trades() :many
-- The rows closed_trade_stats should hold, computed from the closed trades.
-- Each amount's 10^-8 units are split into 10^9s (net_pnl_high) and the
-- rest (net_pnl_low), summed apart so that neither sum can overflow: the
-- exact sum is net_pnl_high * 10^9 + net_pnl_low, as long as widest_amount
-- is at most 19. One pass over the table (see upkeep.sql's NOT INDEXED).
SELECT bot_id, day, symbol, bucket, count(*) AS trades, sum(units > 0) AS wins, sum(units < 0) AS losses,
       sum(units / 1000000000) AS net_pnl_high, sum(units % 1000000000) AS net_pnl_low, max(width) AS widest_amount
FROM (
    SELECT bot_id, substr(exit_time, 1, 10) AS day, symbol,
           CASE WHEN pnl_percentage IS NULL THEN -1
                WHEN CAST(pnl_percentage AS REAL) < -20 THEN 0
                WHEN CAST(pnl_percentage AS REAL) < -10 THEN 1
                WHEN CAST(pnl_percentage AS REAL) < -5 THEN 2
                WHEN CAST(pnl_percentage AS REAL) < -3 THEN 3
                WHEN CAST(pnl_percentage AS REAL) < -2 THEN 4
                WHEN CAST(pnl_percentage AS REAL) < -1 THEN 5
                WHEN CAST(pnl_percentage AS REAL) < -0.5 THEN 6
                WHEN CAST(pnl_percentage AS REAL) < 0 THEN 7
                WHEN CAST(pnl_percentage AS REAL) < 0.5 THEN 8
                WHEN CAST(pnl_percentage AS REAL) < 1 THEN 9
                WHEN CAST(pnl_percentage AS REAL) < 2 THEN 10
                WHEN CAST(pnl_percentage AS REAL) < 3 THEN 11
                WHEN CAST(pnl_percentage AS REAL) < 5 THEN 12
                WHEN CAST(pnl_percentage AS REAL) < 10 THEN 13
                WHEN CAST(pnl_percentage AS REAL) < 20 THEN 14
                ELSE 15 END AS bucket,
           ifnull(CAST(replace(net_pnl, '.', '') AS INTEGER), 0) AS units,
           ifnull(length(net_pnl), 0) AS width
    FROM trades NOT INDEXED
    WHERE status = 'closed'
)
GROUP BY bot_id, day, symbol, bucket;

-- name: closed_trade_stats_inputs() :many
-- Every closed trade's row of closed_trade_stats and its net_pnl, for
-- summing in Python when an amount is too wide for the sums above.
SELECT bot_id, substr(exit_time, 1, 10) AS day, symbol,
       CASE WHEN pnl_percentage IS NULL THEN -1
            WHEN CAST(pnl_percentage AS REAL) < -20 THEN 0
            WHEN CAST(pnl_percentage AS REAL) < -10 THEN 1
            WHEN CAST(pnl_percentage AS REAL) < -5 THEN 2
            WHEN CAST(pnl_percentage AS REAL) < -3 THEN 3
            WHEN CAST(pnl_percentage AS REAL) < -2 THEN 4
            WHEN CAST(pnl_percentage AS REAL) < -1 THEN 5
            WHEN CAST(pnl_percentage AS REAL) < -0.5 THEN 6
            WHEN CAST(pnl_percentage AS REAL) < 0 THEN 7
            WHEN CAST(pnl_percentage AS REAL) < 0.5 THEN 8
            WHEN CAST(pnl_percentage AS REAL) < 1 THEN 9
            WHEN CAST(pnl_percentage AS REAL) < 2 THEN 10
            WHEN CAST(pnl_percentage AS REAL) < 3 THEN 11
            WHEN CAST(pnl_percentage AS REAL) < 5 THEN 12
            WHEN CAST(pnl_percentage AS REAL) < 10 THEN 13
            WHEN CAST(pnl_percentage AS REAL) < 20 THEN 14
            ELSE 15 END AS bucket,
       net_pnl
FROM trades NOT INDEXED
WHERE status = 'closed';

-- name: clear_closed_trade_stats() :exec
-- Empty closed_trade_stats, to fill it again (fill_closed_trade_stats) in
-- the same transaction.
DELETE FROM closed_trade_stats;

-- name: fill_closed_trade_stats() :exec
-- Count every closed trade into an empty closed_trade_stats: migration
-- 0003's own backfill. sum() would fail past 64 bits, so the 10^9s and the
-- rest are summed apart and joined with * and +, which turn an overflow
-- into REAL as the triggers' + does; such a row gets widest_amount 20 or
-- more, as the triggers mark it.
INSERT INTO closed_trade_stats (bot_id, day, symbol, bucket, trades, wins, losses, net_pnl_units, widest_amount)
SELECT bot_id, day, symbol, bucket, trades, wins, losses, net_pnl_units,
       CASE WHEN typeof(net_pnl_units) = 'integer' THEN widest_amount ELSE max(widest_amount, 20) END
FROM (
    SELECT bot_id, day, symbol, bucket, count(*) AS trades, sum(units > 0) AS wins, sum(units < 0) AS losses,
           sum(units / 1000000000) * 1000000000 + sum(units % 1000000000) AS net_pnl_units,
           max(width) AS widest_amount
    FROM (
        SELECT bot_id, substr(exit_time, 1, 10) AS day, symbol,
               CASE WHEN pnl_percentage IS NULL THEN -1
                    WHEN CAST(pnl_percentage AS REAL) < -20 THEN 0
                    WHEN CAST(pnl_percentage AS REAL) < -10 THEN 1
                    WHEN CAST(pnl_percentage AS REAL) < -5 THEN 2
                    WHEN CAST(pnl_percentage AS REAL) < -3 THEN 3
                    WHEN CAST(pnl_percentage AS REAL) < -2 THEN 4
                    WHEN CAST(pnl_percentage AS REAL) < -1 THEN 5
                    WHEN CAST(pnl_percentage AS REAL) < -0.5 THEN 6
                    WHEN CAST(pnl_percentage AS REAL) < 0 THEN 7
                    WHEN CAST(pnl_percentage AS REAL) < 0.5 THEN 8
                    WHEN CAST(pnl_percentage AS REAL) < 1 THEN 9
                    WHEN CAST(pnl_percentage AS REAL) < 2 THEN 10
                    WHEN CAST(pnl_percentage AS REAL) < 3 THEN 11
                    WHEN CAST(pnl_percentage AS REAL) < 5 THEN 12
                    WHEN CAST(pnl_percentage AS REAL) < 10 THEN 13
                    WHEN CAST(pnl_percentage AS REAL) < 20 THEN 14
                    ELSE 15 END AS bucket,
               ifnull(CAST(replace(net_pnl, '.', '') AS INTEGER), 0) AS units,
               ifnull(length(net_pnl), 0) AS width
        FROM trades NOT INDEXED
        WHERE status = 'closed'
    )
    GROUP BY bot_id, day, symbol, bucket
);
