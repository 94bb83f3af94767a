-- Named queries for performance metrics, columns in the order of
-- tradedb.PerformanceMetrics.

-- name: get_performance_metrics(bot_id, limit) :many
-- A bot's metrics, newest calculation first; limit -1 for all.
SELECT id, bot_id, sharpe_ratio, profit_factor, max_drawdown, total_return, win_rate,
       total_trades, winning_trades, losing_trades, avg_win, avg_loss, largest_win,
       largest_loss, calculated_at, extra_metadata, created_at
FROM performance_metrics
WHERE bot_id = :bot_id
ORDER BY calculated_at DESC, created_at DESC
LIMIT :limit;
