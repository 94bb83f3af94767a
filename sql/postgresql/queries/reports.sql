-- Named queries for reports over the whole database in PostgreSQL's words:
-- the dashboard's overview, daily PnL, closed-trade pages and the profit
-- distribution (tradedb/reports.py; SQLite's are in sql/sqlite/queries/).
--
-- Aggregates over all history read closed_trade_stats, which triggers keep
-- equal to an aggregate of the closed trades (migration 0003), never the
-- trades table. Its net_pnl is NUMERIC, summed exactly at any size, so the
-- sums come back in SQLite's 10^-8 units with widest 0 and inexact 0: no
-- day is ever summed again in Python here.
--
-- Dates are UTC dates of exit_time; since and until are both inclusive,
-- NULL for no bound. A trade type filter matches the bots of that type (a
-- bot's trades have its type).

-- name: bot_closed_stats() :many
-- Each bot's closed trades, wins and losses over all history.
SELECT bot_id, sum(trades)::bigint AS closed_trades, sum(wins)::bigint AS wins, sum(losses)::bigint AS losses
FROM closed_trade_stats
GROUP BY bot_id;

-- name: pnl_on_day(day) :many
-- Each bot's realized PnL on one day (through idx_closed_trade_stats_day).
SELECT bot_id, trunc(sum(net_pnl) * 100000000) AS net_pnl_units, 0 AS widest, 0 AS inexact
FROM closed_trade_stats
WHERE day = :day::date
GROUP BY bot_id;

-- name: closed_trade_days(bot_id) :many
-- The days each bot closed trades on, of one bot or all (NULL), oldest
-- first (SQLite's fallback when a sum overflows; never needed here).
SELECT DISTINCT bot_id, to_char(day, 'YYYY-MM-DD') AS day
FROM closed_trade_stats
WHERE (:bot_id::text IS NULL OR bot_id = :bot_id)
ORDER BY day, bot_id;

-- name: open_positions_by_bot() :many
-- How many open trades each bot holds; reads only idx_open_trades.
SELECT bot_id, count(*) AS open_positions
FROM trades
WHERE status = 'open'
GROUP BY bot_id;

-- name: daily_pnl() :many
-- Every bot's realized PnL per exit day, oldest day first.
SELECT bot_id, to_char(day, 'YYYY-MM-DD') AS day, trunc(sum(net_pnl) * 100000000) AS net_pnl_units,
       0 AS widest, 0 AS inexact
FROM closed_trade_stats
GROUP BY day, bot_id
ORDER BY day, bot_id;

-- name: daily_pnl_of_bot(bot_id) :many
-- One bot's realized PnL per exit day, oldest day first (its primary key range).
SELECT bot_id, to_char(day, 'YYYY-MM-DD') AS day, trunc(sum(net_pnl) * 100000000) AS net_pnl_units,
       0 AS widest, 0 AS inexact
FROM closed_trade_stats
WHERE bot_id = :bot_id
GROUP BY bot_id, day
ORDER BY day;

-- name: net_pnl_of_bot_between(bot_id, since, until) :many
-- The net_pnl of one bot's trades closed in [since, until) (SQLite's
-- fallback for sums it cannot keep; never needed here, kept for the API).
SELECT net_pnl
FROM trades
WHERE bot_id = :bot_id AND status = 'closed' AND exit_time >= :since AND exit_time < :until;

-- name: closed_trade_count(bot_id, symbol, trade_type, since, until) :one
-- How many closed trades match the filters.
SELECT coalesce(sum(trades), 0)::bigint AS trades
FROM closed_trade_stats
WHERE (:bot_id::text IS NULL OR bot_id = :bot_id)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR bot_id IN (SELECT id FROM bot_instances WHERE type = :trade_type))
  -- Not day >= coalesce(:since, '-infinity'): psycopg prepares a statement
  -- after 5 runs, and a generic plan of that walks idx_closed_trade_stats_day
  -- over every row (107 ms against 61 alone at 1,000,000 trades; 166 against
  -- 133 for the distribution). A custom plan drops the NULL tests either way.
  AND (:since::date IS NULL OR day >= :since) AND (:until::date IS NULL OR day <= :until);

-- name: closed_trade_count_all() :one
-- How many closed trades there are (the unfiltered pages): no parameters, so
-- that PostgreSQL's plan of it, prepared or not, is the one for all history.
SELECT coalesce(sum(trades), 0)::bigint AS trades
FROM closed_trade_stats;

-- name: pnl_distribution(bot_id, symbol, trade_type, since, until) :many
-- The matching closed trades counted per pnl_percentage bucket (-1: none).
SELECT bucket, sum(trades)::bigint AS trades
FROM closed_trade_stats
WHERE (:bot_id::text IS NULL OR bot_id = :bot_id)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR bot_id IN (SELECT id FROM bot_instances WHERE type = :trade_type))
  AND (:since::date IS NULL OR day >= :since) AND (:until::date IS NULL OR day <= :until)
