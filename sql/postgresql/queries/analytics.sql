-- Named queries for analytics in PostgreSQL's words: trade summaries and the
-- inputs of performance metrics (SQLite's are in sql/sqlite/queries/analytics.sql).
--
-- Amounts are NUMERIC, which PostgreSQL sums exactly at any size, so the
-- sums are returned in the units SQLite's versions return (10^-8, a whole
-- number, as text: NUMERIC reads as text), and widest_amount is 0 when
-- there is anything to sum (NULL otherwise, as on SQLite): no amount is too
-- wide to sum here, so tradedb never falls back to summing in Python.
-- A closed trade wins when its net_pnl is above zero and loses when below.
-- Parameters that may be NULL are cast, so that PostgreSQL knows their type.

-- name: trade_summary_of_bot(bot_id, symbol, trade_type, since, until) :one
-- One bot's trades, counted and summed; since (inclusive) and until
-- (exclusive) bound entry_time, NULL for no bound or filter. Kept apart
-- from trade_summary so that the planner can use the bot_id indexes.
SELECT
    count(*) AS total_trades,
    count(*) FILTER (WHERE status = 'open') AS open_trades,
    count(*) FILTER (WHERE status = 'closed') AS closed_trades,
    count(*) FILTER (WHERE status = 'cancelled') AS cancelled_trades,
    count(*) FILTER (WHERE status = 'closed' AND net_pnl > 0) AS winning_trades,
    count(*) FILTER (WHERE status = 'closed' AND net_pnl < 0) AS losing_trades,
    trunc(sum(gross_pnl) FILTER (WHERE status = 'closed') * 100000000) AS gross_pnl_units,
    trunc(sum(net_pnl) FILTER (WHERE status = 'closed') * 100000000) AS net_pnl_units,
    trunc(sum(commission) FILTER (WHERE status = 'closed') * 100000000) AS commission_units,
    CASE WHEN count(*) FILTER (WHERE status = 'closed') > 0 THEN 0 END AS widest_amount,
    min(entry_time) AS first_entry_time,
    max(exit_time) FILTER (WHERE status = 'closed') AS last_exit_time
FROM trades
WHERE bot_id = :bot_id
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND (:since::timestamptz IS NULL OR entry_time >= :since)
  AND (:until::timestamptz IS NULL OR entry_time < :until);

-- name: trade_summary(symbol, trade_type, since, until) :one
-- Every bot's trades, counted and summed as in trade_summary_of_bot.
SELECT
    count(*) AS total_trades,
    count(*) FILTER (WHERE status = 'open') AS open_trades,
    count(*) FILTER (WHERE status = 'closed') AS closed_trades,
    count(*) FILTER (WHERE status = 'cancelled') AS cancelled_trades,
    count(*) FILTER (WHERE status = 'closed' AND net_pnl > 0) AS winning_trades,
    count(*) FILTER (WHERE status = 'closed' AND net_pnl < 0) AS losing_trades,
    trunc(sum(gross_pnl) FILTER (WHERE status = 'closed') * 100000000) AS gross_pnl_units,
    trunc(sum(net_pnl) FILTER (WHERE status = 'closed') * 100000000) AS net_pnl_units,
    trunc(sum(commission) FILTER (WHERE status = 'closed') * 100000000) AS commission_units,
    CASE WHEN count(*) FILTER (WHERE status = 'closed') > 0 THEN 0 END AS widest_amount,
    min(entry_time) AS first_entry_time,
    max(exit_time) FILTER (WHERE status = 'closed') AS last_exit_time
FROM trades
WHERE (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND (:since::timestamptz IS NULL OR entry_time >= :since)
  AND (:until::timestamptz IS NULL OR entry_time < :until);

-- name: trade_summary_inputs_of_bot(bot_id, symbol, trade_type, since, until) :many
-- What a summary of one bot counts and sums, trade by trade, for computing
-- it in Python when its amounts are too large to sum in SQL (never needed
-- on PostgreSQL, kept so that every dialect has every query).
SELECT status, gross_pnl, net_pnl, commission, entry_time, exit_time
FROM trades
WHERE bot_id = :bot_id
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND (:since::timestamptz IS NULL OR entry_time >= :since)
  AND (:until::timestamptz IS NULL OR entry_time < :until);

-- name: trade_summary_inputs(symbol, trade_type, since, until) :many
-- The same for every bot's trades.
SELECT status, gross_pnl, net_pnl, commission, entry_time, exit_time
FROM trades
WHERE (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND (:since::timestamptz IS NULL OR entry_time >= :since)
  AND (:until::timestamptz IS NULL OR entry_time < :until);

-- name: closed_trade_results_of_bot(bot_id, trade_type, since, until) :many
-- A bot's closed trades in the order they were closed (oldest exit first),
-- just what performance metrics need; since (inclusive) and until
-- (exclusive) bound exit_time. The literal status = 'closed' lets the
-- planner use the partial index idx_closed_trades. Ties go by id, as on
-- SQLite (a UUID sorts as its lowercase text does).
SELECT exit_time, net_pnl
FROM trades
WHERE bot_id = :bot_id AND status = 'closed'
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND (:since::timestamptz IS NULL OR exit_time >= :since)
  AND (:until::timestamptz IS NULL OR exit_time < :until)
ORDER BY exit_time, id;
