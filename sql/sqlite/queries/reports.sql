-- Named queries for reports over the whole database: the dashboard's
-- overview, daily PnL, closed-trade pages and the profit distribution
-- (tradedb/reports.py).
--
-- Aggregates over all history read closed_trade_stats, which triggers keep
-- equal to an aggregate of the closed trades (migration 0003), never the
-- trades table: its rows are per bot, exit day, symbol and pnl_percentage
-- bucket, so they are few next to the trades. Sums are in 10^-8 units, as in
-- analytics.sql; inexact counts the rows whose sum SQLite could not keep
-- exactly (it turned REAL), and for those, or past WIDEST_SUMMED_IN_SQL,
-- tradedb sums that bot's day again from its trades.
--
-- Dates are the UTC date of exit_time ('YYYY-MM-DD'); since and until are
-- both inclusive, NULL for no bound. A trade type filter matches the bots
-- of that type (a bot's trades have its type).

-- name: bot_closed_stats() :many
-- Each bot's closed trades, wins and losses over all history.
SELECT bot_id, sum(trades) AS closed_trades, sum(wins) AS wins, sum(losses) AS losses
FROM closed_trade_stats
GROUP BY bot_id;

-- name: pnl_on_day(day) :many
-- Each bot's realized PnL on one day (through idx_closed_trade_stats_day).
SELECT bot_id, sum(net_pnl_units) AS net_pnl_units, max(widest_amount) AS widest,
       count(*) FILTER (WHERE typeof(net_pnl_units) <> 'integer') AS inexact
FROM closed_trade_stats
WHERE day = :day
GROUP BY bot_id;

-- name: closed_trade_days(bot_id) :many
-- The days each bot closed trades on, of one bot or all (NULL), oldest
-- first: what is summed in Python, day by day, if a sum above overflowed.
SELECT DISTINCT bot_id, day
FROM closed_trade_stats
WHERE (:bot_id IS NULL OR bot_id = :bot_id)
ORDER BY day, bot_id;

-- name: open_positions_by_bot() :many
-- How many open trades each bot holds; reads only idx_open_trades_by_entry.
SELECT bot_id, count(*) AS open_positions
FROM trades
WHERE status = 'open'
GROUP BY bot_id;

-- name: daily_pnl() :many
-- Every bot's realized PnL per exit day, oldest day first.
SELECT bot_id, day, sum(net_pnl_units) AS net_pnl_units, max(widest_amount) AS widest,
       count(*) FILTER (WHERE typeof(net_pnl_units) <> 'integer') AS inexact
FROM closed_trade_stats
GROUP BY day, bot_id
ORDER BY day, bot_id;

-- name: daily_pnl_of_bot(bot_id) :many
-- One bot's realized PnL per exit day, oldest day first (its primary key range).
SELECT bot_id, day, sum(net_pnl_units) AS net_pnl_units, max(widest_amount) AS widest,
       count(*) FILTER (WHERE typeof(net_pnl_units) <> 'integer') AS inexact
FROM closed_trade_stats
WHERE bot_id = :bot_id
GROUP BY day
ORDER BY day;

-- name: net_pnl_of_bot_between(bot_id, since, until) :many
-- The net_pnl of one bot's trades closed in [since, until): what a day's sum
-- is computed from in Python when closed_trade_stats could not keep it.
SELECT net_pnl
FROM trades
WHERE bot_id = :bot_id AND status = 'closed' AND exit_time >= :since AND exit_time < :until;

-- name: closed_trade_count(bot_id, symbol, trade_type, since, until) :one
-- How many closed trades match the filters.
SELECT ifnull(sum(trades), 0) AS trades
FROM closed_trade_stats
WHERE (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR bot_id IN (SELECT id FROM bot_instances WHERE type = :trade_type))
  -- Not an index range: over all history SQLite would look every row up by
  -- its day (about 6x slower than reading the table); a 30-day range costs
  -- little more read whole.
  AND (:since IS NULL OR day >= :since) AND (:until IS NULL OR day <= :until);

-- name: closed_trade_count_all() :one
-- How many closed trades there are (the unfiltered pages): no parameters, so
-- that PostgreSQL's plan of it, prepared or not, is the one for all history.
SELECT ifnull(sum(trades), 0) AS trades
FROM closed_trade_stats;

-- name: pnl_distribution(bot_id, symbol, trade_type, since, until) :many
-- The matching closed trades counted per pnl_percentage bucket (-1: none).
SELECT bucket, sum(trades) AS trades
FROM closed_trade_stats
WHERE (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR bot_id IN (SELECT id FROM bot_instances WHERE type = :trade_type))
  AND (:since IS NULL OR day >= :since) AND (:until IS NULL OR day <= :until)  -- read whole, as above
GROUP BY bucket
ORDER BY bucket;

-- name: closed_trade_count_of_bot(bot_id, symbol, trade_type, since, until) :one
-- How many of one bot's closed trades match the filters: its primary key
-- range (bot_id, day), about a tenth of the table with ten bots.
SELECT ifnull(sum(trades), 0) AS trades
FROM closed_trade_stats
WHERE bot_id = :bot_id
  AND day >= ifnull(:since, '') AND day <= ifnull(:until, '~')
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR EXISTS (SELECT 1 FROM bot_instances WHERE id = :bot_id AND type = :trade_type));

