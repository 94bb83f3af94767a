-- Named queries for analytics: trade summaries and the inputs of
-- performance metrics.
--
-- Exact sums of decimal text (8 places) in SQL: with its point removed, an
-- amount is a whole number of 10^-8 units, which SQLite reads with one CAST
-- and adds as a 64-bit integer. That reads exactly up to 18 digits, so each
-- summary also returns the widest amount text it summed (widest_amount);
-- past 19 characters, or if a sum passes 2^63 (SQLite raises "integer
-- overflow"), tradedb computes the summary in Python from
-- trade_summary_inputs instead: still exact, only slower.
--
-- A closed trade wins when its net_pnl is above zero and loses when below.
-- Text does not compare as a number; CAST(... AS REAL) keeps the sign of
-- any amount exactly (the smallest, 0.00000001, is far from a float's zero).

-- name: trade_summary_of_bot(bot_id, symbol, trade_type, since, until) :one
-- One bot's trades, counted and summed; since (inclusive) and until
-- (exclusive) bound entry_time, NULL for no bound or filter. Kept apart
-- from trade_summary so that the planner can use the bot_id indexes.
SELECT
    count(*) AS total_trades,
    count(*) FILTER (WHERE status = 'open') AS open_trades,
    count(*) FILTER (WHERE status = 'closed') AS closed_trades,
    count(*) FILTER (WHERE status = 'cancelled') AS cancelled_trades,
    count(*) FILTER (WHERE status = 'closed' AND CAST(net_pnl AS REAL) > 0) AS winning_trades,
    count(*) FILTER (WHERE status = 'closed' AND CAST(net_pnl AS REAL) < 0) AS losing_trades,
    sum(CAST(replace(gross_pnl, '.', '') AS INTEGER)) FILTER (WHERE status = 'closed') AS gross_pnl_units,
    sum(CAST(replace(net_pnl, '.', '') AS INTEGER)) FILTER (WHERE status = 'closed') AS net_pnl_units,
    sum(CAST(replace(commission, '.', '') AS INTEGER)) FILTER (WHERE status = 'closed') AS commission_units,
    max(max(coalesce(length(gross_pnl), 0), coalesce(length(net_pnl), 0), coalesce(length(commission), 0)))
        FILTER (WHERE status = 'closed') AS widest_amount,
    min(entry_time) AS first_entry_time,
    max(exit_time) FILTER (WHERE status = 'closed') AS last_exit_time
FROM trades
WHERE bot_id = :bot_id
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND (:since IS NULL OR entry_time >= :since)
  AND (:until IS NULL OR entry_time < :until);

-- name: trade_summary(symbol, trade_type, since, until) :one
-- Every bot's trades, counted and summed as in trade_summary_of_bot.
SELECT
    count(*) AS total_trades,
    count(*) FILTER (WHERE status = 'open') AS open_trades,
    count(*) FILTER (WHERE status = 'closed') AS closed_trades,
    count(*) FILTER (WHERE status = 'cancelled') AS cancelled_trades,
    count(*) FILTER (WHERE status = 'closed' AND CAST(net_pnl AS REAL) > 0) AS winning_trades,
    count(*) FILTER (WHERE status = 'closed' AND CAST(net_pnl AS REAL) < 0) AS losing_trades,
    sum(CAST(replace(gross_pnl, '.', '') AS INTEGER)) FILTER (WHERE status = 'closed') AS gross_pnl_units,
    sum(CAST(replace(net_pnl, '.', '') AS INTEGER)) FILTER (WHERE status = 'closed') AS net_pnl_units,
    sum(CAST(replace(commission, '.', '') AS INTEGER)) FILTER (WHERE status = 'closed') AS commission_units,
    max(max(coalesce(length(gross_pnl), 0), coalesce(length(net_pnl), 0), coalesce(length(commission), 0)))
        FILTER (WHERE status = 'closed') AS widest_amount,
    min(entry_time) AS first_entry_time,
    max(exit_time) FILTER (WHERE status = 'closed') AS last_exit_time
FROM trades
WHERE (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND (:since IS NULL OR entry_time >= :since)
  AND (:until IS NULL OR entry_time < :until);

-- name: trade_summary_inputs_of_bot(bot_id, symbol, trade_type, since, until) :many
-- What a summary of one bot counts and sums, trade by trade, for computing
-- it in Python when its amounts are too large to sum in SQL.
SELECT status, gross_pnl, net_pnl, commission, entry_time, exit_time
FROM trades
WHERE bot_id = :bot_id
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND (:since IS NULL OR entry_time >= :since)
  AND (:until IS NULL OR entry_time < :until);

-- name: trade_summary_inputs(symbol, trade_type, since, until) :many
-- The same for every bot's trades.
SELECT status, gross_pnl, net_pnl, commission, entry_time, exit_time
FROM trades
WHERE (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND (:since IS NULL OR entry_time >= :since)
  AND (:until IS NULL OR entry_time < :until);

-- name: closed_trade_results_of_bot(bot_id, trade_type, since, until) :many
-- A bot's closed trades in the order they were closed (oldest exit first),
-- just what performance metrics need; since (inclusive) and until
-- (exclusive) bound exit_time. The literal status = 'closed' lets the
-- planner use the partial index idx_closed_trades.
SELECT exit_time, net_pnl
FROM trades
WHERE bot_id = :bot_id AND status = 'closed'
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND (:since IS NULL OR exit_time >= :since)
  AND (:until IS NULL OR exit_time < :until)
ORDER BY exit_time, id;
