-- Named queries for trades, in PostgreSQL's words (the shared ones are in
-- sql/queries/trades.sql). Every query lists its columns in the order of
-- tradedb.Trade; the repository builds records from rows by position.
--
-- What SQLite's versions say with rowid, these say with other columns:
-- ties in time go by created_at, then id (SQLite's rowid is the order rows
-- were stored in, which created_at follows; rows stored in one call share
-- created_at and then go by id). A parameter that may be NULL is cast, so
-- that PostgreSQL knows its type; SQLite sorts NULL first, PostgreSQL last
-- unless told (NULLS FIRST).

-- name: get_open_trades_of_bot(bot_id, symbol) :many
-- One bot's open positions, oldest entry first, ties in the order stored
-- (symbol NULL for all).
-- The literal status = 'open' lets the planner use the partial index
-- idx_open_trades, so the bot's closed history is never read.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE bot_id = :bot_id AND status = 'open' AND (:symbol::text IS NULL OR symbol = :symbol)
ORDER BY entry_time NULLS FIRST, created_at, id;

-- name: get_open_trades(symbol) :many
-- Every bot's open positions, oldest entry first (symbol NULL for all);
-- reads only the open trades, through idx_open_trades_by_entry.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'open' AND (:symbol::text IS NULL OR symbol = :symbol)
ORDER BY entry_time NULLS FIRST, created_at, id;

-- name: get_closed_trades_of_bot(bot_id, symbol, since, until, limit) :many
-- One bot's closed trades, newest exit first; since (inclusive) and until
-- (exclusive) bound exit_time, NULL for no bound; limit -1 (any negative,
-- as on SQLite) for all. A closed trade always has its exit_time.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE bot_id = :bot_id AND status = 'closed'
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:since::timestamptz IS NULL OR exit_time >= :since)
  AND (:until::timestamptz IS NULL OR exit_time < :until)
ORDER BY exit_time DESC, created_at DESC, id DESC
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END;

-- name: get_closed_trades(symbol, since, until, limit) :many
-- Every bot's closed trades, newest exit first, filtered as above.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed'
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:since::timestamptz IS NULL OR exit_time >= :since)
  AND (:until::timestamptz IS NULL OR exit_time < :until)
ORDER BY exit_time DESC, created_at DESC, id DESC
LIMIT CASE WHEN :limit::bigint >= 0 THEN :limit END;

-- name: get_trades_by_ids(ids) :many
-- The trades among a JSON array of ids, in no particular order: one query to
-- tell which of a batch's client-chosen ids exist already (idempotent retries).
-- Each id is looked up in the primary key (= ANY of an array, which the
-- planner sends to the index; a join with the ids scanned the table).
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE id = ANY (ARRAY(SELECT CAST(value AS uuid) FROM jsonb_array_elements_text(:ids::jsonb) AS ids (value)));

-- name: get_trades_page(after, bot_id, symbol, status, page_size) :many
-- One page of trades in id order (PostgreSQL has no storage order that
-- holds still, as SQLite's rowid does: ids never change, so a trade updated
-- while pages are read is neither missed nor read twice), for streaming
-- every trade (exports) with flat memory: pass the last page's final
-- position (its id, as text) as `after` (0 to start); NULL filters match
-- all. Each page reads the last commit, through the primary key's index.
-- stored_bytes is the size of the row's free-form text as the client
-- receives it (extra_metadata as JSONB's text), in bytes.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at, CAST(id AS text) AS position,
       coalesce(coalesce(CAST(octet_length(CAST(extra_metadata AS text)) AS bigint), 0)
         + coalesce(octet_length(strategy_name), 0) + coalesce(octet_length(exit_reason), 0)
         + octet_length(bot_id) + octet_length(entry_logic_name) + octet_length(exit_logic_name)
         + octet_length(symbol) + octet_length(interval), 0) AS stored_bytes
FROM trades
WHERE id > CAST(coalesce(nullif(:after::text, '0'), '00000000-0000-0000-0000-000000000000') AS uuid)
  AND (:bot_id::text IS NULL OR bot_id = :bot_id)
  AND (:symbol::text IS NULL OR symbol = :symbol)
  AND (:status::text IS NULL OR status = :status)
ORDER BY id
LIMIT :page_size::bigint;

-- name: get_trade_for_update(id) :one
-- A trade about to be written back, its row locked until the transaction
-- ends: a concurrent update or close of the same trade waits, then reads
-- what this one wrote. Units lock a trade before its bot, always.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE id = :id
FOR NO KEY UPDATE;