-- name: pnl_distribution_of_bot(bot_id, symbol, trade_type, since, until) :many
-- One bot's matching closed trades per pnl_percentage bucket (-1: none),
-- through its primary key range as above.
SELECT bucket, sum(trades) AS trades
FROM closed_trade_stats
WHERE bot_id = :bot_id
  AND day >= ifnull(:since, '') AND day <= ifnull(:until, '~')
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR EXISTS (SELECT 1 FROM bot_instances WHERE id = :bot_id AND type = :trade_type))
GROUP BY bucket
ORDER BY bucket;

-- name: closed_trades_per_day(bot_id, symbol, trade_type, since, until) :many
-- How many closed trades match the filters per bot and exit day: where a
-- deep page of the exit orders starts (tradedb/reports.py adds up the days,
-- then reads the page from its day on, not past every row before it).
-- Grouped in primary key order, so streamed without a sort (3,680 rows for
-- 334,739 here; grouping by day alone sorts them all, 3x slower).
SELECT day, sum(trades) AS trades
FROM closed_trade_stats
WHERE (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR bot_id IN (SELECT id FROM bot_instances WHERE type = :trade_type))
  AND (:since IS NULL OR day >= :since) AND (:until IS NULL OR day <= :until)  -- read whole, as above
GROUP BY bot_id, day;

-- name: closed_trades_per_day_all() :many
-- closed_trades_per_day without filters (the unfiltered pages), without
-- parameters for the same reason as closed_trade_count_all.
SELECT day AS day, sum(trades) AS trades
FROM closed_trade_stats
GROUP BY bot_id, day;

-- name: closed_trades_per_day_of_bot(bot_id, symbol, trade_type, since, until) :many
-- The same for one bot, oldest day first, through its primary key range.
SELECT day, sum(trades) AS trades
FROM closed_trade_stats
WHERE bot_id = :bot_id
  AND day >= ifnull(:since, '') AND day <= ifnull(:until, '~')
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR EXISTS (SELECT 1 FROM bot_instances WHERE id = :bot_id AND type = :trade_type))
GROUP BY day
ORDER BY day;

-- name: traded_symbols() :many
-- Every symbol with a closed or an open trade, in order: a skip scan of
-- idx_symbol_status (symbol, status), one seek per distinct symbol and one
-- to see that it has an open or closed trade (not only cancelled ones).
WITH RECURSIVE symbols(symbol) AS (
    SELECT min(symbol) FROM trades
    UNION ALL
    SELECT (SELECT min(t.symbol) FROM trades AS t WHERE t.symbol > symbols.symbol)
    FROM symbols
    WHERE symbols.symbol IS NOT NULL
)
SELECT symbol
FROM symbols
WHERE symbol IS NOT NULL
  AND EXISTS (SELECT 1 FROM trades AS t WHERE t.symbol = symbols.symbol AND t.status IN ('open', 'closed'))
ORDER BY symbol;

-- Closed trades a page at a time, for the dashboard's table: one query per
-- sort order, because an ORDER BY cannot take a parameter and each order
-- wants its own plan. since (inclusive) and until (exclusive) bound
-- exit_time, NULL for none; the other filters are NULL for all. Ties are
-- broken by id so that pages never overlap. Amounts sort as numbers (CAST
-- AS REAL keeps their order);
-- a missing one sorts last either way.
-- name: closed_trades_by_exit_desc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Newest exit first: walks idx_exit_time from its end.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND exit_time >= ifnull(:since, '') AND exit_time < ifnull(:until, '~')
ORDER BY exit_time DESC, id DESC
LIMIT :limit OFFSET :offset;