GROUP BY bucket
ORDER BY bucket;

-- name: closed_trade_count_of_bot(bot_id, symbol, trade_type, since, until) :one
-- How many of one bot's closed trades match the filters: its primary key
-- range (bot_id, day), about a tenth of the table with ten bots.
SELECT coalesce(sum(trades), 0)::bigint AS trades
FROM closed_trade_stats
WHERE bot_id = :bot_id
  AND (:since::date IS NULL OR day >= :since) AND (:until::date IS NULL OR day <= :until)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR EXISTS (SELECT 1 FROM bot_instances WHERE id = :bot_id AND type = :trade_type));

-- name: pnl_distribution_of_bot(bot_id, symbol, trade_type, since, until) :many
-- One bot's matching closed trades per pnl_percentage bucket (-1: none),
-- through its primary key range as above.
SELECT bucket, sum(trades)::bigint AS trades
FROM closed_trade_stats
WHERE bot_id = :bot_id
  AND (:since::date IS NULL OR day >= :since) AND (:until::date IS NULL OR day <= :until)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR EXISTS (SELECT 1 FROM bot_instances WHERE id = :bot_id AND type = :trade_type))
GROUP BY bucket
ORDER BY bucket;

-- name: closed_trades_per_day(bot_id, symbol, trade_type, since, until) :many
-- How many closed trades match the filters per bot and exit day: where a
-- deep page of the exit orders starts (tradedb/reports.py adds up the days,
-- then reads the page from its day on, not past every row before it).
SELECT to_char(day, 'YYYY-MM-DD') AS day, sum(trades)::bigint AS trades
FROM closed_trade_stats
WHERE (:bot_id::text IS NULL OR bot_id = :bot_id)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR bot_id IN (SELECT id FROM bot_instances WHERE type = :trade_type))
  AND (:since::date IS NULL OR day >= :since) AND (:until::date IS NULL OR day <= :until)
GROUP BY bot_id, closed_trade_stats.day;

-- name: closed_trades_per_day_all() :many
-- closed_trades_per_day without filters (the unfiltered pages), without
-- parameters for the same reason as closed_trade_count_all.
SELECT to_char(day, 'YYYY-MM-DD') AS day, sum(trades)::bigint AS trades
FROM closed_trade_stats
GROUP BY bot_id, closed_trade_stats.day;

-- name: closed_trades_per_day_of_bot(bot_id, symbol, trade_type, since, until) :many
-- The same for one bot, oldest day first, through its primary key range.
SELECT to_char(day, 'YYYY-MM-DD') AS day, sum(trades)::bigint AS trades
FROM closed_trade_stats
WHERE bot_id = :bot_id
  AND (:since::date IS NULL OR day >= :since) AND (:until::date IS NULL OR day <= :until)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR EXISTS (SELECT 1 FROM bot_instances WHERE id = :bot_id AND type = :trade_type))
GROUP BY closed_trade_stats.day
ORDER BY closed_trade_stats.day;

-- name: traded_symbols() :many
-- Every symbol with a closed or an open trade, in order: a loose index scan
-- of idx_symbol_status (symbol, status), one seek per distinct symbol and
-- one to see that it has an open or closed trade (not only cancelled ones).
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
-- broken by id so that pages never overlap. Amounts sort as numbers;
-- a missing one sorts last either way.
-- name: closed_trades_by_exit_desc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Newest exit first: walks idx_exit_time from its end.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id::text IS NULL OR bot_id = :bot_id)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND exit_time >= coalesce(:since::timestamptz, '-infinity') AND exit_time < coalesce(:until::timestamptz, 'infinity')
ORDER BY exit_time DESC, id DESC
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END OFFSET :offset::bigint;

-- name: closed_trades_by_exit_asc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Oldest exit first.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id::text IS NULL OR bot_id = :bot_id)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND exit_time >= coalesce(:since::timestamptz, '-infinity') AND exit_time < coalesce(:until::timestamptz, 'infinity')
ORDER BY exit_time, id
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END OFFSET :offset::bigint;

