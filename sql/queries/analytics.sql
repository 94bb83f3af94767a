-- Named queries for analytics: trade summaries and the inputs of
-- performance metrics.
--
-- Exact sums of decimal text (8 places) are taken in parts that SQLite
-- adds as 64-bit integers: the integer part split into billions and the
-- remainder (so no sum can overflow before 9 billion rows), and the 8
-- fractional digits as an integer carrying the value's sign. tradedb adds
-- the parts as Decimals. CAST reads at most 18 integer digits (more
-- saturate), so each amount comes with the widest text it read (*_width);
-- when that is too wide, tradedb sums those amounts in Python instead
-- (closed_trade_amounts).
--
-- A closed trade wins when its net_pnl is above zero and loses when below:
-- text does not compare as a number, so the sign and the digits are read.

-- name: trade_summary_of_bot(bot_id, symbol, trade_type, since, until) :one
-- One bot's trades, counted and summed; since (inclusive) and until
-- (exclusive) bound entry_time, NULL for no bound or filter. Kept apart
-- from trade_summary so that the planner can use the bot_id indexes.
SELECT
    count(*) AS total_trades,
    count(CASE WHEN status = 'open' THEN 1 END) AS open_trades,
    count(CASE WHEN status = 'closed' THEN 1 END) AS closed_trades,
    count(CASE WHEN status = 'cancelled' THEN 1 END) AS cancelled_trades,
    count(CASE WHEN status = 'closed' AND net_pnl NOT LIKE '-%' AND ltrim(net_pnl, '0.') <> '' THEN 1 END) AS winning_trades,
    count(CASE WHEN status = 'closed' AND net_pnl LIKE '-%' AND ltrim(net_pnl, '-0.') <> '' THEN 1 END) AS losing_trades,
    sum(CASE WHEN status = 'closed' THEN CAST(gross_pnl AS INTEGER) / 1000000000 END) AS gross_pnl_billions,
    sum(CASE WHEN status = 'closed' THEN CAST(gross_pnl AS INTEGER) % 1000000000 END) AS gross_pnl_units,
    sum(CASE WHEN status = 'closed' THEN CAST(substr(gross_pnl, -8) AS INTEGER)
        * (CASE WHEN gross_pnl LIKE '-%' THEN -1 ELSE 1 END) END) AS gross_pnl_fraction,
    max(CASE WHEN status = 'closed' THEN length(gross_pnl) END) AS gross_pnl_width,
    sum(CASE WHEN status = 'closed' THEN CAST(net_pnl AS INTEGER) / 1000000000 END) AS net_pnl_billions,
    sum(CASE WHEN status = 'closed' THEN CAST(net_pnl AS INTEGER) % 1000000000 END) AS net_pnl_units,
    sum(CASE WHEN status = 'closed' THEN CAST(substr(net_pnl, -8) AS INTEGER)
        * (CASE WHEN net_pnl LIKE '-%' THEN -1 ELSE 1 END) END) AS net_pnl_fraction,
    max(CASE WHEN status = 'closed' THEN length(net_pnl) END) AS net_pnl_width,
    sum(CASE WHEN status = 'closed' THEN CAST(commission AS INTEGER) / 1000000000 END) AS commission_billions,
    sum(CASE WHEN status = 'closed' THEN CAST(commission AS INTEGER) % 1000000000 END) AS commission_units,
    sum(CASE WHEN status = 'closed' THEN CAST(substr(commission, -8) AS INTEGER) END) AS commission_fraction,
    max(CASE WHEN status = 'closed' THEN length(commission) END) AS commission_width,
    min(entry_time) AS first_entry_time,
    max(CASE WHEN status = 'closed' THEN exit_time END) AS last_exit_time
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
    count(CASE WHEN status = 'open' THEN 1 END) AS open_trades,
    count(CASE WHEN status = 'closed' THEN 1 END) AS closed_trades,
    count(CASE WHEN status = 'cancelled' THEN 1 END) AS cancelled_trades,
    count(CASE WHEN status = 'closed' AND net_pnl NOT LIKE '-%' AND ltrim(net_pnl, '0.') <> '' THEN 1 END) AS winning_trades,
    count(CASE WHEN status = 'closed' AND net_pnl LIKE '-%' AND ltrim(net_pnl, '-0.') <> '' THEN 1 END) AS losing_trades,
    sum(CASE WHEN status = 'closed' THEN CAST(gross_pnl AS INTEGER) / 1000000000 END) AS gross_pnl_billions,
    sum(CASE WHEN status = 'closed' THEN CAST(gross_pnl AS INTEGER) % 1000000000 END) AS gross_pnl_units,
    sum(CASE WHEN status = 'closed' THEN CAST(substr(gross_pnl, -8) AS INTEGER)
        * (CASE WHEN gross_pnl LIKE '-%' THEN -1 ELSE 1 END) END) AS gross_pnl_fraction,
    max(CASE WHEN status = 'closed' THEN length(gross_pnl) END) AS gross_pnl_width,
    sum(CASE WHEN status = 'closed' THEN CAST(net_pnl AS INTEGER) / 1000000000 END) AS net_pnl_billions,
    sum(CASE WHEN status = 'closed' THEN CAST(net_pnl AS INTEGER) % 1000000000 END) AS net_pnl_units,
    sum(CASE WHEN status = 'closed' THEN CAST(substr(net_pnl, -8) AS INTEGER)
        * (CASE WHEN net_pnl LIKE '-%' THEN -1 ELSE 1 END) END) AS net_pnl_fraction,
    max(CASE WHEN status = 'closed' THEN length(net_pnl) END) AS net_pnl_width,
    sum(CASE WHEN status = 'closed' THEN CAST(commission AS INTEGER) / 1000000000 END) AS commission_billions,
    sum(CASE WHEN status = 'closed' THEN CAST(commission AS INTEGER) % 1000000000 END) AS commission_units,
    sum(CASE WHEN status = 'closed' THEN CAST(substr(commission, -8) AS INTEGER) END) AS commission_fraction,
    max(CASE WHEN status = 'closed' THEN length(commission) END) AS commission_width,
    min(entry_time) AS first_entry_time,
    max(CASE WHEN status = 'closed' THEN exit_time END) AS last_exit_time
FROM trades
WHERE (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND (:since IS NULL OR entry_time >= :since)
  AND (:until IS NULL OR entry_time < :until);

-- name: closed_trade_amounts(bot_id, symbol, trade_type, since, until) :many
-- The amounts of the closed trades a summary covers (bot_id NULL for all
-- bots), for summing in Python when they are too wide to sum in SQL.
SELECT gross_pnl, net_pnl, commission
FROM trades
WHERE status = 'closed'
  AND (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
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