-- name: closed_trades_by_exit_asc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Oldest exit first.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND exit_time >= ifnull(:since, '') AND exit_time < ifnull(:until, '~')
ORDER BY exit_time, id
LIMIT :limit OFFSET :offset;

-- name: closed_trades_of_bot_by_exit_desc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- One bot's, newest exit first: walks its range of idx_closed_trades.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND bot_id = :bot_id
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND exit_time >= ifnull(:since, '') AND exit_time < ifnull(:until, '~')
ORDER BY exit_time DESC, id DESC
LIMIT :limit OFFSET :offset;

-- name: closed_trades_of_bot_by_exit_asc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- One bot's, oldest exit first.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND bot_id = :bot_id
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND exit_time >= ifnull(:since, '') AND exit_time < ifnull(:until, '~')
ORDER BY exit_time, id
LIMIT :limit OFFSET :offset;

-- name: closed_trades_by_entry_desc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Newest entry first.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND exit_time >= ifnull(:since, '') AND exit_time < ifnull(:until, '~')
ORDER BY entry_time DESC, id DESC
LIMIT :limit OFFSET :offset;

-- name: closed_trades_by_entry_asc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Oldest entry first.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND exit_time >= ifnull(:since, '') AND exit_time < ifnull(:until, '~')
ORDER BY entry_time, id
LIMIT :limit OFFSET :offset;

-- name: closed_trades_by_net_pnl_desc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Largest net PnL first.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND exit_time >= ifnull(:since, '') AND exit_time < ifnull(:until, '~')
ORDER BY CAST(net_pnl AS REAL) DESC NULLS LAST, id DESC
LIMIT :limit OFFSET :offset;

-- name: closed_trades_by_net_pnl_asc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Smallest (most negative) net PnL first.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND exit_time >= ifnull(:since, '') AND exit_time < ifnull(:until, '~')
ORDER BY CAST(net_pnl AS REAL) NULLS LAST, id
LIMIT :limit OFFSET :offset;

-- name: closed_trades_by_pnl_percentage_desc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Largest PnL percentage first.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND exit_time >= ifnull(:since, '') AND exit_time < ifnull(:until, '~')
ORDER BY CAST(pnl_percentage AS REAL) DESC NULLS LAST, id DESC
LIMIT :limit OFFSET :offset;

-- name: closed_trades_by_pnl_percentage_asc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Smallest PnL percentage first.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND exit_time >= ifnull(:since, '') AND exit_time < ifnull(:until, '~')
ORDER BY CAST(pnl_percentage AS REAL) NULLS LAST, id
LIMIT :limit OFFSET :offset;

-- The same orders for a request without exit dates (tradedb/reports.py picks
-- these when since and until are both NULL). With the all-time bounds above
-- (exit_time >= '' AND exit_time < '~') SQLite walks idx_exit_time over every
-- closed trade with a table lookup each, then sorts (2.7-7 s at 1,000,000
-- trades). Without them: the entry orders walk idx_entry_time and stop after
-- limit + offset rows (page 1: 0.5 ms); net_pnl and pnl_percentage walk
-- idx_closed_trades_net_pnl and idx_closed_trades_pnl_percentage (migration
-- 0006; keys CAST(... AS REAL), id, as these ORDER BYs) the same way (page 1:
-- 1-5 ms, against 0.5-0.6 s reading the table in one pass before them).
-- Ascending NULLS LAST is not the index's order, but SQLite reads the
-- non-NULL keys first and then the NULLs, without a sort.
-- name: closed_trades_undated_by_entry_desc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Newest entry first. Without exit dates.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND (:since IS NULL OR exit_time >= :since) AND (:until IS NULL OR exit_time < :until)
ORDER BY entry_time DESC, id DESC
LIMIT :limit OFFSET :offset;

-- name: closed_trades_undated_by_entry_asc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Oldest entry first. Without exit dates.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND (:since IS NULL OR exit_time >= :since) AND (:until IS NULL OR exit_time < :until)
ORDER BY entry_time, id
LIMIT :limit OFFSET :offset;

-- name: closed_trades_undated_by_net_pnl_desc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Largest net PnL first. Without exit dates.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND (:since IS NULL OR exit_time >= :since) AND (:until IS NULL OR exit_time < :until)
ORDER BY CAST(net_pnl AS REAL) DESC NULLS LAST, id DESC
LIMIT :limit OFFSET :offset;