-- name: closed_trades_of_bot_by_exit_desc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- One bot's, newest exit first: walks its range of idx_closed_trades.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND bot_id = :bot_id
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND exit_time >= coalesce(:since::timestamptz, '-infinity') AND exit_time < coalesce(:until::timestamptz, 'infinity')
ORDER BY exit_time DESC, id DESC
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END OFFSET :offset::bigint;

-- name: closed_trades_of_bot_by_exit_asc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- One bot's, oldest exit first.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND bot_id = :bot_id
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND exit_time >= coalesce(:since::timestamptz, '-infinity') AND exit_time < coalesce(:until::timestamptz, 'infinity')
ORDER BY exit_time, id
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END OFFSET :offset::bigint;

-- name: closed_trades_by_entry_desc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Newest entry first.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id::text IS NULL OR bot_id = :bot_id)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND exit_time >= coalesce(:since::timestamptz, '-infinity') AND exit_time < coalesce(:until::timestamptz, 'infinity')
ORDER BY entry_time DESC, id DESC
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END OFFSET :offset::bigint;

-- name: closed_trades_by_entry_asc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Oldest entry first.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id::text IS NULL OR bot_id = :bot_id)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND exit_time >= coalesce(:since::timestamptz, '-infinity') AND exit_time < coalesce(:until::timestamptz, 'infinity')
ORDER BY entry_time, id
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END OFFSET :offset::bigint;

-- name: closed_trades_by_net_pnl_desc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Largest net PnL first.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id::text IS NULL OR bot_id = :bot_id)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND exit_time >= coalesce(:since::timestamptz, '-infinity') AND exit_time < coalesce(:until::timestamptz, 'infinity')
-- DESC puts NULLs first, as idx_closed_trades_net_pnl scanned backwards
-- does: the same order, a closed trade always has a net_pnl.
ORDER BY net_pnl DESC, id DESC
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END OFFSET :offset::bigint;

-- name: closed_trades_by_net_pnl_asc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Smallest (most negative) net PnL first.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id::text IS NULL OR bot_id = :bot_id)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND exit_time >= coalesce(:since::timestamptz, '-infinity') AND exit_time < coalesce(:until::timestamptz, 'infinity')
ORDER BY net_pnl NULLS LAST, id
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END OFFSET :offset::bigint;

-- name: closed_trades_by_pnl_percentage_desc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Largest PnL percentage first. idx_closed_trades_pnl_percentage scanned
-- backwards puts NULLs first, so the trades with a pnl_percentage and those
-- without are read apart (limit + offset rows each, both in index order) and
-- the page is taken from the two; the ascending order, NULLS LAST, is the
-- index's own.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM (
(SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
         symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
         sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
         exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
         exit_reason, status, extra_metadata, created_at, updated_at
 FROM trades
 WHERE status = 'closed' AND pnl_percentage IS NOT NULL
   AND (:bot_id::text IS NULL OR bot_id = :bot_id)
   AND (:symbol::text IS NULL OR symbol = :symbol)
   AND (:trade_type::text IS NULL OR trade_type = :trade_type)
   AND exit_time >= coalesce(:since::timestamptz, '-infinity') AND exit_time < coalesce(:until::timestamptz, 'infinity')
 ORDER BY pnl_percentage DESC, id DESC
 LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit + :offset::bigint END)
UNION ALL
(SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
         symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
         sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
         exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
         exit_reason, status, extra_metadata, created_at, updated_at
 FROM trades
 WHERE status = 'closed' AND pnl_percentage IS NULL
   AND (:bot_id::text IS NULL OR bot_id = :bot_id)
   AND (:symbol::text IS NULL OR symbol = :symbol)
   AND (:trade_type::text IS NULL OR trade_type = :trade_type)
   AND exit_time >= coalesce(:since::timestamptz, '-infinity') AND exit_time < coalesce(:until::timestamptz, 'infinity')
 ORDER BY id DESC
 LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit + :offset::bigint END)
) AS t
ORDER BY pnl_percentage DESC NULLS LAST, id DESC
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END OFFSET :offset::bigint;

-- name: closed_trades_by_pnl_percentage_asc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Smallest PnL percentage first.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id::text IS NULL OR bot_id = :bot_id)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND exit_time >= coalesce(:since::timestamptz, '-infinity') AND exit_time < coalesce(:until::timestamptz, 'infinity')
ORDER BY pnl_percentage NULLS LAST, id
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END OFFSET :offset::bigint;

