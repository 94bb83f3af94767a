-- Named queries for trades. Every query lists its columns in the order of
-- tradedb.Trade; the repository builds records from rows by position.

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
WHERE bot_id = :bot_id AND status = 'open' AND (:symbol IS NULL OR symbol = :symbol)
ORDER BY entry_time, rowid;

-- name: get_open_trades(symbol) :many
-- Every bot's open positions, oldest entry first (symbol NULL for all);
-- reads only the open trades, through idx_open_trades.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'open' AND (:symbol IS NULL OR symbol = :symbol)
ORDER BY entry_time, rowid;

-- name: get_closed_trades_of_bot(bot_id, symbol, since, until, limit) :many
-- One bot's closed trades, newest exit first; since (inclusive) and until
-- (exclusive) bound exit_time, NULL for no bound; limit -1 for all.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE bot_id = :bot_id AND status = 'closed'
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:since IS NULL OR exit_time >= :since)
  AND (:until IS NULL OR exit_time < :until)
ORDER BY exit_time DESC, rowid DESC
LIMIT :limit;

-- name: get_closed_trades(symbol, since, until, limit) :many
-- Every bot's closed trades, newest exit first, filtered as above.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE status = 'closed'
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:since IS NULL OR exit_time >= :since)
  AND (:until IS NULL OR exit_time < :until)
ORDER BY exit_time DESC, rowid DESC
LIMIT :limit;

-- name: get_trades_by_ids(ids) :many
-- The trades among a JSON array of ids, in no particular order: one query to
-- tell which of a batch's client-chosen ids exist already (idempotent retries).
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE id IN (SELECT value FROM json_each(:ids));

-- name: get_trades_page(after, bot_id, symbol, status, page_size) :many
-- One page of trades in storage order, for streaming every trade (exports)
-- with flat memory: pass the last page's final position as `after` (0 to
-- start); NULL filters match all. Each page reads the last commit.
-- stored_bytes is the size of the row's free-form text (the caller stops
-- reading once a page holds enough of it: rows vary from 1 KB to over 1 MB).
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at, rowid AS position,
       ifnull(ifnull(length(CAST(extra_metadata AS BLOB)), 0) + ifnull(length(CAST(strategy_name AS BLOB)), 0)
         + ifnull(length(CAST(exit_reason AS BLOB)), 0) + length(CAST(bot_id AS BLOB))
         + length(CAST(entry_logic_name AS BLOB)) + length(CAST(exit_logic_name AS BLOB))
         + length(CAST(symbol AS BLOB)) + length(CAST(interval AS BLOB)), 0) AS stored_bytes
FROM trades
WHERE rowid > :after
  AND (:bot_id IS NULL OR bot_id = :bot_id)
  AND (:symbol IS NULL OR symbol = :symbol)
  AND (:status IS NULL OR status = :status)
ORDER BY rowid
LIMIT :page_size;

-- name: get_trade_for_update(id) :one
-- A trade about to be written back. On SQLite the transaction holds the
-- database's write lock already, so this is get_trade_by_id.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE id = :id;