-- name: closed_trades_undated_by_net_pnl_asc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Smallest (most negative) net PnL first. Without exit dates.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND (:since IS NULL OR exit_time >= :since) AND (:until IS NULL OR exit_time < :until)
ORDER BY CAST(net_pnl AS REAL) NULLS LAST, id
LIMIT :limit OFFSET :offset;

-- name: closed_trades_undated_by_pnl_percentage_desc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Largest PnL percentage first. Without exit dates.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND (:since IS NULL OR exit_time >= :since) AND (:until IS NULL OR exit_time < :until)
ORDER BY CAST(pnl_percentage AS REAL) DESC NULLS LAST, id DESC
LIMIT :limit OFFSET :offset;

-- name: closed_trades_undated_by_pnl_percentage_asc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Smallest PnL percentage first. Without exit dates.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND (:since IS NULL OR exit_time >= :since) AND (:until IS NULL OR exit_time < :until)
ORDER BY CAST(pnl_percentage AS REAL) NULLS LAST, id
LIMIT :limit OFFSET :offset;

-- The amount orders without exit dates for a filter that matches few closed
-- trades (tradedb/reports.py, WALK_LIMIT): walking idx_closed_trades_net_pnl
-- or _pnl_percentage to the page then costs a table lookup per closed trade
-- passed over, up to every one (a bot without trades: 3.7 s at 1,000,000),
-- where one pass over the table, NOT INDEXED, takes 0.5 s whatever matches.
-- name: closed_trades_scanned_by_net_pnl_desc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Largest net PnL first. Without exit dates, the table read in one pass.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades NOT INDEXED
WHERE status = 'closed' AND (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND (:since IS NULL OR exit_time >= :since) AND (:until IS NULL OR exit_time < :until)
ORDER BY CAST(net_pnl AS REAL) DESC NULLS LAST, id DESC
LIMIT :limit OFFSET :offset;

-- name: closed_trades_scanned_by_net_pnl_asc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Smallest (most negative) net PnL first. Without exit dates, the table read in one pass.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades NOT INDEXED
WHERE status = 'closed' AND (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND (:since IS NULL OR exit_time >= :since) AND (:until IS NULL OR exit_time < :until)
ORDER BY CAST(net_pnl AS REAL) NULLS LAST, id
LIMIT :limit OFFSET :offset;

-- name: closed_trades_scanned_by_pnl_percentage_desc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Largest PnL percentage first. Without exit dates, the table read in one pass.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades NOT INDEXED
WHERE status = 'closed' AND (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND (:since IS NULL OR exit_time >= :since) AND (:until IS NULL OR exit_time < :until)
ORDER BY CAST(pnl_percentage AS REAL) DESC NULLS LAST, id DESC
LIMIT :limit OFFSET :offset;

-- name: closed_trades_scanned_by_pnl_percentage_asc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Smallest PnL percentage first. Without exit dates, the table read in one pass.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades NOT INDEXED
WHERE status = 'closed' AND (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND (:since IS NULL OR exit_time >= :since) AND (:until IS NULL OR exit_time < :until)
ORDER BY CAST(pnl_percentage AS REAL) NULLS LAST, id
LIMIT :limit OFFSET :offset;

-- name: closed_trades_after(bot_id, symbol, trade_type, since, until, after_time, after_id, limit) :many
-- Matching closed trades in exit order after the position (after_time,
-- after_id), NULL to start: the CSV export reads the whole set this way, a
-- page per query, so no snapshot is held while a slow client downloads.
-- One lower bound on exit_time, the later of since and after_time: with two,
-- SQLite ranged idx_exit_time on since and walked it again from there for
-- every page.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND exit_time >= max(ifnull(:since, ''), ifnull(:after_time, '')) AND exit_time < ifnull(:until, '~')
  AND (exit_time, id) > (ifnull(:after_time, ''), ifnull(:after_id, ''))
ORDER BY exit_time, id
LIMIT :limit;

-- name: closed_trades_of_bot_after(bot_id, symbol, trade_type, since, until, after_time, after_id, limit) :many
-- One bot's matching closed trades in exit order after the position, as
-- above: its range of idx_closed_trades (bot_id, exit_time), not every bot's.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND bot_id = :bot_id
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:trade_type IS NULL OR trade_type = :trade_type)
  AND exit_time >= max(ifnull(:since, ''), ifnull(:after_time, '')) AND exit_time < ifnull(:until, '~')
  AND (exit_time, id) > (ifnull(:after_time, ''), ifnull(:after_id, ''))
ORDER BY exit_time, id
LIMIT :limit;