-- The same orders for a request without exit dates (tradedb/reports.py picks
-- these when since and until are both NULL). The bounds as (:x IS NULL OR
-- ...) leave a generic plan no index range to walk. Entry orders walk
-- idx_entry_time; the amounts walk idx_closed_trades_net_pnl or
-- idx_closed_trades_pnl_percentage (migration 0006) and stop after limit +
-- offset rows (page 1: 1-4 ms, 315 ms when every closed trade was read).
-- name: closed_trades_undated_by_entry_desc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Newest entry first. Without exit dates.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id::text IS NULL OR bot_id = :bot_id)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND (:since::timestamptz IS NULL OR exit_time >= :since) AND (:until::timestamptz IS NULL OR exit_time < :until)
ORDER BY entry_time DESC, id DESC
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END OFFSET :offset::bigint;

-- name: closed_trades_undated_by_entry_asc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Oldest entry first. Without exit dates.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id::text IS NULL OR bot_id = :bot_id)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND (:since::timestamptz IS NULL OR exit_time >= :since) AND (:until::timestamptz IS NULL OR exit_time < :until)
ORDER BY entry_time, id
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END OFFSET :offset::bigint;

-- name: closed_trades_undated_by_net_pnl_desc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Largest net PnL first. Without exit dates.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id::text IS NULL OR bot_id = :bot_id)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND (:since::timestamptz IS NULL OR exit_time >= :since) AND (:until::timestamptz IS NULL OR exit_time < :until)
-- DESC puts NULLs first, as idx_closed_trades_net_pnl scanned backwards
-- does: the same order, a closed trade always has a net_pnl.
ORDER BY net_pnl DESC, id DESC
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END OFFSET :offset::bigint;

-- name: closed_trades_undated_by_net_pnl_asc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Smallest (most negative) net PnL first. Without exit dates.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id::text IS NULL OR bot_id = :bot_id)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND (:since::timestamptz IS NULL OR exit_time >= :since) AND (:until::timestamptz IS NULL OR exit_time < :until)
ORDER BY net_pnl NULLS LAST, id
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END OFFSET :offset::bigint;

-- name: closed_trades_undated_by_pnl_percentage_desc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Largest PnL percentage first. Without exit dates. Read as in
-- closed_trades_by_pnl_percentage_desc.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM (
(SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
         symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
         sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
         exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
         exit_reason, status, extra_metadata, created_at, updated_at
 FROM trades
 WHERE status = 'closed' AND pnl_percentage IS NOT NULL
   AND (:bot_id::text IS NULL OR bot_id = :bot_id)
   AND (:symbol::text IS NULL OR symbol = :symbol)
   AND (:trade_type::text IS NULL OR trade_type = :trade_type)
   AND (:since::timestamptz IS NULL OR exit_time >= :since) AND (:until::timestamptz IS NULL OR exit_time < :until)
 ORDER BY pnl_percentage DESC, id DESC
 LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit + :offset::bigint END)
UNION ALL
(SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
         symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
         sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
         exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
         exit_reason, status, extra_metadata, created_at, updated_at
 FROM trades
 WHERE status = 'closed' AND pnl_percentage IS NULL
   AND (:bot_id::text IS NULL OR bot_id = :bot_id)
   AND (:symbol::text IS NULL OR symbol = :symbol)
   AND (:trade_type::text IS NULL OR trade_type = :trade_type)
   AND (:since::timestamptz IS NULL OR exit_time >= :since) AND (:until::timestamptz IS NULL OR exit_time < :until)
 ORDER BY id DESC
 LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit + :offset::bigint END)
) AS t
ORDER BY pnl_percentage DESC NULLS LAST, id DESC
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END OFFSET :offset::bigint;

-- name: closed_trades_undated_by_pnl_percentage_asc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Smallest PnL percentage first. Without exit dates.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id::text IS NULL OR bot_id = :bot_id)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND (:since::timestamptz IS NULL OR exit_time >= :since) AND (:until::timestamptz IS NULL OR exit_time < :until)
ORDER BY pnl_percentage NULLS LAST, id
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END OFFSET :offset::bigint;

