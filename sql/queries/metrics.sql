-- Named queries for performance metrics, columns in the order of
-- tradedb.PerformanceMetrics.

-- name: insert_performance_metrics(id, bot_id, sharpe_ratio, profit_factor, max_drawdown, total_return, win_rate, total_trades, winning_trades, losing_trades, avg_win, avg_loss, largest_win, largest_loss, calculated_at, extra_metadata, created_at) :exec
-- Store one calculation of a bot's performance.
INSERT INTO performance_metrics (
    id, bot_id, sharpe_ratio, profit_factor, max_drawdown, total_return, win_rate,
    total_trades, winning_trades, losing_trades, avg_win, avg_loss, largest_win,
    largest_loss, calculated_at, extra_metadata, created_at
) VALUES (
    :id, :bot_id, :sharpe_ratio, :profit_factor, :max_drawdown, :total_return, :win_rate,
    :total_trades, :winning_trades, :losing_trades, :avg_win, :avg_loss, :largest_win,
    :largest_loss, :calculated_at, :extra_metadata, :created_at
);
