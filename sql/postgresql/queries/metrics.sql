-- Named queries for performance metrics in PostgreSQL's words (the shared
-- ones are in sql/queries/metrics.sql), columns in the order of
-- tradedb.PerformanceMetrics.

-- name: get_performance_metrics(bot_id, limit) :many
-- A bot's metrics, newest calculation first; limit -1 (any negative, as on
-- SQLite) for all. A metrics row without calculated_at comes last, as
-- SQLite sorts NULL; ties go by id, so that the order is always the same.
SELECT id, bot_id, sharpe_ratio, profit_factor, max_drawdown, total_return, win_rate,
       total_trades, winning_trades, losing_trades, avg_win, avg_loss, largest_win,
       largest_loss, calculated_at, extra_metadata, created_at
FROM performance_metrics
WHERE bot_id = :bot_id
ORDER BY calculated_at DESC NULLS LAST, created_at DESC, id DESC
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END;