-- The amount orders without exit dates for a filter that matches few closed
-- trades (tradedb/reports.py, WALK_LIMIT; SQLite reads its table in one pass
-- for them): the same text as closed_trades_undated_by_*, as PostgreSQL's
-- custom plan weighs the filter's rows itself (statistics) and reads the bot's
-- or symbol's trades then sorts them when that is cheaper than the index walk.
-- name: closed_trades_scanned_by_net_pnl_desc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Largest net PnL first. Without exit dates, for a filter that matches few.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id::text IS NULL OR bot_id = :bot_id)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND (:since::timestamptz IS NULL OR exit_time >= :since) AND (:until::timestamptz IS NULL OR exit_time < :until)
-- DESC puts NULLs first, as idx_closed_trades_net_pnl scanned backwards
-- does: the same order, a closed trade always has a net_pnl.
ORDER BY net_pnl DESC, id DESC
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END OFFSET :offset::bigint;

-- name: closed_trades_scanned_by_net_pnl_asc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Smallest (most negative) net PnL first. Without exit dates, for a filter that matches few.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id::text IS NULL OR bot_id = :bot_id)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND (:since::timestamptz IS NULL OR exit_time >= :since) AND (:until::timestamptz IS NULL OR exit_time < :until)
ORDER BY net_pnl NULLS LAST, id
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END OFFSET :offset::bigint;

-- name: closed_trades_scanned_by_pnl_percentage_desc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Largest PnL percentage first. Without exit dates, for a filter that matches few. Read as in
-- closed_trades_by_pnl_percentage_desc.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM (
(SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
         symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
         sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
         exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
         exit_reason, status, extra_metadata, created_at, updated_at
 FROM trades
 WHERE status = 'closed' AND pnl_percentage IS NOT NULL
   AND (:bot_id::text IS NULL OR bot_id = :bot_id)
   AND (:symbol::text IS NULL OR symbol = :symbol)
   AND (:trade_type::text IS NULL OR trade_type = :trade_type)
   AND (:since::timestamptz IS NULL OR exit_time >= :since) AND (:until::timestamptz IS NULL OR exit_time < :until)
 ORDER BY pnl_percentage DESC, id DESC
 LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit + :offset::bigint END)
UNION ALL
(SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
         symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
         sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
         exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
         exit_reason, status, extra_metadata, created_at, updated_at
 FROM trades
 WHERE status = 'closed' AND pnl_percentage IS NULL
   AND (:bot_id::text IS NULL OR bot_id = :bot_id)
   AND (:symbol::text IS NULL OR symbol = :symbol)
   AND (:trade_type::text IS NULL OR trade_type = :trade_type)
   AND (:since::timestamptz IS NULL OR exit_time >= :since) AND (:until::timestamptz IS NULL OR exit_time < :until)
 ORDER BY id DESC
 LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit + :offset::bigint END)
) AS t
ORDER BY pnl_percentage DESC NULLS LAST, id DESC
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END OFFSET :offset::bigint;

-- name: closed_trades_scanned_by_pnl_percentage_asc(bot_id, symbol, trade_type, since, until, limit, offset) :many
-- Smallest PnL percentage first. Without exit dates, for a filter that matches few.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id::text IS NULL OR bot_id = :bot_id)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND (:since::timestamptz IS NULL OR exit_time >= :since) AND (:until::timestamptz IS NULL OR exit_time < :until)
ORDER BY pnl_percentage NULLS LAST, id
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END OFFSET :offset::bigint;

-- name: closed_trades_after(bot_id, symbol, trade_type, since, until, after_time, after_id, limit) :many
-- Matching closed trades in exit order after the position (after_time,
-- after_id), NULL to start: the CSV export reads the whole set this way, a
-- page per query, so no snapshot is held while a slow client downloads.
-- One lower bound on exit_time, the later of since and after_time.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed' AND (:bot_id::text IS NULL OR bot_id = :bot_id)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND exit_time >= greatest(:since::timestamptz, :after_time::timestamptz, '-infinity')
  AND exit_time < coalesce(:until::timestamptz, 'infinity')
  AND (exit_time, id) > (coalesce(:after_time::timestamptz, '-infinity'), coalesce(:after_id::uuid, '00000000-0000-0000-0000-000000000000'))
ORDER BY exit_time, id
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END;

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
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:trade_type::text IS NULL OR trade_type = :trade_type)
  AND exit_time >= greatest(:since::timestamptz, :after_time::timestamptz, '-infinity')
  AND exit_time < coalesce(:until::timestamptz, 'infinity')
  AND (exit_time, id) > (coalesce(:after_time::timestamptz, '-infinity'), coalesce(:after_id::uuid, '00000000-0000-0000-0000-000000000000'))
ORDER BY exit_time, id
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END;
