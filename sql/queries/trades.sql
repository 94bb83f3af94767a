-- Named queries for trades. Every query lists its columns in the order of
-- tradedb.Trade; the repository builds records from rows by position.

-- name: insert_trade(id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name, symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed, sell_order_created, sell_order_closed, entry_price, exit_price, entry_value, exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction, exit_reason, status, extra_metadata, created_at, updated_at) :exec
-- Store a new trade, every column given (tradedb sets created_at and
-- updated_at itself, to the microsecond). Also used with executemany.
-- A trade whose id is stored already is left as it is (0 rows changed): a
-- retried create is then compared with the stored trade, not refused here.
INSERT INTO trades (
    id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
    symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
    sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
    exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
    exit_reason, status, extra_metadata, created_at, updated_at
) VALUES (
    :id, :bot_id, :trade_type, :strategy_name, :entry_logic_name, :exit_logic_name,
    :symbol, :interval, :entry_time, :exit_time, :buy_order_created, :buy_order_closed,
    :sell_order_created, :sell_order_closed, :entry_price, :exit_price, :entry_value,
    :exit_value, :size, :commission, :gross_pnl, :net_pnl, :pnl_percentage, :direction,
    :exit_reason, :status, :extra_metadata, :created_at, :updated_at
)
ON CONFLICT (id) DO NOTHING;

-- name: get_trade_by_id(id) :one
-- One trade by its id.
SELECT id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name,
       symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed,
       sell_order_created, sell_order_closed, entry_price, exit_price, entry_value,
       exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction,
       exit_reason, status, extra_metadata, created_at, updated_at
FROM trades
WHERE id = :id;

-- name: update_trade(id, bot_id, trade_type, strategy_name, entry_logic_name, exit_logic_name, symbol, interval, entry_time, exit_time, buy_order_created, buy_order_closed, sell_order_created, sell_order_closed, entry_price, exit_price, entry_value, exit_value, size, commission, gross_pnl, net_pnl, pnl_percentage, direction, exit_reason, status, extra_metadata, updated_at) :exec
-- Write a trade's whole row back. The repository merges a caller's changes
-- into the current row, so no SQL is ever built from the names of the
-- changed columns.
UPDATE trades
SET bot_id = :bot_id, trade_type = :trade_type, strategy_name = :strategy_name,
    entry_logic_name = :entry_logic_name, exit_logic_name = :exit_logic_name,
    symbol = :symbol, interval = :interval, entry_time = :entry_time,
    exit_time = :exit_time, buy_order_created = :buy_order_created,
    buy_order_closed = :buy_order_closed, sell_order_created = :sell_order_created,
    sell_order_closed = :sell_order_closed, entry_price = :entry_price,
    exit_price = :exit_price, entry_value = :entry_value, exit_value = :exit_value,
    size = :size, commission = :commission, gross_pnl = :gross_pnl,
    net_pnl = :net_pnl, pnl_percentage = :pnl_percentage, direction = :direction,
    exit_reason = :exit_reason, status = :status, extra_metadata = :extra_metadata,
    updated_at = :updated_at
WHERE id = :id;

-- name: close_trade(id, exit_price, exit_time, exit_value, commission, gross_pnl, net_pnl, pnl_percentage, exit_reason, updated_at) :exec
-- Record an open trade's exit and settled PnL. Only the closing columns are
-- set, so SQLite skips the indexes and checks of the others.
UPDATE trades
SET status = 'closed', exit_price = :exit_price, exit_time = :exit_time,
    exit_value = :exit_value, commission = :commission, gross_pnl = :gross_pnl,
    net_pnl = :net_pnl, pnl_percentage = :pnl_percentage, exit_reason = :exit_reason,
    updated_at = :updated_at
WHERE id = :id AND status = 'open';

-- name: cancel_trade(id, exit_time, exit_reason, updated_at) :exec
-- Mark an open trade cancelled.
UPDATE trades
SET status = 'cancelled', exit_time = :exit_time, exit_reason = :exit_reason, updated_at = :updated_at
WHERE id = :id AND status = 'open';
